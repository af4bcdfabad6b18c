/**
 * Reads racing with maintenance. One producer appends to three topics (time retention,
 * size retention, compacted), a maintenance loop runs passes with tiny thresholds so
 * retention, small-object compaction and cleaning happen all the time, and readers fetch
 * random offsets — through the Reader and through the fetch HTTP handler. Every store
 * call yields to the event loop a seeded number of times, so the loops interleave
 * between any two requests. Every read must return the records written at those offsets,
 * or OFFSET_OUT_OF_RANGE below the log start offset: never other data, never a 5xx.
 */
import { describe, expect, it } from 'vitest';
import { ByteLru } from '../../core/cache.js';
import { ManualClock, seededRandom } from '../../core/clock.js';
import { SluiceError } from '../../core/errors.js';
import { Reader } from '../../core/fetch.js';
import { headFromItem } from '../../core/heads.js';
import { keys } from '../../core/keys.js';
import {
  maintainPartition,
  resolveMaintenanceOptions,
  runMaintenancePass,
} from '../../core/maintenance/index.js';
import { type MetaStore, ObjectNotFoundError } from '../../core/ports.js';
import { createContext } from '../../lambdas/context.js';
import { toEvent } from '../../lambdas/http.js';
import { createRouter } from '../../lambdas/index.js';
import {
  engine,
  indexOf,
  jitterStores,
  memoryStores,
  objectKeysOf,
  produce,
  readAll,
  T0,
} from './harness.js';

const dec = new TextDecoder();
const TOPICS = [
  { name: 'timed', config: { 'retention.ms': 15_000 } },
  { name: 'sized', config: { 'retention.ms': -1, 'retention.bytes': 6000 } },
  { name: 'keyed', config: { 'cleanup.policy': 'compact', 'delete.retention.ms': 5000 } },
] as const;
const PARTITIONS = 2;

async function race(seed: number) {
  const clock = new ManualClock(T0, { autoAdvance: true });
  const random = seededRandom(seed);
  const stats = { reads: 0, outOfRange: 0, http: 0, passes: 0, objectsGone: 0 };
  const stores = jitterStores(memoryStores(clock), seededRandom(seed + 1), (method, err) => {
    if (method === 'get' && err instanceof ObjectNotFoundError) stats.objectsGone++;
  });
  const e = engine({ stores, clock, seed });
  // No read cache: every read goes to the objects, so reads meet objects deleted under them.
  const reader = new Reader({ ...stores, topics: e.topics, clock, cache: new ByteLru(0) });
  const ctx = createContext(stores, {
    clock,
    random: seededRandom(seed + 2),
    topicCacheTtlMs: 0,
    env: { SLUICE_FETCH_CACHE_MB: '0' },
  });
  const route = createRouter(ctx);
  const ids: Record<string, string> = {};
  for (const t of TOPICS) ids[t.name] = (await e.topics.create(t.name, PARTITIONS, t.config)).id;

  // What was written at each offset (known before the append: one producer, offsets in order).
  const model = new Map<string, string[]>();
  const log = (topic: string, p: number) => {
    const k = `${topic}/${p}`;
    if (!model.has(k)) model.set(k, []);
    return model.get(k)!;
  };
  const options = resolveMaintenanceOptions({
    targetObjectBytes: 2500,
    smallEntryBytes: 1200,
    minSmallEntries: 3,
    maxCompactionDelayMs: 0,
    minCleanableDirtyRatio: 0.3,
  });

  /** Offsets acknowledged so far: readers ask only for these (or the high watermark). */
  const committed = new Map<string, number>();
  let producing = true;
  const failures: string[] = [];

  const producer = async () => {
    for (let i = 0; i < 120; i++) {
      for (const t of TOPICS) {
        const byPartition: Record<number, { key: string; value: string }[]> = {};
        for (let p = 0; p < PARTITIONS; p++) {
          const n = 1 + Math.floor(random() * 3);
          byPartition[p] = Array.from({ length: n }, (_, j) => {
            const offset = log(t.name, p).length;
            const value = `${t.name}/${p}/${offset}/${'x'.repeat(Math.floor(random() * 150))}`;
            log(t.name, p).push(value);
            return { key: `k${(i * 7 + j) % 5}`, value };
          });
        }
        await produce(e, t.name, byPartition);
        for (let p = 0; p < PARTITIONS; p++) committed.set(`${t.name}/${p}`, log(t.name, p).length);
      }
      clock.advance(500);
    }
    producing = false;
  };

  const maintenance = async () => {
    while (producing) {
      const { report } = await runMaintenancePass(e.deps, options, { concurrency: 2 });
      if (report.errors.length > 0) failures.push(`maintenance: ${JSON.stringify(report.errors)}`);
      stats.passes++;
    }
  };

  /** Checks one read; `first` is the first record's offset, or undefined if none. */
  const check = (topic: string, p: number, offset: number, records: { offset: number; value: string }[]) => {
    const written = log(topic, p);
    let previous = offset - 1;
    for (const r of records) {
      if (r.offset <= previous) failures.push(`${topic}/${p}@${offset}: offset ${r.offset} out of order`);
      if (written[r.offset] !== r.value) failures.push(`${topic}/${p}@${offset}: wrong data at ${r.offset}`);
      // Only a compacted topic may skip offsets.
      if (topic !== 'keyed' && r.offset !== previous + 1)
        failures.push(`${topic}/${p}@${offset}: gap at ${r.offset}`);
      previous = r.offset;
    }
  };
  const checkOutOfRange = async (topic: string, p: number, offset: number) => {
    const head = headFromItem(await e.meta.get(keys.head(ids[topic]!, p)));
    if (offset >= head.data.start)
      failures.push(`${topic}/${p}@${offset}: out of range at start ${head.data.start}`);
    stats.outOfRange++;
  };

  const readLoop = async (viaHttp: boolean) => {
    while (producing) {
      const t = TOPICS[Math.floor(random() * TOPICS.length)]!.name;
      const p = Math.floor(random() * PARTITIONS);
      const offset = Math.floor(random() * ((committed.get(`${t}/${p}`) ?? 0) + 1));
      const maxBytes = 200 + Math.floor(random() * 4000);
      stats.reads++;
      if (viaHttp) {
        stats.http++;
        const res = await route(
          toEvent({
            method: 'GET',
            url: `/v1/fetch?topic=${t}&partition=${p}&offset=${offset}&maxBytes=${maxBytes}`,
          }),
        );
        const body = JSON.parse(res.body ?? '{}');
        if (res.statusCode === 416) await checkOutOfRange(t, p, offset);
        else if (res.statusCode === 200) check(t, p, offset, body.records);
        else failures.push(`${t}/${p}@${offset}: HTTP ${res.statusCode} ${res.body}`);
        continue;
      }
      try {
        const r = await reader.fetchRecords(t, p, offset, { maxBytes });
        check(
          t,
          p,
          offset,
          r.records.map((x) => ({ offset: x.offset, value: dec.decode(x.value!) })),
        );
      } catch (err) {
        if (err instanceof SluiceError && err.code === 'OFFSET_OUT_OF_RANGE')
          await checkOutOfRange(t, p, offset);
        else failures.push(`${t}/${p}@${offset}: ${(err as Error).stack}`);
      }
    }
  };

  await Promise.all([producer(), maintenance(), readLoop(false), readLoop(false), readLoop(true)]);
  expect(failures.slice(0, 5)).toEqual([]);

  // Settle, then check the end state: logs read whole, every object referenced and counted.
  clock.advance(60_000);
  await runMaintenancePass(e.deps, options);
  const objects = new Set(await objectKeysOf(e.objects));
  const refs = new Map<string, number>();
  for (const t of TOPICS) {
    for (let p = 0; p < PARTITIONS; p++) {
      const all = await readAll(e, t.name, p);
      check(
        t.name,
        p,
        all[0]?.offset ?? 0,
        all.map((r) => ({ offset: r.offset, value: r.value! })),
      );
      for (const entry of await indexOf(e, ids[t.name]!, p)) refs.set(entry.o, (refs.get(entry.o) ?? 0) + 1);
    }
  }
  expect(failures.slice(0, 5)).toEqual([]);
  expect(objects).toEqual(new Set(refs.keys()));
  for (const [o, n] of refs) expect((await e.meta.get(keys.objectRef(o)))?.data.refs).toBe(n);
  return stats;
}

