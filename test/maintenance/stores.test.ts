/**
 * Maintenance end to end on the real adapters: the local pair (files + SQLite) and
 * S3 + DynamoDB on the emulator. Retention, small-object compaction, a compacted topic,
 * a deleted topic and an orphan, then the end state: every object left is referenced and
 * counted, and every log reads back as expected.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { keys } from '../../core/keys.js';
import { resolveMaintenanceOptions, runMaintenancePass } from '../../core/maintenance/index.js';
import { FaultInjector, FaultyMetaStore } from '../../storage/faulty.js';
import { makeStores, type StoreKind, type TestStores } from '../helpers/stores.js';
import { engine, indexOf, objectKeysOf, produce, readAll } from './harness.js';

const HOUR = 3_600_000;
let stores: TestStores | undefined;
afterEach(async () => {
  await stores?.cleanup();
  stores = undefined;
});

async function scenario(kind: StoreKind) {
  stores = await makeStores(kind);
  // Object stores stamp real time: start the virtual clock at it.
  const clock = new ManualClock(Date.now(), { autoAdvance: true });
  const faults = new FaultInjector({ seed: 3, rates: { transact: { before: 1 } } });
  faults.enabled = false;
  const e = engine({
    clock,
    stores: { meta: new FaultyMetaStore(stores.meta, faults), objects: stores.objects },
  });
  const ret = await e.topics.create('ret', 2, { 'retention.ms': HOUR });
  const ct = await e.topics.create('ct', 1, { 'cleanup.policy': 'compact', 'delete.retention.ms': 0 });
  const gone = await e.topics.create('gone', 1);
  for (let i = 0; i < 12; i++) {
    await produce(e, 'ret', { 0: [{ value: `a${i}` }], 1: [{ value: `b${i}` }] });
    await produce(e, 'ct', { 0: [{ key: `k${i % 3}`, value: `v${i}` }] });
    await produce(e, 'gone', { 0: [{ value: `g${i}` }] });
  }
  // An append that PUT its object and never committed.
  faults.enabled = true;
  await expect(produce(e, 'gone', { 0: [{ value: 'lost' }] })).rejects.toThrow();
  faults.enabled = false;

  const options = resolveMaintenanceOptions({
    minSmallEntries: 4,
    maxCompactionDelayMs: 0,
    minCleanableDirtyRatio: 0.3,
    deletedTopicGraceMs: 0,
    orphanGraceMs: HOUR,
  });
  let { report } = await runMaintenancePass(e.deps, options);
  expect(report.errors).toEqual([]);
  expect(report.entriesCompacted).toBeGreaterThan(20);
  expect(report.recordsCleaned).toBeGreaterThan(0);
  expect(report.orphansDeleted).toBe(0); // too young
  expect((await readAll(e, 'ret', 0)).map((r) => r.value)).toEqual(
    Array.from({ length: 12 }, (_, i) => `a${i}`),
  );
  const latest = (await readAll(e, 'ct', 0)).filter((r) => r.offset < 11);
  expect(latest.map((r) => r.value)).toEqual(['v8', 'v9', 'v10']);

  await e.topics.delete('gone');
  clock.advance(HOUR + 1000);
  await produce(e, 'ret', { 0: [{ value: 'fresh' }] });
  ({ report } = await runMaintenancePass(e.deps, options));
  expect(report.errors).toEqual([]);
  expect(report).toMatchObject({ recordsExpired: 24, topicsReclaimed: 1, orphansDeleted: 1 });
  expect((await readAll(e, 'ret', 0)).map((r) => [r.offset, r.value])).toEqual([[12, 'fresh']]);
  expect(await readAll(e, 'ret', 1)).toEqual([]);
  expect((await e.meta.query(keys.partitionPk(gone.id, 0))).items).toEqual([]);

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
}

describe('maintenance on the real adapters', () => {
  it('runs every pass on files + SQLite', async () => {
    await scenario('sqlite');
  });

  it('runs every pass on S3 + DynamoDB (emulator)', async () => {
    await scenario('aws');
  });
});
