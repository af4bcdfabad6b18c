import { describe, expect, it } from 'vitest';
import { FaultInjector, FaultyMetaStore, FaultyObjectStore } from '../../storage/faulty.js';
import { MemoryMetaStore, MemoryObjectStore } from '../../storage/memory.js';
import { batchOf, engine, objectKeysOf, produce, readAll } from '../../test/maintenance/harness.js';
import { ManualClock } from '../clock.js';
import { keys } from '../keys.js';
import { resolveMaintenanceOptions } from './options.js';
import { collectOrphans } from './orphans.js';
import { planMaintenance } from './plan.js';
import { runMaintenancePass } from './run.js';

const HOUR = 3_600_000;

describe('deleted topics', () => {
  it('reclaims every item and object of a deleted topic, then forgets it', async () => {
    const e = engine();
    const gone = await e.topics.create('gone', 3, { 'retention.ms': -1 });
    await e.topics.create('kept', 1, { 'retention.ms': -1 });
    for (let i = 0; i < 60; i++) {
      await produce(e, 'gone', { 0: [{ value: `${i}` }], 1: [{ value: `${i}` }], 2: [{ value: `${i}` }] });
    }
    // One object shared by both topics survives for the kept one.
    await e.appender.append([
      { topic: 'gone', partition: 1, batches: [batchOf([{ value: 'g' }], 0)] },
      { topic: 'kept', partition: 0, batches: [batchOf([{ value: 'k' }], 0)] },
    ]);
    const options = resolveMaintenanceOptions({ minSmallEntries: 1000, deletedTopicGraceMs: 60_000 });
    await runMaintenancePass(e.deps, options);
    await e.topics.delete('gone');

    // Within the grace period nothing happens.
    let { report } = await runMaintenancePass(e.deps, options);
    expect(report.topicsReclaimed).toBe(0);
    expect(await objectKeysOf(e.objects)).toHaveLength(61);

    e.clock.advance(60_000);
    ({ report } = await runMaintenancePass(e.deps, options));
    expect(report).toMatchObject({ topicsReclaimed: 1, objectsDeleted: 60, errors: [] });
    expect(await objectKeysOf(e.objects)).toHaveLength(1);
    for (let p = 0; p < 3; p++) {
      expect((await e.meta.query(keys.partitionPk(gone.id, p))).items).toEqual([]);
    }
    expect(await e.meta.get(keys.deletedTopic(gone.id))).toBeUndefined();
    expect((await readAll(e, 'kept', 0)).map((r) => r.value)).toEqual(['k']);
    expect((await planMaintenance(e.deps, options)).filter((t) => t.kind === 'deleted-topic')).toEqual([]);
  });
});

describe('orphan GC', () => {
  it('deletes exactly the unreferenced objects past the grace period', async () => {
    const clock = new ManualClock(1_700_000_000_000, { autoAdvance: true });
    // Every commit fails before it lands while enabled: the append PUT its object, then crashes.
    const faults = new FaultInjector({ seed: 1, rates: { transact: { before: 1 } } });
    faults.enabled = false;
    const inner = { meta: new MemoryMetaStore(), objects: new MemoryObjectStore({ now: () => clock.now() }) };
    const e = engine({
      clock,
      stores: {
        meta: new FaultyMetaStore(inner.meta, faults),
        objects: new FaultyObjectStore(inner.objects, faults),
      },
    });
    const crashedAppend = async (value: string) => {
      faults.enabled = true;
      await expect(produce(e, 't', { 1: [{ value }] })).rejects.toThrow(/could not commit/);
      faults.enabled = false;
    };
    await e.topics.create('t', 2, { 'retention.ms': -1 });
    await produce(e, 't', { 0: [{ value: 'committed-old' }] });
    await crashedAppend('orphan-old');
    expect(await objectKeysOf(e.objects)).toHaveLength(2);

    clock.advance(HOUR);
    await produce(e, 't', { 0: [{ value: 'committed-new' }] });
    await crashedAppend('orphan-new');
    expect(await objectKeysOf(e.objects)).toHaveLength(4);

    clock.advance(1);
    const report = await collectOrphans(e.deps, HOUR);
    expect(report.orphansDeleted).toBe(1);
    expect(report.bytesReclaimed).toBeGreaterThan(0);
    expect(await objectKeysOf(e.objects)).toHaveLength(3);
    // The old committed object is referenced: never deleted, however old.
    expect((await readAll(e, 't', 0)).map((r) => r.value)).toEqual(['committed-old', 'committed-new']);
    expect((await readAll(e, 't', 1)).map((r) => r.value)).toEqual([]);
    expect(await e.meta.get(keys.orphanGc)).toMatchObject({ data: { at: clock.now() } });

    clock.advance(HOUR);
    expect((await collectOrphans(e.deps, HOUR)).orphansDeleted).toBe(1);
    expect(await objectKeysOf(e.objects)).toHaveLength(2);
    expect((await readAll(e, 't', 0)).map((r) => r.value)).toEqual(['committed-old', 'committed-new']);
  });

  it('deletes objects whose registry counts no reference, registry first', async () => {
    const e = engine();
    await e.topics.create('t', 1);
    await produce(e, 't', { 0: [{ value: 'x' }] });
    const [object] = await objectKeysOf(e.objects);
    // As if maintenance had released the last reference and crashed before deleting.
    await e.meta.transact([{ type: 'update', key: keys.objectRef(object!), add: { refs: -1 } }]);
    expect((await collectOrphans(e.deps, HOUR)).orphansDeleted).toBe(0);
    e.clock.advance(HOUR);
    expect((await collectOrphans(e.deps, HOUR)).orphansDeleted).toBe(1);
    expect(await e.meta.get(keys.objectRef(object!))).toBeUndefined();
    expect(await objectKeysOf(e.objects)).toEqual([]);
  });

  it('is planned at most once per interval', async () => {
    const e = engine();
    const options = resolveMaintenanceOptions({ orphanGcIntervalMs: HOUR });
    expect((await planMaintenance(e.deps, options)).map((t) => t.kind)).toEqual(['orphans']);
    await runMaintenancePass(e.deps, options);
    expect(await planMaintenance(e.deps, options)).toEqual([]);
    expect((await planMaintenance(e.deps, options, { force: true })).map((t) => t.kind)).toEqual(['orphans']);
    e.clock.advance(HOUR);
    expect((await planMaintenance(e.deps, options)).map((t) => t.kind)).toEqual(['orphans']);
  });
});
