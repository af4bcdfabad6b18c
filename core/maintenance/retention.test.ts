import { describe, expect, it } from 'vitest';
import { engine, indexOf, objectKeysOf, produce, readAll } from '../../test/maintenance/harness.js';
import { SluiceError } from '../errors.js';
import { headFromItem } from '../heads.js';
import { keys } from '../keys.js';
import { encodeBatch, verifyBatch } from '../records/index.js';
import { resolveMaintenanceOptions } from './options.js';
import { maintainPartition } from './partition.js';
import { runMaintenancePass } from './run.js';

const HOUR = 3_600_000;
const options = resolveMaintenanceOptions({ minSmallEntries: 1000 }); // retention only

async function fetchError(e: ReturnType<typeof engine>, topic: string, partition: number, offset: number) {
  try {
    await e.reader.fetchRecords(topic, partition, offset);
    return undefined;
  } catch (err) {
    return err instanceof SluiceError ? err.code : String(err);
  }
}

describe('time retention', () => {
  it('makes records unreadable only once they are older than retention.ms', async () => {
    const e = engine();
    const t = await e.topics.create('t', 1, { 'retention.ms': HOUR });
    const t0 = e.clock.now();
    await produce(e, 't', { 0: [{ value: 'a0' }, { value: 'a1' }] });
    e.clock.advance(20 * 60_000);
    await produce(e, 't', { 0: [{ value: 'b0' }, { value: 'b1' }] });
    e.clock.advance(20 * 60_000);
    await produce(e, 't', { 0: [{ value: 'c0' }] });

    // Exactly one hour after the first request: still kept (expiry needs "older than").
    e.clock.advance(t0 + HOUR - e.clock.now());
    let r = await maintainPartition(e.deps, options, {
      kind: 'partition',
      topic: 't',
      topicId: t.id,
      partition: 0,
    });
    expect(r.recordsExpired).toBe(0);
    expect((await readAll(e, 't', 0, 0)).map((x) => x.value)).toEqual(['a0', 'a1', 'b0', 'b1', 'c0']);

    e.clock.advance(1);
    r = await maintainPartition(e.deps, options, {
      kind: 'partition',
      topic: 't',
      topicId: t.id,
      partition: 0,
    });
    expect(r.recordsExpired).toBe(2);
    expect(await fetchError(e, 't', 0, 0)).toBe('OFFSET_OUT_OF_RANGE');
    expect(await fetchError(e, 't', 0, 1)).toBe('OFFSET_OUT_OF_RANGE');
    expect((await readAll(e, 't', 0)).map((x) => [x.offset, x.value])).toEqual([
      [2, 'b0'],
      [3, 'b1'],
      [4, 'c0'],
    ]);
    expect((await e.reader.describePartitions('t')).partitions[0]).toMatchObject({
      logStartOffset: 2,
      highWatermark: 5,
    });
    expect((await indexOf(e, t.id, 0)).map((i) => i.sk)).toEqual([keys.indexSk(3), keys.indexSk(4)]);

    // Much later, everything goes; the log is empty but keeps its offsets.
    e.clock.advance(2 * HOUR);
    await runMaintenancePass(e.deps, options);
    const head = headFromItem(await e.meta.get(keys.head(t.id, 0)));
    expect(head.data).toMatchObject({ start: 5, next: 5, size: 0 });
    expect(await objectKeysOf(e.objects)).toEqual([]);
    expect(await indexOf(e, t.id, 0)).toEqual([]);
    // Appends go on from the same offset.
    await produce(e, 't', { 0: [{ value: 'd0' }] });
    expect((await readAll(e, 't', 0)).map((x) => [x.offset, x.value])).toEqual([[5, 'd0']]);
  });

  it('never expires anything with retention.ms = -1', async () => {
    const e = engine();
    await e.topics.create('forever', 1, { 'retention.ms': -1 });
    await produce(e, 'forever', { 0: [{ value: 'x' }] });
    e.clock.advance(1000 * 24 * HOUR);
    const { report } = await runMaintenancePass(e.deps, options);
    expect(report.recordsExpired).toBe(0);
    expect((await readAll(e, 'forever', 0)).map((x) => x.value)).toEqual(['x']);
  });

  it('deletes an object shared by partitions only when the last one releases it', async () => {
    const e = engine();
    const t = await e.topics.create('shared', 2, { 'retention.ms': HOUR });
    await produce(e, 'shared', { 0: [{ value: 'p0' }], 1: [{ value: 'p1' }] });
    const [object] = await objectKeysOf(e.objects);
    e.clock.advance(HOUR + 1);
    await maintainPartition(e.deps, options, {
      kind: 'partition',
      topic: 'shared',
      topicId: t.id,
      partition: 0,
    });
    expect(await objectKeysOf(e.objects)).toEqual([object]);
    expect((await e.meta.get(keys.objectRef(object!)))?.data.refs).toBe(1);
    // Partition 1 still reads it.
    expect((await readAll(e, 'shared', 1)).map((x) => x.value)).toEqual(['p1']);
    await maintainPartition(e.deps, options, {
      kind: 'partition',
      topic: 'shared',
      topicId: t.id,
      partition: 1,
    });
    expect(await objectKeysOf(e.objects)).toEqual([]);
    expect(await e.meta.get(keys.objectRef(object!))).toBeUndefined();
  });
});

