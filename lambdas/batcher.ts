/**
 * The inbox batcher function: an SQS event source mapping delivers batches of inbox
 * messages (up to 10,000, gathered for up to the batching window); this commits them
 * (`core/inbox/batcher.ts`) and reports held-back and invalid messages as batch item
 * failures, so SQS redelivers them (and, after `maxReceiveCount`, moves them to the
 * dead-letter queue). Both are made visible again after {@link INBOX_HOLD_BACK_MS}
 * (ChangeMessageVisibility), not after the queue's visibility timeout: a held-back message
 * waits for a predecessor in a later batch, and an invalid one reaches the dead-letter
 * queue (and its alarm) in minutes. Everything else is deleted by the mapping once this
 * returns.
 * Publishes InboxAge (ms, the oldest committed message) per invocation.
 */
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { InboxBatcher } from '../core/inbox/batcher.js';
import { INBOX_HOLD_BACK_MS, type InboxDelivery } from '../core/inbox/queue.js';
import { getContext, type SluiceContext } from './context.js';

export function deliveriesOf(event: SQSEvent): InboxDelivery[] {
  return event.Records.map((r) => {
    const sentAt = Number(r.attributes.SentTimestamp);
    return {
      messageId: r.messageId,
      receipt: r.receiptHandle,
      body: r.body,
      sentAt,
      firstReceivedAt: Number(r.attributes.ApproximateFirstReceiveTimestamp ?? sentAt),
      receiveCount: Number(r.attributes.ApproximateReceiveCount ?? 1),
    };
  });
}

export function createBatcherHandler(context: () => Promise<SluiceContext>) {
  let batcher: InboxBatcher | undefined;
  return async (event: SQSEvent): Promise<SQSBatchResponse> => {
    const ctx = await context();
    batcher ??= new InboxBatcher(ctx);
    const outcome = await batcher.commit(deliveriesOf(event));
    for (const { delivery, error } of outcome.invalid) {
      ctx.telemetry.logger.warn('inbox message refused', { messageId: delivery.messageId, error });
    }
    ctx.telemetry.logger.info('inbox batch', {
      committed: outcome.committed.length,
      duplicates: outcome.duplicates.length,
      heldBack: outcome.heldBack.length,
      invalid: outcome.invalid.length,
      inboxAgeMs: outcome.oldestAgeMs,
    });
    for (const r of outcome.results) ctx.telemetry.count(r.topic, 'RecordsIn', r.count);
    ctx.telemetry.gauge('_inbox', 'InboxAge', outcome.oldestAgeMs);
    ctx.telemetry.flush();
    const failures = [...outcome.heldBack, ...outcome.invalid.map((i) => i.delivery)];
    if (failures.length > 0) {
      // Back in a second, not after the visibility timeout (minutes). Best effort: if this
      // fails they come back after the timeout all the same.
      const queue = await ctx.inbox();
      await queue
        ?.release(
          failures.map((d) => d.receipt),
          INBOX_HOLD_BACK_MS,
        )
        .catch((error: unknown) =>
          ctx.telemetry.logger.warn('could not release inbox messages early', { error: String(error) }),
        );
    }
    return {
      batchItemFailures: failures.map((d) => ({ itemIdentifier: d.messageId })),
    };
  };
}

export const handler = createBatcherHandler(getContext);