describe('fetch racing with maintenance', () => {
  for (const seed of [1, 2, 3]) {
    it(`returns the written records or OFFSET_OUT_OF_RANGE below the log start (seed ${seed})`, async () => {
      const stats = await race(seed);
      // The race really happened: many reads, passes, and reads that lost to retention.
      expect(stats.reads).toBeGreaterThan(100);
      expect(stats.http).toBeGreaterThan(10);
      expect(stats.passes).toBeGreaterThan(5);
      expect(stats.outOfRange).toBeGreaterThan(0);
      // Reads found objects deleted under them and recovered.
      expect(stats.objectsGone).toBeGreaterThan(0);
    });
  }
});

describe('fetch vs small-object compaction', () => {
  it('a fetch whose index query pages across a compaction swap returns each offset once, in order', async () => {
    const clock = new ManualClock(T0, { autoAdvance: true });
    const stores = memoryStores(clock);
    const e = engine({ stores, clock });
    const { id } = await e.topics.create('t', 2, { 'retention.ms': -1 });
    // 40 requests, each to both partitions: 40 small entries per partition, in objects
    // shared by the two partitions (so compacting partition 0 does not delete them).
    for (let i = 0; i < 40; i++) {
      await produce(e, 't', { 0: [{ key: `k${i}`, value: `v${i}` }], 1: [{ key: `k${i}`, value: `w${i}` }] });
    }
    const options = resolveMaintenanceOptions({ minSmallEntries: 2, maxCompactionDelayMs: 0 });
    // A meta store that runs partition 0's maintenance just before the reader's second index page.
    let armed = true;
    const pk = keys.partitionPk(id, 0);
    const meta = new Proxy(stores.meta, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop !== 'query') return typeof value === 'function' ? value.bind(target) : value;
        return async (...args: Parameters<MetaStore['query']>) => {
          if (armed && args[0] === pk && args[2]?.after !== undefined) {
            armed = false;
            await maintainPartition(e.deps, options, {
              kind: 'partition',
              topic: 't',
              topicId: id,
              partition: 0,
            });
          }
          return target.query(...args);
        };
      },
    }) as MetaStore;
    const reader = new Reader({ meta, objects: stores.objects, topics: e.topics, clock });
    const r = await reader.fetchRecords('t', 0, 0, { maxBytes: 1 << 20 });
    expect(armed).toBe(false); // the swap happened mid-read
    const offsets = r.records.map((x) => x.offset);
    expect(offsets).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(r.records.map((x) => dec.decode(x.value!))).toEqual(Array.from({ length: 40 }, (_, i) => `v${i}`));
  });
});
