/**
 * Turning queued sends into one binary produce request: per partition, the records of
 * every send in queue order, cut into batches that fit a topic's default
 * `max.message.bytes`, numbered with the producer's sequences.
 */
import { Compression, encodeBatch, type RecordInput } from '../../core/records/index.js';
import { encodeProduceFrames } from '../../core/wire.js';
import { SluiceArgumentError } from '../errors.js';

/** Batches stay under Kafka's (and Sluice's) default max.message.bytes of 1 MiB + 12. */
export const MAX_BATCH_BYTES = 1_000_000;
export const MAX_SEQUENCE = 0x7fffffff;

export interface QueuedRecord {
  topic: string;
  partition: number;
  record: RecordInput;
  size: number;
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
      items: { record: RecordInput; size: number; compression: Compression }[];
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
      entry.items.push({ record: r.record, size: r.size, compression: job.compression });
    }
  }
  const frames: { topic: string; partition: number; batch: Uint8Array }[] = [];
  for (const { topic, partition, items, run } of byTp.values()) {
    run.count = items.length;
    let start = 0;
    while (start < items.length) {
      let end = start + 1;
      let bytes = items[start]!.size;
      while (
        end < items.length &&
        items[end]!.compression === items[start]!.compression &&
        bytes + items[end]!.size <= MAX_BATCH_BYTES
      ) {
        bytes += items[end]!.size;
        end++;
      }
      const batch = encodeBatch(
        items.slice(start, end).map((i) => i.record),
        {
          compression: items[start]!.compression,
          now,
          ...(identity && {
            producerId: identity.producerId,
            producerEpoch: identity.epoch,
            baseSequence: (run.baseSequence + start) % (MAX_SEQUENCE + 1),
          }),
        },
      );
      frames.push({ topic, partition, batch });
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
