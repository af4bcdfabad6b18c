import { describe, expect, it } from 'vitest';
import { engine, indexOf, objectKeysOf, produce, readAll } from '../../test/maintenance/harness.js';
import { keys } from '../keys.js';
import { decodeSegment, splitBatches } from '../records/index.js';
import { resolveMaintenanceOptions } from './options.js';
import { maintainPartition } from './partition.js';
import { planMaintenance } from './plan.js';
import { runMaintenancePass } from './run.js';
import { stateFromItem } from './state.js';

const value = (p: number, i: number) => `p${p}-${i}-${'x'.repeat(100)}`;

async function twoPartitionLog(e: ReturnType<typeof engine>, requests: number) {
  const t = await e.topics.create('t', 2, { 'retention.ms': -1 });
  for (let i = 0; i < requests; i++) {
    await produce(e, 't', {
      0: [{ key: `k${i}`, value: value(0, i) }],
      1: [
        { key: `k${i}`, value: value(1, 2 * i) },
        { key: `k${i}`, value: value(1, 2 * i + 1) },
      ],
    });
  }
  return t;
}

describe('small-object compaction', () => {
  it('rewrites runs of small entries into objects of the target size, offsets unchanged', async () => {
    const e = engine();
    const t = await twoPartitionLog(e, 40);
    const before0 = await readAll(e, 't', 0);
    const before1 = await readAll(e, 't', 1);
    expect(await objectKeysOf(e.objects)).toHaveLength(40);
    const options = resolveMaintenanceOptions({
      targetObjectBytes: 1500,
      smallEntryBytes: 1000,
      minSmallEntries: 4,
    });

    const r0 = await maintainPartition(e.deps, options, {
      kind: 'partition',
      topic: 't',
      topicId: t.id,
      partition: 0,
    });
    expect(r0.entriesCompacted).toBeGreaterThan(30);
    // Partition 1 still references every old object.
    expect(r0.objectsDeleted).toBe(0);
    expect(await readAll(e, 't', 0)).toEqual(before0);
    const index0 = await indexOf(e, t.id, 0);
    // Full runs became objects of at least the target size; the open run at the tail waits.
    const compacted = index0.filter((x) => x.abs);
    expect(compacted.length).toBe(4);
    for (const entry of compacted) expect(entry.len).toBeGreaterThanOrEqual(1500);
    expect(index0.slice(0, 4)).toEqual(compacted);
    expect(index0.length - compacted.length).toBeLessThan(1500 / 170);

    const r1 = await maintainPartition(e.deps, options, {
      kind: 'partition',
      topic: 't',
      topicId: t.id,
      partition: 1,
    });
    expect(r1.objectsDeleted).toBeGreaterThan(30);
    expect(await readAll(e, 't', 1)).toEqual(before1);
    expect(await readAll(e, 't', 0)).toEqual(before0);
    // Every object left is referenced, with a registry count matching the entries that point at it.
    const referenced = new Map<string, number>();
    for (const p of [0, 1]) {
      for (const entry of await indexOf(e, t.id, p)) {
        referenced.set(entry.o, (referenced.get(entry.o) ?? 0) + 1);
      }
    }
    expect(new Set(await objectKeysOf(e.objects))).toEqual(new Set(referenced.keys()));
    for (const [o, n] of referenced) expect((await e.meta.get(keys.objectRef(o)))?.data.refs).toBe(n);
  });

  it('swaps more than one transaction of entries into one object and one entry', async () => {
    const e = engine();
    const t = await e.topics.create('many', 1, { 'retention.ms': -1 });
    for (let i = 0; i < 130; i++) await produce(e, 'many', { 0: [{ value: `v${i}` }] });
    const before = await readAll(e, 'many', 0);
    const options = resolveMaintenanceOptions({ minSmallEntries: 4, maxCompactionDelayMs: 0 });
    const r = await maintainPartition(e.deps, options, {
      kind: 'partition',
      topic: 'many',
      topicId: t.id,
      partition: 0,
    });
    expect(r).toMatchObject({ entriesCompacted: 130, objectsWritten: 1, objectsDeleted: 130 });
    const index = await indexOf(e, t.id, 0);
    expect(index).toHaveLength(1);
    expect(index[0]).toMatchObject({ sk: keys.indexSk(129), base: 0, n: 130, rc: 130, bc: 130, abs: true });
    expect((await e.meta.get(keys.objectRef(index[0]!.o)))?.data.refs).toBe(1);
    expect(await readAll(e, 'many', 0)).toEqual(before);

    // The object is a valid segment whose batches carry real offsets and the lease epoch.
    const object = await e.objects.get(index[0]!.o);
    const [run] = decodeSegment(object).index;
    const batches = splitBatches(object.subarray(run!.position, run!.position + run!.length));
    expect(batches.map((b) => b.header.baseOffset)).toEqual(before.map((x) => x.offset));
    expect(new Set(batches.map((b) => b.header.partitionLeaderEpoch))).toEqual(new Set([1]));
  });

  it('waits for an open run at the tail to fill or to age', async () => {
    const e = engine();
    const t = await e.topics.create('tail', 1, { 'retention.ms': -1 });
    for (let i = 0; i < 10; i++) await produce(e, 'tail', { 0: [{ value: `v${i}` }] });
    const options = resolveMaintenanceOptions({ minSmallEntries: 4, maxCompactionDelayMs: 60_000 });
    const firstAt = e.clock.now();
    let { report } = await runMaintenancePass(e.deps, options);
    expect(report.entriesCompacted).toBe(0);
    const state = stateFromItem(await e.meta.get(keys.maintenance(t.id, 0)));
    expect(state.scanFrom).toBe(0);
    expect(state.due).toBeGreaterThan(firstAt);
    // Nothing new and not yet due: the planner skips the partition.
    expect((await planMaintenance(e.deps, options)).filter((x) => x.kind === 'partition')).toEqual([]);

    e.clock.advance(60_000);
    expect((await planMaintenance(e.deps, options)).filter((x) => x.kind === 'partition')).toHaveLength(1);
    ({ report } = await runMaintenancePass(e.deps, options));
    expect(report.entriesCompacted).toBe(10);
    expect(await indexOf(e, t.id, 0)).toHaveLength(1);

    // The small output starts the next open run, which absorbs later entries.
    for (let i = 10; i < 14; i++) await produce(e, 'tail', { 0: [{ value: `v${i}` }] });
    e.clock.advance(60_000);
    ({ report } = await runMaintenancePass(e.deps, options));
    expect(report.entriesCompacted).toBe(5);
    expect(await indexOf(e, t.id, 0)).toHaveLength(1);
    expect((await readAll(e, 'tail', 0)).map((x) => x.value)).toEqual(
      Array.from({ length: 14 }, (_, i) => `v${i}`),
    );
  });

  it('leaves large entries and short runs between them alone', async () => {
    const e = engine();
    const t = await e.topics.create('mixed', 1, { 'retention.ms': -1 });
    const big = 'B'.repeat(3000);
    await produce(e, 'mixed', { 0: [{ value: big }] });
    for (let i = 0; i < 3; i++) await produce(e, 'mixed', { 0: [{ value: `s${i}` }] });
    await produce(e, 'mixed', { 0: [{ value: big }] });
    const options = resolveMaintenanceOptions({
      smallEntryBytes: 2000,
      minSmallEntries: 4,
      maxCompactionDelayMs: 0,
    });
    const { report } = await runMaintenancePass(e.deps, options);
    expect(report.entriesCompacted).toBe(0);
    expect(await indexOf(e, t.id, 0)).toHaveLength(5);
    const state = stateFromItem(await e.meta.get(keys.maintenance(t.id, 0)));
    expect(state.scanFrom).toBe(5);
  });
});
