/**
 * The inbox batcher function, one handler for both inbox backends (docs/design.md,
 * "acks=1: the inbox"):
 *
 * - **SQS** — an SQS event source mapping delivers batches of inbox messages (up to 10,000,
 *   gathered for up to the batching window); this commits them (`core/inbox/batcher.ts`)
 *   and reports held-back and invalid messages as batch item failures (by message id), so
 *   SQS redelivers them (and, after `maxReceiveCount`, moves them to the dead-letter queue).
 *   Both are made visible again after {@link INBOX_HOLD_BACK_MS} (ChangeMessageVisibility),
 *   not after the queue's visibility timeout: a held-back message waits for a predecessor in
 *   a later batch, and an invalid one reaches the dead-letter queue (and its alarm) in
 *   minutes. Everything else is deleted by the mapping once this returns.
 * - **Kinesis** — a Kinesis event source mapping delivers a shard's records in sequence
 *   order. Held-back messages are reported by sequence number: the mapping retries the
 *   shard from the lowest one, and what was committed after it is found in the ledger on
 *   redelivery. A shard cannot drop one record, so an invalid message is sent to the SQS
 *   dead-letter queue at SLUICE_INBOX_DLQ_URL by this function (a JSON envelope with the
 *   error and the record's coordinates, {@link KinesisDeadLetter}) and then counts as done;
 *   only if that send fails is it reported as a failure.
 *
 * `sluice dev` drives the same handler: over the embedded queue or SQS through
 * `core/inbox/drain.ts`, over Kinesis through `bin/kinesis-inbox.ts` (which builds the
 * mapping's events). Publishes InboxAge (ms, the oldest committed message) per invocation.
 */
import type {
  KinesisStreamBatchResponse,
  KinesisStreamEvent,
  KinesisStreamRecord,
  SQSBatchResponse,
  SQSEvent,
} from 'aws-lambda';
import { type BatchOutcome, InboxBatcher } from '../core/inbox/batcher.js';
import { INBOX_HOLD_BACK_MS, type InboxDelivery, isInboxQueue } from '../core/inbox/queue.js';
import { getContext, type SluiceContext } from './context.js';

/** What either event source mapping hands the function. */
export type BatcherEvent = SQSEvent | KinesisStreamEvent;
export type BatcherResponse = SQSBatchResponse | KinesisStreamBatchResponse;

/** The body of a dead-letter message for a Kinesis record the batcher could not commit. */
export interface KinesisDeadLetter {
  /** Why the record cannot be committed (not an inbox message, an unknown partition). */
  error: string;
  /** The stream's ARN (the mapping's eventSourceARN). */
  streamArn: string;
  /** The record's eventID (`shardId-…:<sequence number>`). */
  eventId: string;
  sequenceNumber: string;
  partitionKey: string;
  /** When the stream accepted the record, ms since the epoch. */
  arrivedAt: number;
  /** The record's data as UTF-8 (cut to fit {@link MAX_DEAD_LETTER_BYTES}; `truncated` then). */
  body: string;
  truncated?: true;
}

/** A dead letter's size at most, bytes: SQS caps a message at 256 KiB; a Kinesis record may hold 1 MiB. */
export const MAX_DEAD_LETTER_BYTES = 250 * 1024;

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

/**
 * A Kinesis record as an inbox delivery: the eventID names it (the same on every
 * redelivery), its sequence number is the receipt, and it arrived — so it cannot have been
 * committed — no earlier than its approximateArrivalTimestamp (seconds, fractional).
 */
export function kinesisDeliveriesOf(event: KinesisStreamEvent): InboxDelivery[] {
  return event.Records.map((r) => {
    const arrivedAt = Math.floor(r.kinesis.approximateArrivalTimestamp * 1000);
    return {
      messageId: r.eventID,
      receipt: r.kinesis.sequenceNumber,
      body: Buffer.from(r.kinesis.data, 'base64').toString('utf8'),
      sentAt: arrivedAt,
      firstReceivedAt: arrivedAt,
      receiveCount: 1,
    };
  });
}

