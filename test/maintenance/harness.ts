/**
 * A small engine for maintenance tests: topics, appender and reader over given stores,
 * a manual clock (virtual time: sleeps advance it) and seeded randomness, plus helpers to
 * produce records and read a partition back.
 */
import { Appender, type AppendRun, type IndexEntry } from '../../core/append.js';
import { ManualClock, seededRandom } from '../../core/clock.js';
import { Reader } from '../../core/fetch.js';
import { keys } from '../../core/keys.js';
import type { MaintenanceDeps } from '../../core/maintenance/index.js';
import type { MetaStore, ObjectStore } from '../../core/ports.js';
import { Compression, encodeBatch, type RecordInput, verifyBatch } from '../../core/records/index.js';
import { Topics } from '../../core/topics.js';
import { MemoryMetaStore, MemoryObjectStore } from '../../storage/memory.js';

export const T0 = 1_700_000_000_000;
const enc = new TextEncoder();
const dec = new TextDecoder();

export interface Engine {
  meta: MetaStore;
  objects: ObjectStore;
  clock: ManualClock;
  topics: Topics;
  appender: Appender;
  reader: Reader;
  deps: MaintenanceDeps;
}

/** Memory stores whose object timestamps follow `clock`. */
export function memoryStores(clock: ManualClock): { meta: MetaStore; objects: ObjectStore } {
  return { meta: new MemoryMetaStore(), objects: new MemoryObjectStore({ now: () => clock.now() }) };
}

export function engine(
  options: {
    stores?: { meta: MetaStore; objects: ObjectStore };
    clock?: ManualClock;
    seed?: number;
    owner?: string;
  } = {},
): Engine {
  const clock = options.clock ?? new ManualClock(T0, { autoAdvance: true });
  const stores = options.stores ?? memoryStores(clock);
  const random = seededRandom(options.seed ?? 1);
  const topics = new Topics(stores.meta, { clock, random, cacheTtlMs: 0 });
  const appender = new Appender({ ...stores, topics, clock, random });
  const reader = new Reader({ ...stores, topics, clock });
  return {
    ...stores,
    clock,
    topics,
    appender,
    reader,
    deps: {
      ...stores,
      clock,
      random: seededRandom((options.seed ?? 1) + 1000),
      owner: options.owner ?? 'test',
    },
  };
}

export interface Rec {
  key?: string | null;
  value: string | null;
  timestamp?: number;
}

export function batchOf(records: readonly Rec[], now: number, compression = Compression.None) {
  const inputs: RecordInput[] = records.map((r) => ({
    key: r.key === undefined || r.key === null ? null : enc.encode(r.key),
    value: r.value === null ? null : enc.encode(r.value),
    timestamp: r.timestamp ?? now,
  }));
  return verifyBatch(encodeBatch(inputs, { now, compression }));
}

/** Appends one request: for each partition listed, one batch of its records. */
export async function produce(
  e: Engine,
  topic: string,
  byPartition: Record<number, readonly Rec[]>,
  compression = Compression.None,
): Promise<void> {
  const runs: AppendRun[] = Object.entries(byPartition).map(([p, recs]) => ({
    topic,
    partition: Number(p),
    batches: [batchOf(recs, e.clock.now(), compression)],
  }));
  await e.appender.append(runs);
}

export interface ReadRecord {
  offset: number;
  key: string | null;
  value: string | null;
  timestamp: number;
}

/** Every record of a partition from `from` (default: the log start) to the high watermark. */
export async function readAll(
  e: Engine,
  topic: string,
  partition: number,
  from?: number,
): Promise<ReadRecord[]> {
  const out: ReadRecord[] = [];
  let offset = from ?? (await e.reader.listOffset(topic, partition, 'earliest')).offset;
  for (;;) {
    const r = await e.reader.fetchRecords(topic, partition, offset, { maxBytes: 1 << 20 });
    for (const x of r.records) {
      out.push({
        offset: x.offset,
        key: x.key && dec.decode(x.key),
        value: x.value && dec.decode(x.value),
        timestamp: x.timestamp,
      });
    }
    if (r.nextOffset >= r.highWatermark) return out;
    if (r.nextOffset <= offset && r.records.length === 0) throw new Error(`no progress at offset ${offset}`);
    offset = r.nextOffset;
  }
}

/** The index entries of a partition, as stored. */
export async function indexOf(
  e: Pick<Engine, 'meta'>,
  topicId: string,
  partition: number,
): Promise<(IndexEntry & { sk: string })[]> {
  const page = await e.meta.query(keys.partitionPk(topicId, partition), { beginsWith: keys.indexPrefix });
  return page.items.map((i) => ({ sk: i.sk, ...(i.data as unknown as IndexEntry) }));
}

/** Keys of every object under `data/`. */
export async function objectKeysOf(objects: ObjectStore): Promise<string[]> {
  const out: string[] = [];
  let after: string | undefined;
  do {
    const page = await objects.list('data/', { after });
    out.push(...page.objects.map((o) => o.key));
    after = page.next;
  } while (after);
  return out;
}

/**
 * Stores whose every call first yields to the event loop a seeded number of times, so
 * concurrent loops (appends, reads, maintenance) interleave between any two requests.
 */
export function jitterStores(
  stores: { meta: MetaStore; objects: ObjectStore },
  random: () => number,
  onError?: (method: string, error: unknown) => void,
): { meta: MetaStore; objects: ObjectStore } {
  // Mostly short pauses, sometimes a long one: a slow request that others overtake.
  const pause = async () => {
    const r = random();
    for (let i = r < 0.05 ? 60 : Math.floor(r * 4); i > 0; i--) await new Promise((r) => setImmediate(r));
  };
  const wrap = <T extends object>(inner: T): T =>
    new Proxy(inner, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return async (...args: unknown[]) => {
          await pause();
          try {
            return await value.apply(target, args);
          } catch (err) {
            onError?.(String(prop), err);
            throw err;
          } finally {
            await pause();
          }
        };
      },
    });
  return { meta: wrap(stores.meta), objects: wrap(stores.objects) };
}
