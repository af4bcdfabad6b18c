/**
 * Regression tests from the review of the write and read paths (each failed before its fix).
 */
import { describe, expect, it } from 'vitest';
import { PARTITIONS_PER_COMMIT } from '../../core/append.js';
import { ManualClock } from '../../core/clock.js';
import { SluiceError } from '../../core/errors.js';
import type { MetaStore, ObjectStore } from '../../core/ports.js';
import { MemoryMetaStore, MemoryObjectStore } from '../../storage/memory.js';
import { engine, records, run } from '../helpers/engine.js';

describe('review: multi-chunk requests', () => {
  it('a request over 49 partitions that fails changes nothing (API.md: atomic, a failed request changes nothing)', async () => {
    const e = engine();
    const n = PARTITIONS_PER_COMMIT + 11; // 60: two chunks
    await e.topics.create('t', n);
    const pid = 7n;
    // The producer has appended seq 0 to the last partition.
    await e.appender.append([run('t', n - 1, records(1), { id: pid, epoch: 0, seq: 0 })]);
    // One request: partitions 0..58 without a producer, the last one with an out-of-order sequence.
    const runs = Array.from({ length: n }, (_, p) =>
      p === n - 1 ? run('t', p, records(1), { id: pid, epoch: 0, seq: 5 }) : run('t', p, records(1)),
    );
    const err = await e.appender.append(runs).catch((x) => x);
    expect(err).toBeInstanceOf(SluiceError);
    expect((err as SluiceError).code).toBe('OUT_OF_ORDER_SEQUENCE_NUMBER');
    // The request failed: nothing of it may be visible.
    const { partitions } = await e.reader.describePartitions('t');
    expect(partitions.slice(0, n - 1).map((p) => p.highWatermark)).toEqual(new Array(n - 1).fill(0));
  });
});

describe('review: listOffset by timestamp', () => {
  it('reads only around the entry that holds the timestamp, not the whole partition', async () => {
    let gets = 0;
    const objects = new MemoryObjectStore();
    const counting = new Proxy(objects, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (prop === 'get') gets++;
          return value.apply(target, args);
        };
      },
    }) as ObjectStore;
    const e = engine({ meta: new MemoryMetaStore(), objects: counting });
    await e.topics.create('t', 1);
    for (let i = 0; i < 200; i++)
      await e.appender.append([run('t', 0, records(1, { timestamp: 10_000 + i }))]);
    gets = 0;
    const found = await e.reader.listOffset('t', 0, 10_000);
    expect(found.offset).toBe(0);
    // One entry (maybe a few) is enough; today every one of the 200 objects is read.
    expect(gets).toBeLessThanOrEqual(10);
  });
});

describe('review: registry version between chunks', () => {
  it('a maintenance pass that releases a reference of chunk 1 does not make chunk 2 uncommittable', async () => {
    const { engine: mEngine, memoryStores, T0 } = await import('../maintenance/harness.js');
    const { maintainPartition, resolveMaintenanceOptions } = await import('../../core/maintenance/index.js');
    const clock = new ManualClock(T0, { autoAdvance: true });
    const stores = memoryStores(clock);
    let hook: (() => Promise<void>) | undefined;
    const meta = new Proxy(stores.meta, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop !== 'transact') return typeof value === 'function' ? value.bind(target) : value;
        return async (ops: Parameters<MetaStore['transact']>[0]) => {
          // Chunk 2's commit: the registry op is an update (chunk 1 created it).
          const registryUpdate = ops.some(
            (op) => op.key.pk.startsWith('o#') && op.type === 'update' && op.set,
          );
          if (registryUpdate && hook) {
            const h = hook;
            hook = undefined;
            await h();
          }
          return target.transact(ops);
        };
      },
    }) as MetaStore;
    const e = mEngine({ stores: { meta, objects: stores.objects }, clock });
    const n = PARTITIONS_PER_COMMIT + 1;
    // Records stamped long ago (a backfill): time retention expires them at once.
    const { id } = await e.topics.create('t', n, { 'retention.ms': 60_000 });
    hook = async () => {
      await maintainPartition(e.deps, resolveMaintenanceOptions(), {
        kind: 'partition',
        topic: 't',
        topicId: id,
        partition: 0,
      });
    };
    const runs = Array.from({ length: n }, (_, p) => run('t', p, records(1)));
    const err = await e.appender.append(runs).then(
      () => undefined,
      (x) => x,
    );
    expect(hook).toBeUndefined(); // the pass ran between the two chunks
    expect(err).toBeUndefined();
    const { partitions } = await e.reader.describePartitions('t');
    expect(partitions[n - 1]!.highWatermark).toBe(1);
  });
});

describe('review: producer state pruning', () => {
  it('a retry is still deduplicated after 64 other producers wrote to the partition', async () => {
    const e = engine();
    await e.topics.create('t', 1);
    const first = run('t', 0, records(2), { id: 1n, epoch: 0, seq: 0 });
    const [original] = await e.appender.append([first]);
    // Many idempotent producers (e.g. one per Lambda instance) write to the same partition
    // while producer 1 waits out its retry backoff.
    for (let i = 2; i <= 66; i++) {
      e.clock.advance(10);
      await e.appender.append([run('t', 0, records(1), { id: BigInt(i), epoch: 0, seq: 0 })]);
    }
    e.clock.advance(10);
    const [retry] = await e.appender.append([run('t', 0, records(2), { id: 1n, epoch: 0, seq: 0 })]);
    expect(retry!.baseOffset).toBe(original!.baseOffset);
    expect(retry!.duplicate).toBe(true);
  });
});
