/**
 * The inbox port (docs/design.md, "acks=1: the inbox"): a durable, at-least-once,
 * unordered queue — SQS standard in AWS, an SQLite table in `sluice dev`. Both adapters
 * pass the same suite (`test/inbox/`). The second backend, a Kinesis data stream, is only an
 * {@link InboxSender}: it is read by shard (`storage/kinesis.ts`).
 */

/** One message as received. */
export interface InboxDelivery {
  /** The queue's id of the message (SQS MessageId, Kinesis eventID): the same on every redelivery. */
  messageId: string;
  /** What `delete` and `release` take (SQS ReceiptHandle: changes on every delivery); Kinesis: the sequence number. */
  receipt: string;
  body: string;
  /** When the queue accepted the message, ms since the epoch (SQS SentTimestamp, Kinesis approximateArrivalTimestamp). */
  sentAt: number;
  /** When the message was first received, ms (SQS ApproximateFirstReceiveTimestamp). */
  firstReceivedAt: number;
  /** 1 on the first delivery (SQS ApproximateReceiveCount). */
  receiveCount: number;
}

/**
 * Where a client reaches the inbox itself (`GET /v1/metadata`'s `inbox`): the SDK sends
 * there directly, SigV4-signed, instead of through `POST /v1/inbox`.
 */
export type InboxAddress = SqsInboxAddress | KinesisInboxAddress;

/** An SQS standard queue: clients send with SendMessageBatch. */
export interface SqsInboxAddress {
  type: 'sqs';
  /** The SQS queue URL, e.g. `https://sqs.us-east-1.amazonaws.com/123456789012/sluice-inbox`. */
  queueUrl: string;
  /** The region to sign for. */
  region: string;
}

/**
 * A Kinesis data stream: clients put with PutRecords, one record per inbox message, under
 * the partition key of {@link inboxPartitionKey} (`core/inbox/partition-key.ts`).
 */
export interface KinesisInboxAddress {
  type: 'kinesis';
  /** The stream's ARN, e.g. `arn:aws:kinesis:us-east-1:123456789012:stream/sluice-inbox`. */
  streamArn: string;
  /** The region to sign for. */
  region: string;
}

/**
 * What accepts inbox messages: every backend. A Kinesis stream is only this (an event source
 * mapping, or `sluice dev`'s poller, reads it by shard); an {@link InboxQueue} is also received from.
 */
export interface InboxSender {
  /** Set when clients can send to the inbox directly (SQS, Kinesis); absent for the embedded queue. */
  readonly address?: InboxAddress;
  /**
   * Enqueues messages durably; resolves once the inbox holds every one (for SQS and Kinesis:
   * stored redundantly across availability zones). Returns their message ids (SQS
   * MessageId, Kinesis sequence number), in order.
   */
  send(bodies: readonly string[]): Promise<string[]>;
}

/** An inbox received from message by message (SQS standard, the embedded SQLite queue). */
export interface InboxQueue extends InboxSender {
  /**
   * Up to `max` visible messages, hidden from other receivers for the visibility timeout;
   * waits up to `waitMs` for the first one.
   */
  receive(max: number, waitMs?: number): Promise<InboxDelivery[]>;
  /** Removes received messages for good (after their events are committed). */
  delete(receipts: readonly string[]): Promise<void>;
  /** Makes received messages visible again after `delayMs` (held back, or not committed). */
  release(receipts: readonly string[], delayMs: number): Promise<void>;
}

/** True for a queue received from message by message (not a stream). */
export function isInboxQueue(inbox: InboxSender): inbox is InboxQueue {
  return typeof (inbox as Partial<InboxQueue>).receive === 'function';
}

/** SQS caps a message at 256 KiB; the SDK and `POST /v1/inbox` refuse larger ones. */
export const MAX_INBOX_MESSAGE_BYTES = 256 * 1024;

/**
 * How long the batcher hides a held-back message before it may be received again (SQS
 * ChangeMessageVisibility), ms: one receive per this interval at most.
 */
export const INBOX_HOLD_BACK_MS = 1000;
/**
 * The batcher's default order horizon, ms (`BatcherOptions.orderHorizonMs`): a predecessor
 * acknowledged longer ago than this is taken as committed, so no message is held back longer.
 */
export const INBOX_ORDER_HORIZON_MS = 5 * 60_000;
/**
 * Receives of one inbox message before SQS moves it to the dead-letter queue
 * (`maxReceiveCount`). A message waiting for its predecessor is held back at most for the
 * order horizon (plus clock skew), received at most once per {@link INBOX_HOLD_BACK_MS}, so
 * it cannot reach this count: only a message that can never be committed does (not an
 * inbox message, a partition that does not exist), or one whose batches keep failing.
 */
export const INBOX_MAX_RECEIVE_COUNT = Math.ceil((INBOX_ORDER_HORIZON_MS + 5_000) / INBOX_HOLD_BACK_MS) + 95;