export function isKinesisEvent(event: BatcherEvent): event is KinesisStreamEvent {
  return (event.Records[0] as Partial<KinesisStreamRecord> | undefined)?.eventSource === 'aws:kinesis';
}

export function createBatcherHandler(context: () => Promise<SluiceContext>) {
  let batcher: InboxBatcher | undefined;
  async function commit(ctx: SluiceContext, deliveries: InboxDelivery[]): Promise<BatchOutcome> {
    batcher ??= new InboxBatcher(ctx);
    const outcome = await batcher.commit(deliveries);
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
    return outcome;
  }

  async function sqs(ctx: SluiceContext, event: SQSEvent): Promise<SQSBatchResponse> {
    const outcome = await commit(ctx, deliveriesOf(event));
    const failures = [...outcome.heldBack, ...outcome.invalid.map((i) => i.delivery)];
    if (failures.length > 0) {
      // Back in a second, not after the visibility timeout (minutes). Best effort: if this
      // fails they come back after the timeout all the same.
      const queue = await ctx.inbox();
      if (queue && isInboxQueue(queue)) {
        await queue
          .release(
            failures.map((d) => d.receipt),
            INBOX_HOLD_BACK_MS,
          )
          .catch((error: unknown) =>
            ctx.telemetry.logger.warn('could not release inbox messages early', { error: String(error) }),
          );
      }
    }
    return {
      batchItemFailures: failures.map((d) => ({ itemIdentifier: d.messageId })),
    };
  }

  async function kinesis(ctx: SluiceContext, event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> {
    const outcome = await commit(ctx, kinesisDeliveriesOf(event));
    const failures = [...outcome.heldBack];
    if (outcome.invalid.length > 0) {
      const bySequence = new Map(event.Records.map((r) => [r.kinesis.sequenceNumber, r]));
      const letters = outcome.invalid.map(({ delivery, error }) =>
        deadLetterOf(bySequence.get(delivery.receipt)!, delivery, error),
      );
      try {
        const dlq = await ctx.inboxDeadLetters();
        if (!dlq) throw new Error('SLUICE_INBOX_DLQ_URL is not set');
        await dlq.send(letters.map((l) => JSON.stringify(l)));
      } catch (error) {
        // The shard stays at the first of them until the dead-letter queue takes them.
        ctx.telemetry.logger.error('could not send invalid inbox records to the dead-letter queue', {
          error: String(error),
          sequenceNumbers: letters.map((l) => l.sequenceNumber),
        });
        failures.push(...outcome.invalid.map((i) => i.delivery));
      }
    }
    return { batchItemFailures: failures.map((d) => ({ itemIdentifier: d.receipt })) };
  }

  async function handle(event: SQSEvent): Promise<SQSBatchResponse>;
  async function handle(event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse>;
  async function handle(event: BatcherEvent): Promise<BatcherResponse>;
  async function handle(event: BatcherEvent): Promise<BatcherResponse> {
    const ctx = await context();
    return isKinesisEvent(event) ? kinesis(ctx, event) : sqs(ctx, event);
  }
  return handle;
}

function deadLetterOf(
  record: KinesisStreamRecord,
  delivery: InboxDelivery,
  error: string,
): KinesisDeadLetter {
  const letter: KinesisDeadLetter = {
    error,
    streamArn: record.eventSourceARN,
    eventId: record.eventID,
    sequenceNumber: record.kinesis.sequenceNumber,
    partitionKey: record.kinesis.partitionKey,
    arrivedAt: delivery.sentAt,
    body: delivery.body,
  };
  // Cut until the envelope fits an SQS message (escaping can grow a character to six bytes).
  while (Buffer.byteLength(JSON.stringify(letter)) > MAX_DEAD_LETTER_BYTES) {
    letter.body = letter.body.slice(0, Math.floor(letter.body.length / 2));
    letter.truncated = true;
  }
  return letter;
}

export const handler = createBatcherHandler(getContext);
