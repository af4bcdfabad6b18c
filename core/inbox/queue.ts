/**
 * The inbox port (docs/design.md, "acks=1: the inbox"): a durable, at-least-once,
 * unordered queue — SQS standard in AWS, an SQLite table in `sluice dev`. Both adapters
 * pass the same suite (`test/inbox/`).
 */

/** One message as received. */
export interface InboxDelivery {
  /** The queue's id of the message (SQS MessageId): the same on every redelivery. */
  messageId: string;
  /** What `delete` and `release` take (SQS ReceiptHandle): changes on every delivery. */
  receipt: string;
  body: string;
  /** When the queue accepted the message, ms since the epoch (SQS SentTimestamp). */
  sentAt: number;
  /** When the message was first received, ms (SQS ApproximateFirstReceiveTimestamp). */
  firstReceivedAt: number;
  /** 1 on the first delivery (SQS ApproximateReceiveCount). */
  receiveCount: number;
}

/**
 * Where a client reaches the queue itself (`GET /v1/metadata`'s `inbox`): the SDK sends
 * there directly, signed for SQS, instead of through `POST /v1/inbox`.
 */
export interface InboxAddress {
  /** The SQS queue URL, e.g. `https://sqs.us-east-1.amazonaws.com/123456789012/sluice-inbox`. */
  queueUrl: string;
  /** The region to sign for. */
  region: string;
}

export interface InboxQueue {
  /** Set when clients can send to the queue directly (SQS); absent for the embedded queue. */
  readonly address?: InboxAddress;
  /**
   * Enqueues messages durably; resolves once the queue holds every one (for SQS: stored
   * redundantly across availability zones). Returns their message ids, in order.
   */
  send(bodies: readonly string[]): Promise<string[]>;
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

/** SQS caps a message at 256 KiB; the SDK and `POST /v1/inbox` refuse larger ones. */
export const MAX_INBOX_MESSAGE_BYTES = 256 * 1024;
