/**
 * The log engine over given stores, with virtual time and seeded randomness: what the
 * handlers build, without HTTP. For suites that drive appends and fetches directly.
 */
import { Appender, type AppendRun } from '../../core/append.js';
import { ManualClock, seededRandom } from '../../core/clock.js';
import { Reader } from '../../core/fetch.js';
import type { MetaStore, ObjectStore } from '../../core/ports.js';
import { encodeBatch, type RecordInput, verifyBatch } from '../../core/records/index.js';
import { Topics } from '../../core/topics.js';
import { MemoryMetaStore, MemoryObjectStore } from '../../storage/memory.js';

const enc = new TextEncoder();

export function engine(
  stores: { meta: MetaStore; objects: ObjectStore } = {
    meta: new MemoryMetaStore(),
    objects: new MemoryObjectStore(),
  },
  seed = 1,
) {
  const clock = new ManualClock(1_700_000_000_000, { autoAdvance: true });
  const random = seededRandom(seed);
  const topics = new Topics(stores.meta, { clock, random });
  const appender = new Appender({ ...stores, topics, clock, random });
  const reader = new Reader({ ...stores, topics, clock });
  return { ...stores, clock, random, topics, appender, reader };
}

export type Engine = ReturnType<typeof engine>;

/** `n` keyed records: keys `k<i>`, values `<prefix><i>`, timestamps from `timestamp`. */
export function records(n: number, { prefix = 'v', timestamp = 1000 } = {}): RecordInput[] {
  return Array.from({ length: n }, (_, i) => ({
    key: enc.encode(`k${i}`),
    value: enc.encode(`${prefix}${i}`),
    timestamp: timestamp + i,
  }));
}

/** One batch of `recs` as an append run, optionally from an idempotent producer. */
export function run(
  topic: string,
  partition: number,
  recs: RecordInput[],
  producer?: { id: bigint; epoch: number; seq: number },
): AppendRun {
  const bytes = encodeBatch(recs, {
    now: 0,
    ...(producer && { producerId: producer.id, producerEpoch: producer.epoch, baseSequence: producer.seq }),
  });
  return { topic, partition, batches: [verifyBatch(bytes)] };
}
