import { describe, expect, it } from 'vitest';
import { FaultInjector, FaultyMetaStore } from '../storage/faulty.js';
import { MemoryMetaStore, MemoryObjectStore } from '../storage/memory.js';
import { ModelledMetaStore, ModelledObjectStore, S3_MODEL } from '../storage/modelled.js';
import { records, run } from '../test/helpers/engine.js';
import { drive } from '../test/helpers/virtual-time.js';
import { Appender, type AppendResult, groupCapacity } from './append.js';
import { ManualClock, seededRandom } from './clock.js';
import { keys } from './keys.js';
import { Topics } from './topics.js';

/** One instance over modelled stores (so requests overlap), optionally with faults. */
async function instance(options: { groupCommit?: boolean; faults?: FaultInjector } = {}) {
  const clock = new ManualClock(1_700_000_000_000);
  const random = seededRandom(5);
  const inner = new MemoryMetaStore();
  const modelled = new ModelledMetaStore(inner, { clock, random });
  const meta = options.faults ? new FaultyMetaStore(modelled, options.faults) : modelled;
  // A fixed PUT time: requests started together reach their commit together.
  const objects = new ModelledObjectStore(
    new MemoryObjectStore(),
    { clock, random },
    { ...S3_MODEL, firstByte: { p50Ms: 100, p99Ms: 100 } },
  );
  const topics = new Topics(meta, { clock, random });
  const created = await drive(clock, topics.create('t', 1));
  const appender = new Appender({ meta, objects, topics, clock, random, groupCommit: options.groupCommit });
  const head = async () => (await inner.get(keys.head(created.id, 0)))?.data as { next: number } | undefined;
  return { clock, modelled, appender, head };
}

const settle = (p: Promise<AppendResult[]>) =>
  p.then(
    (r) => ({ ok: r[0]! }),
    (e: { code?: string }) => ({ error: e.code }),
  );

describe('group commit', () => {
  it('commits concurrent requests for one partition in a few shared transactions, offsets in order and unique', async () => {
    const e = await instance();
    const before = e.modelled.stats.committed;
    const all = Promise.all(Array.from({ length: 20 }, () => e.appender.append([run('t', 0, records(3))])));
    const results = (await drive(e.clock, all)).flat();
    expect(results.map((r) => r.baseOffset).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, i) => i * 3),
    );
    // Their PUTs end together, so they wait to commit together: one or two transactions.
    expect(e.modelled.stats.committed - before).toBeLessThanOrEqual(2);
    expect((await e.head())?.next).toBe(60);
  });

  it('commits one transaction per request when turned off', async () => {
    const e = await instance({ groupCommit: false });
    const before = e.modelled.stats.committed;
    const all = Promise.all(Array.from({ length: 8 }, () => e.appender.append([run('t', 0, records(1))])));
    await drive(e.clock, all);
    expect(e.modelled.stats.committed - before).toBe(8);
  });

  it('answers a retried batch inside the same group as a duplicate, and fails an out-of-order batch alone', async () => {
    const e = await instance();
    const p = { id: 7n, epoch: 0, seq: 0 };
    const first = e.appender.append([run('t', 0, records(1), { id: 1n, epoch: 0, seq: 0 })]);
    const outcomes = drive(
      e.clock,
      Promise.all([
        settle(first),
        settle(e.appender.append([run('t', 0, records(2), p)])),
        settle(e.appender.append([run('t', 0, records(2), p)])), // a retry of the same batch
        settle(e.appender.append([run('t', 0, records(1), { ...p, seq: 5 })])), // a gap
        settle(e.appender.append([run('t', 0, records(4))])),
      ]),
    );
    const [a, b, c, d, f] = await outcomes;
    expect(a).toMatchObject({ ok: { baseOffset: 0, duplicate: false } });
    expect(b).toMatchObject({ ok: { baseOffset: 1, duplicate: false } });
    expect(c).toMatchObject({ ok: { baseOffset: 1, duplicate: true } });
    expect(d).toEqual({ error: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
    expect(f).toMatchObject({ ok: { baseOffset: 3, duplicate: false } });
    expect((await e.head())?.next).toBe(7);
  });

  it('answers every member once when a shared commit lands but its response is lost', async () => {
    const faults = new FaultInjector({ seed: 1 });
    const e = await instance({ faults });
    const first = e.appender.append([run('t', 0, records(1))]);
    await drive(e.clock, first);
    faults.failNext('transact', 'after');
    const all = Promise.all(Array.from({ length: 6 }, () => e.appender.append([run('t', 0, records(2))])));
    const results = (await drive(e.clock, all)).flat();
    expect(results.map((r) => r.baseOffset).sort((a, b) => a - b)).toEqual([1, 3, 5, 7, 9, 11]);
    expect((await e.head())?.next).toBe(13);
  });

  it('sizes a group within 100 items per transaction', () => {
    expect(groupCapacity(1)).toBe(33);
    expect(groupCapacity(49)).toBe(1);
    // A lone member is sized by the chunking itself; a shared group must fit in 100 items.
    for (let n = 1; n <= 49; n++) {
      if (groupCapacity(n) > 1) expect(n + groupCapacity(n) * (2 * n + 1)).toBeLessThanOrEqual(100);
    }
  });
});
