/**
 * Fault injection for the inbox, reproducible by call count:
 *
 * - {@link ThrottlingInboxQueue}: a decorator on the queue port (what the batcher drains):
 *   every n-th receive or delete fails with THROTTLED before reaching the queue, as SQS
 *   answers `RequestThrottled` (the AWS adapter maps it to the same error).
 * - {@link sqsFaults}: an HTTP-level decorator on the SDK's transport to SQS: throttled
 *   (400 `RequestThrottled`, nothing enqueued), a lost answer (500 after the queue took the
 *   messages), and partial failures (`Failed` entries with `SenderFault: false` for
 *   messages the queue did take). Requests reach the real queue (moto) unchanged.
 */
import { ThrottledError } from '../../core/errors.js';
import type { InboxDelivery, InboxQueue } from '../../core/inbox/queue.js';
import type { Transport } from '../../sdk/transport/types.js';

export class ThrottlingInboxQueue implements InboxQueue {
  readonly calls = { receive: 0, delete: 0 };
  readonly throttled = { receive: 0, delete: 0 };
  /**
   * Throttles the `every`-th calls of each kind: calls `first`, `first + every`, … (`first`
   * defaults to `every`). A schedule that must fault however few calls a run makes (the
   * batcher's receives and deletes follow timing) starts at 1.
   */
  constructor(
    readonly inner: InboxQueue,
    private readonly every: { receive: number; delete: number },
    private readonly first: { receive?: number; delete?: number } = {},
  ) {}

  private throttles(kind: 'receive' | 'delete'): boolean {
    const call = ++this.calls[kind];
    const first = this.first[kind] ?? this.every[kind];
    return call >= first && (call - first) % this.every[kind] === 0;
  }

  get address() {
    return this.inner.address;
  }

  send(bodies: readonly string[]): Promise<string[]> {
    return this.inner.send(bodies);
  }

  async receive(max: number, waitMs?: number): Promise<InboxDelivery[]> {
    if (this.throttles('receive')) {
      this.throttled.receive++;
      throw new ThrottledError('inbox receive throttled (injected)');
    }
    return this.inner.receive(max, waitMs);
  }

  async delete(receipts: readonly string[]): Promise<void> {
    if (this.throttles('delete')) {
      this.throttled.delete++;
      throw new ThrottledError('inbox delete throttled (injected)');
    }
    return this.inner.delete(receipts);
  }

  release(receipts: readonly string[], delayMs: number): Promise<void> {
    return this.inner.release(receipts, delayMs);
  }
}

export interface SqsFaultCounts {
  /** SendMessageBatch requests the SDK made (retries included). */
  requests: number;
  /** Messages in them. */
  entries: number;
  throttled: number;
  /** Answered 500 although the queue took the messages. */
  lostAnswers: number;
  /** Entries reported Failed although the queue took them. */
  partialFailures: number;
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

/** Wraps `inner` (the real transport to SQS); every 4th request is throttled, every 4th from the 3rd fails after landing. */
export function sqsFaults(inner: Transport): { transport: Transport; counts: SqsFaultCounts } {
  const counts: SqsFaultCounts = {
    requests: 0,
    entries: 0,
    throttled: 0,
    lostAnswers: 0,
    partialFailures: 0,
  };
  const transport: Transport = async (req) => {
    if (req.headers['x-amz-target'] !== 'AmazonSQS.SendMessageBatch') return inner(req);
    const n = ++counts.requests;
    const entries = (JSON.parse(utf8d.decode(req.body)) as { Entries: unknown[] }).Entries.length;
    counts.entries += entries;
    if (n % 4 === 1) {
      counts.throttled++;
      return {
        status: 400,
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amzn-query-error': 'AWS.SimpleQueueService.RequestThrottled;Sender',
        },
        body: utf8.encode(
          JSON.stringify({ __type: 'com.amazonaws.sqs#RequestThrottled', message: 'Rate exceeded' }),
        ),
      };
    }
    const res = await inner(req);
    if (n % 4 !== 3 || res.status !== 200) return res;
    if (entries === 1) {
      counts.lostAnswers++;
      return {
        status: 500,
        headers: { 'content-type': 'application/x-amz-json-1.0' },
        body: utf8.encode(JSON.stringify({ __type: 'com.amazonaws.sqs#InternalError', message: 'injected' })),
      };
    }
    const answer = JSON.parse(utf8d.decode(res.body)) as {
      Successful: { Id: string; MessageId: string }[];
      Failed?: unknown[];
    };
    const lost = answer.Successful.pop()!;
    counts.partialFailures++;
    answer.Failed = [
      ...(answer.Failed ?? []),
      { Id: lost.Id, SenderFault: false, Code: 'InternalError', Message: 'injected' },
    ];
    return { ...res, body: utf8.encode(JSON.stringify(answer)) };
  };
  return { transport, counts };
}

export type KinesisFaultCounts = SqsFaultCounts;

/**
 * Wraps `inner` (the real transport to Kinesis) as {@link sqsFaults} wraps SQS's: every 4th
 * PutRecords is throttled (400 `ProvisionedThroughputExceededException`, nothing put); every
 * 4th from the 3rd, after landing, answers 500 (one record) or reports its last record as
 * refused with `ProvisionedThroughputExceededException` (several) — so the SDK puts again
 * what the stream holds, and the batcher sees the duplicates.
 */
export function kinesisFaults(inner: Transport): { transport: Transport; counts: KinesisFaultCounts } {
  const counts: KinesisFaultCounts = {
    requests: 0,
    entries: 0,
    throttled: 0,
    lostAnswers: 0,
    partialFailures: 0,
  };
  const transport: Transport = async (req) => {
    if (req.headers['x-amz-target'] !== 'Kinesis_20131202.PutRecords') return inner(req);
    const n = ++counts.requests;
    const entries = (JSON.parse(utf8d.decode(req.body)) as { Records: unknown[] }).Records.length;
    counts.entries += entries;
    if (n % 4 === 1) {
      counts.throttled++;
      return {
        status: 400,
        headers: { 'content-type': 'application/x-amz-json-1.1' },
        body: utf8.encode(
          JSON.stringify({
            __type: 'ProvisionedThroughputExceededException',
            message: 'Rate exceeded for shard shardId-000000000000 (injected)',
          }),
        ),
      };
    }
    const res = await inner(req);
    if (n % 4 !== 3 || res.status !== 200) return res;
    if (entries === 1) {
      counts.lostAnswers++;
      return {
        status: 500,
        headers: { 'content-type': 'application/x-amz-json-1.1' },
        body: utf8.encode(JSON.stringify({ __type: 'InternalFailure', message: 'injected' })),
      };
    }
    const answer = JSON.parse(utf8d.decode(res.body)) as {
      FailedRecordCount: number;
      Records: { SequenceNumber?: string; ShardId?: string; ErrorCode?: string; ErrorMessage?: string }[];
    };
    counts.partialFailures++;
    answer.Records[answer.Records.length - 1] = {
      ErrorCode: 'ProvisionedThroughputExceededException',
      ErrorMessage: 'injected',
    };
    answer.FailedRecordCount = 1;
    return { ...res, body: utf8.encode(JSON.stringify(answer)) };
  };
  return { transport, counts };
}