describe('size retention', () => {
  it('keeps the newest data within retention.bytes', async () => {
    const e = engine();
    const t = await e.topics.create('sized', 1);
    const value = 'v'.repeat(200);
    for (let i = 0; i < 10; i++) await produce(e, 'sized', { 0: [{ value: `${i}:${value}` }] });
    const head = headFromItem(await e.meta.get(keys.head(t.id, 0)));
    const perEntry = head.data.size / 10;
    const bound = Math.floor(perEntry * 3.5);
    await e.meta.transact([
      {
        type: 'update',
        key: keys.topic('sized'),
        set: { config: { ...t.config, 'retention.bytes': bound } },
      },
    ]);
    const { report } = await runMaintenancePass(e.deps, options);
    expect(report.recordsExpired).toBe(7);
    const after = headFromItem(await e.meta.get(keys.head(t.id, 0)));
    expect(after.data.size).toBeLessThanOrEqual(bound);
    expect(after.data.size).toBe(perEntry * 3);
    expect(after.data.start).toBe(7);
    expect((await readAll(e, 'sized', 0)).map((x) => x.value!.split(':')[0])).toEqual(['7', '8', '9']);
    expect(await objectKeysOf(e.objects)).toHaveLength(3);
  });
});

describe('retention and appends', () => {
  it('leaves the idempotent-producer state alone: a retried append is still a duplicate', async () => {
    const e = engine();
    const t = await e.topics.create('idem', 1, { 'retention.ms': HOUR });
    const request = (seq: number, value: string) => [
      {
        topic: 'idem',
        partition: 0,
        batches: [
          verifyBatch(
            encodeBatch([{ value: new TextEncoder().encode(value) }], {
              now: e.clock.now(),
              producerId: 42n,
              producerEpoch: 0,
              baseSequence: seq,
            }),
          ),
        ],
      },
    ];
    await e.appender.append(request(0, 'a'));
    const second = request(1, 'b');
    await e.appender.append(second);
    e.clock.advance(HOUR + 1);
    const { report } = await runMaintenancePass(e.deps, options);
    expect(report.recordsExpired).toBe(2);
    const head = headFromItem(await e.meta.get(keys.head(t.id, 0)));
    expect(Object.keys(head.data.p)).toEqual(['42']);
    // A fresh appender (no cached head) retrying the last request gets its original offset.
    const fresh = engine({ stores: { meta: e.meta, objects: e.objects }, clock: e.clock });
    const [retry] = await fresh.appender.append(second);
    expect(retry).toMatchObject({ baseOffset: 1, duplicate: true });
    const [next] = await fresh.appender.append(request(2, 'c'));
    expect(next).toMatchObject({ baseOffset: 2, duplicate: false });
  });
});

describe('crash recovery', () => {
  it('removes entries left below the log start by a pass that stopped after the head CAS', async () => {
    const e = engine();
    const t = await e.topics.create('crash', 1, { 'retention.ms': -1 });
    for (let i = 0; i < 4; i++) await produce(e, 'crash', { 0: [{ value: `${i}` }] });
    const before = await objectKeysOf(e.objects);
    // As if step 1 of retention had run and the process had died.
    const head = await e.meta.get(keys.head(t.id, 0));
    await e.meta.transact([
      { type: 'update', key: keys.head(t.id, 0), set: { start: 2 }, condition: { version: head!.version } },
    ]);
    expect(await fetchError(e, 'crash', 0, 0)).toBe('OFFSET_OUT_OF_RANGE');
    const { report } = await runMaintenancePass(e.deps, options);
    expect(report.objectsDeleted).toBe(2);
    expect((await indexOf(e, t.id, 0)).map((i) => i.sk)).toEqual([keys.indexSk(2), keys.indexSk(3)]);
    expect((await objectKeysOf(e.objects)).length).toBe(before.length - 2);
    expect((await readAll(e, 'crash', 0)).map((x) => x.value)).toEqual(['2', '3']);
  });
});
