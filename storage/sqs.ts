/**
 * The inbox queue on SQS standard (or an emulator at `AWS_ENDPOINT_URL`: moto has SQS).
 * Sends go in SendMessageBatch requests of 10, deletes in DeleteMessageBatch of 10.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import { UnavailableError } from '../core/errors.js';
import type { InboxDelivery, InboxQueue, SqsInboxAddress } from '../core/inbox/queue.js';
import { regionOfQueueUrl } from './inbox-address.js';

export { regionOfQueueUrl };

/**
 * The SQS commands, loaded on first use: a function bundle that never touches the inbox (fetch,
 * admin, groups) leaves the SQS client out and must not import it (lib/handler-bundles.ts).
 */
const commands = () => import('@aws-sdk/client-sqs');

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * @example
 * const queue = new SqsInboxQueue(process.env.SLUICE_INBOX_URL!, new SQSClient({}));
 * const [id] = await queue.send([body]);
 */
export class SqsInboxQueue implements InboxQueue {
  readonly address: SqsInboxAddress;
  constructor(
    readonly queueUrl: string,
    readonly client: SQSClient,
    /** The region clients sign for; by default read from the URL, else AWS_REGION. */
    region?: string,
  ) {
    this.address = { type: 'sqs', queueUrl, region: region ?? regionOfQueueUrl(queueUrl) };
  }

  async send(bodies: readonly string[]): Promise<string[]> {
    const { SendMessageBatchCommand } = await commands();
    const ids: string[] = [];
    for (const chunk of chunks(bodies, 10)) {
      const out = await this.client.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: chunk.map((body, i) => ({ Id: String(i), MessageBody: body })),
        }),
      );
      if (out.Failed?.length) {
        throw new UnavailableError(
          `the inbox refused ${out.Failed.length} message(s): ${out.Failed[0]!.Message}`,
        );
      }
      const byId = new Map((out.Successful ?? []).map((s) => [s.Id, s.MessageId!]));
      for (let i = 0; i < chunk.length; i++) ids.push(byId.get(String(i))!);
    }
    return ids;
  }

  async receive(max: number, waitMs = 0): Promise<InboxDelivery[]> {
    const { ReceiveMessageCommand } = await commands();
    const out = await this.client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.queueUrl,
        MaxNumberOfMessages: Math.min(10, max),
        WaitTimeSeconds: Math.min(20, Math.ceil(waitMs / 1000)),
        MessageSystemAttributeNames: [
          'SentTimestamp',
          'ApproximateFirstReceiveTimestamp',
          'ApproximateReceiveCount',
        ],
      }),
    );
    return (out.Messages ?? []).map((m) => {
      const a = m.Attributes ?? {};
      const sentAt = Number(a.SentTimestamp ?? Date.now());
      return {
        messageId: m.MessageId!,
        receipt: m.ReceiptHandle!,
        body: m.Body ?? '',
        sentAt,
        firstReceivedAt: Number(a.ApproximateFirstReceiveTimestamp ?? sentAt),
        receiveCount: Number(a.ApproximateReceiveCount ?? 1),
      };
    });
  }

  async delete(receipts: readonly string[]): Promise<void> {
    const { DeleteMessageBatchCommand } = await commands();
    for (const chunk of chunks(receipts, 10)) {
      await this.client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: chunk.map((ReceiptHandle, i) => ({ Id: String(i), ReceiptHandle })),
        }),
      );
    }
  }

  async release(receipts: readonly string[], delayMs: number): Promise<void> {
    const { ChangeMessageVisibilityBatchCommand } = await commands();
    for (const chunk of chunks(receipts, 10)) {
      await this.client.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: chunk.map((ReceiptHandle, i) => ({
            Id: String(i),
            ReceiptHandle,
            VisibilityTimeout: Math.ceil(delayMs / 1000),
          })),
        }),
      );
    }
  }
}
