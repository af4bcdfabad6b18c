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
