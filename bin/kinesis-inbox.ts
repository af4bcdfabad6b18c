/**
 * `sluice dev` over a Kinesis inbox: a poller that does what Lambda's Kinesis event source
 * mapping does, and hands its batches to the batcher function's handler
 * (`lambdas/batcher.ts`) as the mapping's events — the same code path as in AWS.
 *
 * Per shard: GetShardIterator at TRIM_HORIZON on start (what was committed before is found
 * in the ledger, whose TTL of 5 days exceeds the stream's retention), then GetRecords about
 * once per `pollMs`, gathering records for up to `windowMs` after the first one (or
 * `maxRecords`), then one invocation. On success the shard moves past the batch; on batch
 * item failures it restarts at the lowest failed sequence number (what was committed after
 * it is found in the ledger when redelivered); when the invocation throws, at the batch's
 * first record. A shard is polled until it is closed (read to its end). Resharding is out of
 * scope here: the shards are listed once at start, so children of a split or merge made while
 * `sluice dev` runs are read after its next start (the mapping in AWS follows them).
 */
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import type { KinesisInboxQueue, ShardRecord } from '../storage/kinesis.js';

export interface KinesisPollOptions {
  /** How long to gather records after the first one, ms (the mapping's batching window). */
  windowMs: number;
  /** GetRecords interval per shard, ms. Default 1000 (Kinesis allows 5 reads/s per shard). */
  pollMs?: number;
  /** Records per invocation at most (the mapping's batch size). Default 10,000. */
  maxRecords?: number;
  /** Wait before an invocation that failed is retried, ms. Default 1000. */
  retryMs?: number;
  /** Told of read and invocation errors (the loop goes on). */
  onError?: (err: unknown) => void;
}

/** The event Lambda's Kinesis event source mapping hands the function for these records. */
export function kinesisEventOf(
  stream: { streamArn: string; region: string },
  shardId: string,
  records: readonly ShardRecord[],
): KinesisStreamEvent {
  return {
    Records: records.map((r) => ({
      awsRegion: stream.region,
      eventID: `${shardId}:${r.sequenceNumber}`,
      eventName: 'aws:kinesis:record',
      eventSource: 'aws:kinesis',
      eventSourceARN: stream.streamArn,
      eventVersion: '1.0',
      invokeIdentityArn: '',
      kinesis: {
        approximateArrivalTimestamp: r.arrivedAt / 1000,
        data: Buffer.from(r.data).toString('base64'),
        kinesisSchemaVersion: '1.0',
        partitionKey: r.partitionKey,
        sequenceNumber: r.sequenceNumber,
      },
    })),
  };
}

/** The lowest of some sequence numbers (decimal strings of up to 128 bits). */
function lowest(sequenceNumbers: readonly string[]): string {
  return sequenceNumbers.reduce((a, b) => (BigInt(b) < BigInt(a) ? b : a));
}

/**
 * Polls every shard of `stream` until stopped, calling `handle` as the mapping would.
 *
 * @example
 * const poller = startKinesisPoller(stream, createBatcherHandler(async () => ctx), { windowMs: 200 });
 * await poller.stop();
 */
export async function startKinesisPoller(
  stream: KinesisInboxQueue,
  handle: (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse>,
  options: KinesisPollOptions,
): Promise<{ stop(): Promise<void> }> {
  const pollMs = options.pollMs ?? 1000;
  const maxRecords = options.maxRecords ?? 10_000;
  const retryMs = options.retryMs ?? 1000;
  let stopped = false;
  const wakers = new Set<() => void>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(t);
        wakers.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      wakers.add(done);
    });

  async function pollShard(shardId: string): Promise<void> {
    /** Where to (re)open the shard: undefined → TRIM_HORIZON. */
    let from: { at?: string; after?: string } = {};
    let iterator: string | undefined;
    let batch: ShardRecord[] = [];
    let firstAt = 0;
    let closed = false;
    while (!stopped) {
      try {
        if (!closed && batch.length < maxRecords) {
          iterator ??= await stream.iterator(shardId, from);
          const out = await stream.read(iterator, maxRecords - batch.length);
          iterator = out.next;
          if (iterator === undefined) closed = true;
          if (out.records.length > 0 && batch.length === 0) firstAt = Date.now();
          batch.push(...out.records);
        }
        const due = batch.length >= maxRecords || closed || Date.now() - firstAt >= options.windowMs;
        if (batch.length > 0 && due) {
          const response = await handle(kinesisEventOf(stream.address, shardId, batch)).catch(
            (err: unknown) => {
              // The whole batch again, as Lambda retries a failed invocation.
              options.onError?.(err);
              return { batchItemFailures: [{ itemIdentifier: batch[0]!.sequenceNumber }] };
            },
          );
          const failed = response.batchItemFailures.map((f) => f.itemIdentifier);
          if (failed.length > 0) {
            from = { at: lowest(failed) };
            iterator = undefined;
            closed = false;
            batch = [];
            await sleep(retryMs);
            continue;
          }
          from = { after: batch.at(-1)!.sequenceNumber };
          batch = [];
        }
        if (closed && batch.length === 0) return;
      } catch (err) {
        // Read failed (throttled, iterator expired): reopen where the undone records start.
        options.onError?.(err);
        iterator = undefined;
        if (batch.length > 0) from = { at: batch[0]!.sequenceNumber };
        batch = [];
        await sleep(retryMs);
        continue;
      }
      await sleep(
        batch.length > 0 ? Math.min(pollMs, Math.max(0, firstAt + options.windowMs - Date.now())) : pollMs,
      );
    }
  }

  const shards = await stream.shards();
  const loops = shards.map((id) => pollShard(id));
  return {
    async stop() {
      stopped = true;
      for (const wake of [...wakers]) wake();
      await Promise.all(loops);
    },
  };
}
