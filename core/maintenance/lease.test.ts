import { describe, expect, it } from 'vitest';
import { engine, indexOf, produce } from '../../test/maintenance/harness.js';
import { keys } from '../keys.js';
import { acquireLease } from '../leases.js';
import { LeaseLostError, PartitionLease } from './lease.js';
import { resolveMaintenanceOptions } from './options.js';
import { maintainPartition } from './partition.js';
import { runMaintenancePass } from './run.js';

const options = resolveMaintenanceOptions({
  leaseTtlMs: 10_000,
  minSmallEntries: 2,
  maxCompactionDelayMs: 0,
});

describe('partition leases', () => {
  it('skips a partition whose lease another worker holds, and works once it expires', async () => {
    const e = engine();
    const t = await e.topics.create('t', 1, { 'retention.ms': -1 });
    for (let i = 0; i < 4; i++) await produce(e, 't', { 0: [{ value: `${i}` }] });
    await acquireLease(e.meta, keys.lease(t.id, 0), 'other', 10_000, e.deps);
    const busy = await runMaintenancePass(e.deps, options);
    expect(busy.report).toMatchObject({ partitions: 0, leasesBusy: 1, entriesCompacted: 0 });
    expect(await indexOf(e, t.id, 0)).toHaveLength(4);

    e.clock.advance(10_001);
    const done = await runMaintenancePass(e.deps, options);
    expect(done.report).toMatchObject({ partitions: 1, leasesBusy: 0, entriesCompacted: 4 });
    const lease = await e.meta.get(keys.lease(t.id, 0));
    // Released: expired at once, the epoch kept so the next holder's is higher.
    expect(lease?.data).toMatchObject({ owner: 'test', epoch: 2, expiresAt: 0 });
  });

  it('fails every write of a deposed holder', async () => {
    const e = engine();
    const t = await e.topics.create('t', 1);
    const mine = (await PartitionLease.acquire(e.deps, t.id, 0, 10_000))!;
    e.clock.advance(10_001);
    const theirs = await acquireLease(e.meta, keys.lease(t.id, 0), 'usurper', 10_000, e.deps);
    expect(theirs?.epoch).toBe(2);
    const write = mine.transact([{ type: 'put', key: { pk: 'x', sk: 'y' }, data: {} }]);
    await expect(write).rejects.toBeInstanceOf(LeaseLostError);
    expect(await e.meta.get({ pk: 'x', sk: 'y' })).toBeUndefined();
    await expect(mine.keepAlive()).rejects.toBeInstanceOf(LeaseLostError);
  });

  it('stops a pass whose lease is taken over midway, leaving the partition consistent', async () => {
    const e = engine();
    const t = await e.topics.create('t', 1, { 'retention.ms': -1 });
    for (let i = 0; i < 60; i++) await produce(e, 't', { 0: [{ value: `${i}` }] });
    // Steal the lease right after the first swap transaction of the rewrite.
    const meta = e.deps.meta;
    let transactions = 0;
    const stealing = {
      ...e.deps,
      meta: {
        get: meta.get.bind(meta),
        batchGet: meta.batchGet.bind(meta),
        query: meta.query.bind(meta),
        async transact(ops: Parameters<typeof meta.transact>[0]) {
          await meta.transact(ops);
          if (ops.some((op) => op.key.sk.startsWith('i#')) && ++transactions === 1) {
            await meta.transact([
              { type: 'put', key: keys.lease(t.id, 0), data: { owner: 'usurper', epoch: 9, expiresAt: 0 } },
            ]);
          }
        },
      },
    };
    const report = await maintainPartition(stealing, options, {
      kind: 'partition',
      topic: 't',
      topicId: t.id,
      partition: 0,
    });
    expect(report).toMatchObject({ partitions: 0, leasesBusy: 1 });
    // The first 48 entries were swapped, the merge never happened: still a valid index.
    const index = await indexOf(e, t.id, 0);
    expect(index).toHaveLength(13);
    const values = [];
    for (let offset = 0; offset < 60; ) {
      const r = await e.reader.fetchRecords('t', 0, offset);
      values.push(...r.records.map((x) => new TextDecoder().decode(x.value!)));
      offset = r.nextOffset;
    }
    expect(values).toEqual(Array.from({ length: 60 }, (_, i) => `${i}`));
  });
});
