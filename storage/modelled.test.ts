import { describe, expect, it } from 'vitest';
import { Appender } from '../core/append.js';
import { ManualClock, seededRandom } from '../core/clock.js';
import { ThrottledError, UnavailableError } from '../core/errors.js';
import { Topics } from '../core/topics.js';
import { records, run } from '../test/helpers/engine.js';
import { drive } from '../test/helpers/virtual-time.js';
import { MemoryMetaStore, MemoryObjectStore } from './memory.js';
import { DYNAMODB_MODEL, drawLatency, ModelledMetaStore, ModelledObjectStore, S3_MODEL } from './modelled.js';

const key = { pk: 'p', sk: 's' };
const fixed = (ms: number) => ({ p50Ms: ms, p99Ms: ms });

function meta(model = DYNAMODB_MODEL) {
  const clock = new ManualClock(1_700_000_000_000, { autoAdvance: true });
  const inner = new MemoryMetaStore();
  return { clock, inner, store: new ModelledMetaStore(inner, { clock, random: seededRandom(1) }, model) };
}

describe('drawLatency', () => {
  it('follows the log-normal through the given p50 and p99', () => {
    const random = seededRandom(7);
    const draws = Array.from({ length: 20_000 }, () => drawLatency({ p50Ms: 8, p99Ms: 18 }, random)).sort(
      (a, b) => a - b,
    );
    expect(draws[10_000]!).toBeGreaterThan(8 * 0.95);
    expect(draws[10_000]!).toBeLessThan(8 * 1.05);
    expect(draws[19_800]!).toBeGreaterThan(18 * 0.9);
    expect(draws[19_800]!).toBeLessThan(18 * 1.1);
    expect(draws[0]!).toBeGreaterThan(0);
  });
});

describe('ModelledMetaStore', () => {
  it('cancels a transaction that overlaps another on an item (TransactionConflict), applying nothing', async () => {
    const { store, inner } = meta();
    const outcomes = await Promise.allSettled([
      store.transact([{ type: 'put', key, data: { by: 'a' } }]),
      store.transact([
        { type: 'put', key, data: { by: 'b' } },
        { type: 'put', key: { pk: 'q', sk: 's' }, data: { by: 'b' } },
      ]),
    ]);
    expect(outcomes[0]!.status).toBe('fulfilled');
    expect(outcomes[1]!.status).toBe('rejected');
    const error = (outcomes[1] as PromiseRejectedResult).reason as Error;
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.message).toContain('TransactionConflict, None');
    expect((await inner.get(key))?.data).toEqual({ by: 'a' });
    expect(await inner.get({ pk: 'q', sk: 's' })).toBeUndefined();
    expect(store.stats).toMatchObject({ transactions: 2, conflicts: 1 });
  });

  it('lets transactions on disjoint items run at once, and a later one after an earlier ends', async () => {
    const { store, inner } = meta();
    await Promise.all([
      store.transact([{ type: 'put', key, data: { n: 1 } }]),
      store.transact([{ type: 'put', key: { pk: 'q', sk: 's' }, data: { n: 1 } }]),
    ]);
    await store.transact([{ type: 'put', key, data: { n: 2 } }]);
    expect((await inner.get(key))?.data).toEqual({ n: 2 });
    expect(store.stats.conflicts).toBe(0);
  });

  it('throttles an item past 1,000 write units a second (500 transactional writes of < 1 KB)', async () => {
    const { store, clock } = meta({ ...DYNAMODB_MODEL, transact: fixed(0.001) });
    let ok = 0;
    let throttled = 0;
    for (let i = 0; i < 600; i++) {
      await store.transact([{ type: 'put', key, data: { i } }]).then(
        () => ok++,
        (e) => {
          expect(e).toBeInstanceOf(ThrottledError);
          throttled++;
        },
      );
    }
    expect(ok).toBe(500);
    expect(throttled).toBe(100);
    clock.advance(1000); // a second later the item takes writes again
    await store.transact([{ type: 'put', key, data: { i: -1 } }]);
  });

  it('waits the modelled latency on reads', async () => {
    const { store, clock } = meta({ ...DYNAMODB_MODEL, read: fixed(5) });
    const start = clock.now();
    await store.get(key);
    await store.query('p');
    expect(clock.now() - start).toBeCloseTo(10, 6);
  });

  it('keeps concurrent appenders (separate instances) on one partition correct: every record once, no gaps', async () => {
    // Time moves in 0.25 ms steps while the appends run, so that their calls overlap as
    // they would in real time (a self-advancing clock would run each sleep alone).
    const clock = new ManualClock(1_700_000_000_000);
    const random = seededRandom(3);
    const metaStore = new ModelledMetaStore(new MemoryMetaStore(), { clock, random });
    const objects = new ModelledObjectStore(new MemoryObjectStore(), { clock, random });
    await drive(clock, new Topics(metaStore, { clock, random }).create('t', 1));
    const instances = Array.from({ length: 8 }, (_, i) => {
      const r = seededRandom(100 + i);
      return new Appender({
        meta: metaStore,
        objects,
        topics: new Topics(metaStore, { clock, random: r }),
        clock,
        random: r,
      });
    });
    const all = Promise.all(
      instances.flatMap((a) => Array.from({ length: 5 }, () => a.append([run('t', 0, records(3))]))),
    );
    const results = (await drive(clock, all)).flat();
    const bases = results.map((r) => r.baseOffset).sort((a, b) => a - b);
    expect(bases).toEqual(Array.from({ length: 40 }, (_, i) => i * 3));
    expect(metaStore.stats.conflicts).toBeGreaterThan(0);
  });
});

describe('ModelledObjectStore', () => {
  it('adds the transfer of the bytes to the first-byte latency', async () => {
    const clock = new ManualClock(0, { autoAdvance: true });
    const store = new ModelledObjectStore(
      new MemoryObjectStore(),
      { clock, random: seededRandom(1) },
      { ...S3_MODEL, firstByte: fixed(100) },
    );
    await store.put('k', new Uint8Array(850_000));
    expect(clock.now()).toBeCloseTo(110, 6);
    expect((await store.get('k', { start: 0, end: 85_000 })).length).toBe(85_000);
    expect(clock.now()).toBeCloseTo(211, 6);
  });
});
