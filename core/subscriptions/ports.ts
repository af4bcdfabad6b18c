/**
 * What the dispatcher needs from the outside world, injected so the same dispatcher runs in
 * AWS (Lambda `Invoke`, SQS `SendMessage`: `lambdas/subscriptions/`) and in `sluice dev`
 * (a module imported in-process, a local file).
 */
import type { SubscriptionEvent } from './event.js';

/** What came back from one invocation. */
export type InvokeOutcome =
  /** The function returned; `response` is its result (parsed JSON), if any. */
  | { ok: true; response: unknown }
  /** The function threw, timed out or could not be invoked; the batch failed as a whole. */
  | { ok: false; error: string };

/** Invokes a subscription's function synchronously (Lambda `RequestResponse`). */
export interface InvokeTarget {
  invoke(target: string, event: SubscriptionEvent): Promise<InvokeOutcome>;
}

/**
 * What a subscription sends to its `onFailure` destination for records it gave up on: their
 * coordinates (never silently skipped), in the spirit of Lambda's invocation record for
 * stream sources.
 */
export interface FailureRecord {
  subscription: string;
  groupId: string;
  topic: string;
  partition: number;
  /** First and last offset of the records given up on (inclusive). */
  startOffset: number;
  endOffset: number;
  /** Records in the range (compaction may leave gaps). */
  recordCount: number;
  /** `RetryAttemptsExhausted` or `RecordAgeExceeded`. */
  condition: 'RetryAttemptsExhausted' | 'RecordAgeExceeded';
  /** The last error, when the function failed. */
  error: string | null;
  /** Invocations of these records (0 when they aged out before any). */
  attempts: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
}

/** Sends failure records to a destination (SQS queue in AWS). Must be durable once it resolves. */
export interface FailureDestination {
  send(destination: string, record: FailureRecord): Promise<void>;
}
