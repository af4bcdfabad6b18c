/**
 * Fault injection for the inbox, reproducible by call count:
 *
 * - {@link ThrottlingInboxQueue}: a decorator on the queue port (what the batcher drains):
 *   every n-th receive or delete fails with THROTTLED before reaching the queue, as SQS
 *   answers `RequestThrottled` (the AWS adapter maps it to the same error).
 * - {@link sqsFaults}, {@link kinesisFaults}: HTTP-level decorators on the SDK's transport to
 *   SQS or Kinesis: throttled (400 `RequestThrottled` / `ProvisionedThroughputExceededException`,
 *   nothing enqueued), a lost answer (500 after the inbox took the messages), and partial
 *   failures (entries reported refused for now that the inbox did take). Requests reach the
 *   real queue or stream (moto) unchanged.
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
  /** Batch send requests the SDK made (retries included). */
  requests: number;
  /** Messages in them. */
  entries: number;
  throttled: number;
  /** Answered 500 although the inbox took the messages. */
  lostAnswers: number;
  /** Entries reported failed although the inbox took them. */
  partialFailures: number;
}

export type KinesisFaultCounts = SqsFaultCounts;

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

/** How one inbox service's batch send is faulted (the schedule is {@link batchSendFaults}'). */
interface FaultShape {
  /** The X-Amz-Target of the batch send. */
  target: string;
  contentType: string;
  /** Entries in a request body. */
  entries(body: unknown): number;
  /** The throttling answer (nothing taken). */
  throttled: { headers?: Record<string, string>; body: unknown };
  /** The `__type` of a lost answer's 500. */
  internalError: string;
  /** Marks one entry of a successful answer as refused for now, although the inbox took it. */
  refuseOne(answer: unknown): unknown;
}

/** Every 4th request is throttled; every 4th from the 3rd, after landing, loses its answer (one entry) or has one entry reported refused. */
function batchSendFaults(
  inner: Transport,
  shape: FaultShape,
): { transport: Transport; counts: SqsFaultCounts } {
  const counts: SqsFaultCounts = {
    requests: 0,
    entries: 0,
    throttled: 0,
    lostAnswers: 0,
    partialFailures: 0,
  };
  const json = (status: number, body: unknown, headers: Record<string, string> = {}) => ({
    status,
    headers: { 'content-type': shape.contentType, ...headers },
    body: utf8.encode(JSON.stringify(body)),
  });
  const transport: Transport = async (req) => {
    if (req.headers['x-amz-target'] !== shape.target) return inner(req);
    const n = ++counts.requests;
    const entries = shape.entries(JSON.parse(utf8d.decode(req.body)));
    counts.entries += entries;
    if (n % 4 === 1) {
      counts.throttled++;
      return json(400, shape.throttled.body, shape.throttled.headers);
    }
    const res = await inner(req);
    if (n % 4 !== 3 || res.status !== 200) return res;
    if (entries === 1) {
      counts.lostAnswers++;
      return json(500, { __type: shape.internalError, message: 'injected' });
    }
    counts.partialFailures++;
    return { ...res, body: utf8.encode(JSON.stringify(shape.refuseOne(JSON.parse(utf8d.decode(res.body))))) };
  };
  return { transport, counts };
}

/** Wraps `inner` (the real transport to SQS): `RequestThrottled`, lost answers, `Failed` entries with `SenderFault: false`. */
export function sqsFaults(inner: Transport): { transport: Transport; counts: SqsFaultCounts } {
  return batchSendFaults(inner, {
    target: 'AmazonSQS.SendMessageBatch',
    contentType: 'application/x-amz-json-1.0',
    entries: (body) => (body as { Entries: unknown[] }).Entries.length,
    throttled: {
      headers: { 'x-amzn-query-error': 'AWS.SimpleQueueService.RequestThrottled;Sender' },
      body: { __type: 'com.amazonaws.sqs#RequestThrottled', message: 'Rate exceeded' },
    },
    internalError: 'com.amazonaws.sqs#InternalError',
    refuseOne(answer) {
      const a = answer as { Successful: { Id: string; MessageId: string }[]; Failed?: unknown[] };
      const lost = a.Successful.pop()!;
      a.Failed = [
        ...(a.Failed ?? []),
        { Id: lost.Id, SenderFault: false, Code: 'InternalError', Message: 'injected' },
      ];
      return a;
    },
  });
}

/**
 * Wraps `inner` (the real transport to Kinesis): PutRecords throttled
 * (`ProvisionedThroughputExceededException`, nothing put), lost answers, and a record the
 * stream took reported refused with `ProvisionedThroughputExceededException` — so the SDK
 * puts again what the stream holds, and the batcher sees the duplicates.
 */
export function kinesisFaults(inner: Transport): { transport: Transport; counts: KinesisFaultCounts } {
  return batchSendFaults(inner, {
    target: 'Kinesis_20131202.PutRecords',
    contentType: 'application/x-amz-json-1.1',
    entries: (body) => (body as { Records: unknown[] }).Records.length,
    throttled: {
      body: {
        __type: 'ProvisionedThroughputExceededException',
        message: 'Rate exceeded for shard shardId-000000000000 (injected)',
      },
    },
    internalError: 'InternalFailure',
    refuseOne(answer) {
      const a = answer as { FailedRecordCount: number; Records: Record<string, string>[] };
      a.Records[a.Records.length - 1] = {
        ErrorCode: 'ProvisionedThroughputExceededException',
        ErrorMessage: 'injected',
      };
      a.FailedRecordCount = 1;
      return a;
    },
  });
}
