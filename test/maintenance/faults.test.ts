/**
 * Maintenance under storage faults: requests that fail before they happen, after they
 * happened (lost responses), throttling. Passes may fail; none may lose or alter data,
 * and once faults stop, passes converge to a clean state: every object referenced, every
 * reference counted exactly.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock, seededRandom } from '../../core/clock.js';
import { keys } from '../../core/keys.js';
import { resolveMaintenanceOptions, runMaintenancePass } from '../../core/maintenance/index.js';
import { FaultInjector, FaultyMetaStore, FaultyObjectStore } from '../../storage/faulty.js';
import { engine, indexOf, memoryStores, objectKeysOf, produce, readAll, T0 } from './harness.js';

async function faultyRun(seed: number) {
  const clock = new ManualClock(T0, { autoAdvance: true });
  const inner = memoryStores(clock);
  const faults = new FaultInjector({
    seed,
    rates: {
      transact: { before: 0.05, after: 0.05, throttle: 0.03, conflict: 0.05 },
      put: { before: 0.05, after: 0.05 },
      delete: { before: 0.1, after: 0.05 },
      get: { before: 0.03 },
      default: { before: 0.02 },
    },
  });
  faults.enabled = false;
  const e = engine({
    clock,
    seed,
    stores: {
      meta: new FaultyMetaStore(inner.meta, faults),
      objects: new FaultyObjectStore(inner.objects, faults),
    },
  });
  const random = seededRandom(seed);
  const ret = await e.topics.create('ret', 2, { 'retention.ms': 20_000 });
  const ct = await e.topics.create('ct', 1, { 'cleanup.policy': 'compact', 'delete.retention.ms': 0 });
  const expected = new Map<string, string[]>();
  const options = resolveMaintenanceOptions({
    targetObjectBytes: 1500,
    smallEntryBytes: 600,
    minSmallEntries: 3,
    maxCompactionDelayMs: 0,
    minCleanableDirtyRatio: 0.2,
    orphanGraceMs: 0,
    orphanGcIntervalMs: 0,
  });
  let failedTasks = 0;
  for (let round = 0; round < 12; round++) {
    for (let i = 0; i < 6; i++) {
      const v = `${round}-${i}-${'y'.repeat(Math.floor(random() * 80))}`;
      await produce(e, 'ret', { 0: [{ value: `a${v}` }], 1: [{ value: `b${v}` }] });
      await produce(e, 'ct', { 0: [{ key: `k${i % 4}`, value: `c${v}` }] });
      for (const [k, x] of [
        ['ret/0', `a${v}`],
        ['ret/1', `b${v}`],
      ] as const) {
        expected.set(k, [...(expected.get(k) ?? []), x]);
      }
    }
    clock.advance(4000);
    faults.enabled = true;
    const { report } = await runMaintenancePass(e.deps, options).catch((err) => ({
      report: { errors: [{ task: 'plan', message: String(err) }] },
    }));
    faults.enabled = false;
    failedTasks += report.errors.length;
    // Whatever failed, what is readable is exactly what was written, in order.
    for (const p of [0, 1]) {
      const got = (await readAll(e, 'ret', p)).map((r) => r.value);
      const all = expected.get(`ret/${p}`)!;
      expect(got.length).toBeGreaterThanOrEqual(6); // this round's records at least
      expect(got).toEqual(all.slice(all.length - got.length));
    }
  }
  // Faults stop: passes converge.
  for (let i = 0; i < 3; i++) {
    const { report } = await runMaintenancePass(e.deps, options);
    expect(report.errors).toEqual([]);
  }
  const refs = new Map<string, number>();
  for (const [id, partitions] of [
    [ret.id, 2],
    [ct.id, 1],
  ] as const) {
    for (let p = 0; p < partitions; p++) {
      for (const entry of await indexOf(e, id, p)) refs.set(entry.o, (refs.get(entry.o) ?? 0) + 1);
    }
  }
  expect(new Set(await objectKeysOf(e.objects))).toEqual(new Set(refs.keys()));
  for (const [o, n] of refs) expect((await e.meta.get(keys.objectRef(o)))?.data.refs).toBe(n);
  const latest = new Map((await readAll(e, 'ct', 0)).map((r) => [r.key, r.value]));
  expect([...latest.keys()].sort()).toEqual(['k0', 'k1', 'k2', 'k3']);
  expect(latest.get('k1')).toMatch(/^c11-5-/);
  expect(latest.get('k2')).toMatch(/^c11-2-/);
  return {
    failedTasks,
    faults: faults.events.length,
    conflicts: faults.events.filter((f) => f.fault === 'conflict').length,
  };
}

describe('maintenance under storage faults', () => {
  for (const seed of [11, 12, 13]) {
    it(`never loses or alters data, and converges once faults stop (seed ${seed})`, async () => {
      const { failedTasks, faults, conflicts } = await faultyRun(seed);
      expect(faults).toBeGreaterThan(10);
      expect(conflicts).toBeGreaterThan(0);
      expect(failedTasks).toBeGreaterThan(0);
    });
  }
});
