/**
 * Turning queued sends into one binary produce request: per partition, the records of
 * every send in queue order, cut into batches that fit the topic's `max.message.bytes`
 * once compressed (`sizing.ts`), numbered with the producer's sequences — contiguous
 * across the batches of a partition.
 */
import { Compression, encodeBatch, type RecordInput } from '../../core/records/index.js';
import { encodeProduceFrames } from '../../core/wire.js';
import { RecordTooLargeError, SluiceArgumentError } from '../errors.js';
import { cutBatches } from './sizing.js';

export const MAX_SEQUENCE = 0x7fffffff;

export interface QueuedRecord {
  topic: string;
  partition: number;
  record: RecordInput;
  /** An upper bound of its bytes in an uncompressed batch (`recordBound`). */
  size: number;
  /** The topic's `max.message.bytes` when the record was placed. */
  limit: number;
  /** Its position in its send: `messages[index]` (of `topicMessages[topicIndex]` for sendBatch). */
  index: number;
  topicIndex: number;
  /** Whether the send was a `sendBatch` (for naming the record). */
  batch?: boolean;
}

/** How a record is named in errors: `messages[3]`, or `topicMessages[1].messages[3]` of a sendBatch. */
export function recordName(r: QueuedRecord): string {
  return r.batch ? `topicMessages[${r.topicIndex}].messages[${r.index}]` : `messages[${r.index}]`;
}

/**
 * The error for a record that cannot fit alone: a batch of its topic (`max.message.bytes`),
 * or an inbox message (`inbox`).
 */
export function recordTooLarge(
  r: QueuedRecord,
  bytes: number,
  limit = r.limit,
  what: 'batch' | 'inbox' = 'batch',
): RecordTooLargeError {
  const why =
    what === 'batch'
      ? `is ${bytes} bytes as a batch of its own; topic '${r.topic}' accepts at most ${limit} (max.message.bytes)`
      : `takes ${bytes} bytes of an inbox message, which holds at most ${limit} bytes of records (256 KiB per message, less the JSON and base64 around them): send it with acks=all`;
  return new RecordTooLargeError(
    `${recordName(r)} (topic '${r.topic}', partition ${r.partition}) ${why}; nothing of this send was sent`,
    r.topic,
    r.partition,
    r.index,
    bytes,
    limit,
    r.topicIndex,
  );
}

export interface Job {
  records: QueuedRecord[];
  /** `topic\0partition` of every partition the job writes. */
  partitions: Set<string>;
  bytes: number;
  compression: Compression;
  /** Queued at (ms), for linger. */
  at: number;
  /** Must travel alone (after a request it shared failed for a reason that may be its own). */
  alone: boolean;
  resolve(results: PartitionResult[]): void;
  reject(err: unknown): void;
}

/** One partition's part of a job's result. */
export interface PartitionResult {
  topic: string;
  partition: number;
  baseOffset: number;
  logAppendTime: number;
}

export const tpKey = (topic: string, partition: number) => `${topic}\u0000${partition}`;

export interface PartitionRun {
  topic: string;
  partition: number;
  key: string;
  /** Base sequence of the run's first record (-1 when not idempotent). */
  baseSequence: number;
  count: number;
  /** For each job in the run, the index of its first record within the run. */
  jobStarts: Map<Job, number>;
}

export interface BuiltRequest {
  body: Uint8Array;
  runs: PartitionRun[];
}

export interface ProducerIdentity {
  producerId: bigint;
  epoch: number;
  /** Next sequence per partition key. */
  sequences: Map<string, number>;
}

/**
 * Encodes the jobs' records as frames; with an identity, batch headers carry the producer
 * id, epoch and base sequences (contiguous across the batches of a partition).
 *
 * @example
 * const { body, runs } = buildRequest(jobs, identity, Date.now());
 */
export function buildRequest(
  jobs: readonly Job[],
  identity: ProducerIdentity | undefined,
  now: number,
): BuiltRequest {
  const byTp = new Map<
    string,
    {
      topic: string;
      partition: number;
      items: { queued: QueuedRecord; compression: Compression }[];
      run: PartitionRun;
    }
  >();
  for (const job of jobs) {
    for (const r of job.records) {
      const key = tpKey(r.topic, r.partition);
      let entry = byTp.get(key);
      if (!entry) {
        const baseSequence = identity ? (identity.sequences.get(key) ?? 0) : -1;
        entry = {
          topic: r.topic,
          partition: r.partition,
          items: [],
          run: { topic: r.topic, partition: r.partition, key, baseSequence, count: 0, jobStarts: new Map() },
        };
        byTp.set(key, entry);
      }
      if (!entry.run.jobStarts.has(job)) entry.run.jobStarts.set(job, entry.items.length);
      entry.items.push({ queued: r, compression: job.compression });
    }
  }
  const frames: { topic: string; partition: number; batch: Uint8Array }[] = [];
  for (const { topic, partition, items, run } of byTp.values()) {
    run.count = items.length;
    // The strictest limit any of the partition's records was placed under.
    const limit = Math.min(...items.map((i) => i.queued.limit));
    let start = 0;
    while (start < items.length) {
      // One stretch of records sharing a codec, cut into batches under the limit.
      const compression = items[start]!.compression;
      let end = start + 1;
      while (end < items.length && items[end]!.compression === compression) end++;
      const stretch = items.slice(start, end);
      const offset = start;
      const batches = cutBatches(
        stretch.map((i) => i.queued.record),
        now,
        limit,
        (from, to) =>
          encodeBatch(
            stretch.slice(from, to).map((i) => i.queued.record),
            {
              compression,
              now,
              ...(identity && {
                producerId: identity.producerId,
                producerEpoch: identity.epoch,
                baseSequence: (run.baseSequence + offset + from) % (MAX_SEQUENCE + 1),
              }),
            },
          ),
        (index, bytes) => recordTooLarge(stretch[index]!.queued, bytes, limit),
      );
      for (const batch of batches) frames.push({ topic, partition, batch });
      start = end;
    }
  }
  return { body: encodeProduceFrames(frames), runs: [...byTp.values()].map((e) => e.run) };
}

/** The codec for a compression option. */
export function compressionOf(option: unknown): Compression {
  if (option === undefined || option === null) return Compression.None;
  if (typeof option === 'number' && option >= 0 && option <= 4 && Number.isInteger(option)) return option;
  const byName: Record<string, Compression> = {
    none: Compression.None,
    gzip: Compression.Gzip,
    snappy: Compression.Snappy,
    lz4: Compression.Lz4,
    zstd: Compression.Zstd,
  };
  const found = typeof option === 'string' ? byName[option.toLowerCase()] : undefined;
  if (found === undefined) {
    throw new SluiceArgumentError(
      `unknown compression '${String(option)}': use none, gzip, snappy, lz4 or zstd`,
    );
  }
  return found;
}
