import { describe, expect, it } from 'vitest';
import { MemoryMetaStore, MemoryObjectStore } from '../storage/memory.js';
import { Meter, MeteredMetaStore, MeteredObjectStore } from '../storage/metered.js';
import { type Engine, engine, records, run } from '../test/helpers/engine.js';
import { PARTITIONS_PER_COMMIT } from './append.js';
import { ManualClock } from './clock.js';
import { SluiceError } from './errors.js';
import { keys } from './keys.js';
import type { MetaStore, ObjectStore } from './ports.js';

const dec = new TextDecoder();

async function readAll(e: Engine, topic: string, partition: number) {
  const out: { offset: number; value: string }[] = [];
  let offset = 0;
  for (;;) {
    const r = await e.reader.fetchRecords(topic, partition, offset, { maxBytes: 1 << 20 });
    out.push(...r.records.map((x) => ({ offset: x.offset, value: dec.decode(x.value!) })));
    if (r.nextOffset >= r.highWatermark) return out;
    offset = r.nextOffset;
  }
}

describe('append and fetch', () => {
  it('assigns contiguous offsets per partition and reads them back', async () => {
    const e = engine();
    await e.topics.create('t', 3);
    const r1 = await e.appender.append([run('t', 0, records(3)), run('t', 2, records(2))]);
    expect(r1.map((r) => [r.partition, r.baseOffset, r.count])).toEqual([
      [0, 0, 3],
      [2, 0, 2],
    ]);
    const r2 = await e.appender.append([run('t', 0, records(4, { prefix: 'w' }))]);
    expect(r2[0]!.baseOffset).toBe(3);
    const all = await readAll(e, 't', 0);
    expect(all.map((x) => x.offset)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(all.map((x) => x.value)).toEqual(['v0', 'v1', 'v2', 'w0', 'w1', 'w2', 'w3']);
    const mid = await e.reader.fetchRecords('t', 0, 4);
    expect(mid.records[0]!.offset).toBe(4);
    expect(mid.highWatermark).toBe(7);
    expect(mid.nextOffset).toBe(7);
  });

  it('writes one object per request, whatever the number of partitions', async () => {
    const e = engine();
    await e.topics.create('t', 8);
    await e.appender.append(Array.from({ length: 8 }, (_, p) => run('t', p, records(2))));
    const page = await e.objects.list('data/');
    expect(page.objects).toHaveLength(1);
    const topic = await e.topics.get('t');
    const registry = await e.meta.query(`o#${page.objects[0]!.key}`);
    expect(registry.items[0]!.data.refs).toBe(8);
    const head = await e.meta.get(keys.head(topic.id, 5));
    expect(head!.data.next).toBe(2);
  });

  it('rejects unknown topics and partitions, and out-of-range offsets', async () => {
    const e = engine();
    await e.topics.create('t', 2);
    await expect(e.appender.append([run('nope', 0, records(1))])).rejects.toMatchObject({
      code: 'UNKNOWN_TOPIC_OR_PARTITION',
    });
    await expect(e.appender.append([run('t', 2, records(1))])).rejects.toMatchObject({
      code: 'UNKNOWN_TOPIC_OR_PARTITION',
    });
    await e.appender.append([run('t', 0, records(2))]);
    await expect(e.reader.fetchRecords('t', 0, 3)).rejects.toMatchObject({ code: 'OFFSET_OUT_OF_RANGE' });
    await expect(e.reader.fetchRecords('t', 0, -1)).rejects.toMatchObject({ code: 'OFFSET_OUT_OF_RANGE' });
    const atEnd = await e.reader.fetchRecords('t', 0, 2);
    expect(atEnd.records).toEqual([]);
  });

  it('honours maxRecords and returns at least one record beyond maxBytes', async () => {
    const e = engine();
    await e.topics.create('t');
    await e.appender.append([run('t', 0, records(10))]);
    const two = await e.reader.fetchRecords('t', 0, 3, { maxRecords: 2 });
    expect(two.records.map((r) => r.offset)).toEqual([3, 4]);
    expect(two.nextOffset).toBe(5);
    const tiny = await e.reader.fetchRecords('t', 0, 0, { maxBytes: 1 });
    expect(tiny.records).toHaveLength(1);
  });

  it('lists offsets by time', async () => {
    const e = engine();
    await e.topics.create('t');
    await e.appender.append([run('t', 0, records(5))]); // timestamps 1000..1004
    expect(await e.reader.listOffset('t', 0, 'earliest')).toEqual({ offset: 0 });
    expect(await e.reader.listOffset('t', 0, 'latest')).toEqual({ offset: 5 });
    expect(await e.reader.listOffset('t', 0, 1003)).toEqual({ offset: 3, timestamp: 1003 });
    expect(await e.reader.listOffset('t', 0, 99_999)).toEqual({ offset: 5 });
  });

  it('learns heads from conflicts: two instances interleave without losing offsets', async () => {
    const stores = { meta: new MemoryMetaStore(), objects: new MemoryObjectStore() };
    const a = engine(stores, 1);
    const b = engine(stores, 2);
    await a.topics.create('t');
    for (let i = 0; i < 5; i++) {
      await a.appender.append([run('t', 0, records(1, { prefix: `a${i}-` }))]);
      await b.appender.append([run('t', 0, records(1, { prefix: `b${i}-` }))]);
    }
    const all = await readAll(a, 't', 0);
    expect(all.map((x) => x.offset)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('keeps every acked record at its offset under 32 concurrent producers', async () => {
    const stores = { meta: new MemoryMetaStore(), objects: new MemoryObjectStore() };
    const engines = Array.from({ length: 32 }, (_, i) => engine(stores, i + 1));
    await engines[0]!.topics.create('t');
    const acks = await Promise.all(
      engines.map(async (e, i) => {
        const out: [number, string][] = [];
        for (let j = 0; j < 3; j++) {
          const [r] = await e.appender.append([run('t', 0, records(1, { prefix: `c${i}-${j}-` }))]);
          out.push([r!.baseOffset, `c${i}-${j}-0`]);
        }
        return out;
      }),
    );
    const all = await readAll(engines[0]!, 't', 0);
    expect(all.map((x) => x.offset)).toEqual(Array.from({ length: 96 }, (_, i) => i));
    for (const [offset, value] of acks.flat()) expect(all[offset]!.value).toBe(value);
  });
});

describe('idempotent producers', () => {
  it('returns the original offsets for a retry and appends nothing', async () => {
    const e = engine();
    await e.topics.create('t');
    const p = { id: 7n, epoch: 0, seq: 0 };
    const first = await e.appender.append([run('t', 0, records(3), p)]);
    const again = await e.appender.append([run('t', 0, records(3), p)]);
    expect(again[0]).toMatchObject({ baseOffset: first[0]!.baseOffset, duplicate: true });
    const next = await e.appender.append([run('t', 0, records(2), { ...p, seq: 3 })]);
    expect(next[0]!.baseOffset).toBe(3);
    // A fresh instance (cold cache) still recognises the retry from the stored head.
    const cold = engine({ meta: e.meta, objects: e.objects });
    const retry = await cold.appender.append([run('t', 0, records(2), { ...p, seq: 3 })]);
    expect(retry[0]).toMatchObject({ baseOffset: 3, duplicate: true });
    expect((await readAll(e, 't', 0)).length).toBe(5);
  });

  it('rejects gaps and fenced epochs', async () => {
    const e = engine();
    await e.topics.create('t');
    await e.appender.append([run('t', 0, records(2), { id: 9n, epoch: 1, seq: 0 })]);
    await expect(
      e.appender.append([run('t', 0, records(1), { id: 9n, epoch: 1, seq: 5 })]),
    ).rejects.toMatchObject({
      code: 'OUT_OF_ORDER_SEQUENCE_NUMBER',
    });
    await expect(
      e.appender.append([run('t', 0, records(1), { id: 9n, epoch: 0, seq: 2 })]),
    ).rejects.toMatchObject({
      code: 'INVALID_PRODUCER_EPOCH',
    });
    // A new epoch starts at sequence 0.
    const r = await e.appender.append([run('t', 0, records(1), { id: 9n, epoch: 2, seq: 0 })]);
    expect(r[0]!.baseOffset).toBe(2);
  });

  it('does not believe a sequence error from a stale cached head', async () => {
    const stores = { meta: new MemoryMetaStore(), objects: new MemoryObjectStore() };
    const a = engine(stores, 1);
    const b = engine(stores, 2);
    await a.topics.create('t');
    const p = { id: 3n, epoch: 0 };
    await a.appender.append([run('t', 0, records(1), { ...p, seq: 0 })]);
    await b.appender.append([run('t', 0, records(1), { ...p, seq: 1 })]);
    // a's cache says the last sequence is 0; the truth is 1, so 2 is next.
    const r = await a.appender.append([run('t', 0, records(1), { ...p, seq: 2 })]);
    expect(r[0]!.baseOffset).toBe(2);
  });
});

describe('topics', () => {
  it('validates names, partitions and config', async () => {
    const e = engine();
    for (const bad of ['', '.', '..', 'a b', 'x'.repeat(250), 'ü']) {
      await expect(e.topics.create(bad)).rejects.toMatchObject({ code: 'INVALID_TOPIC_EXCEPTION' });
    }
    await expect(e.topics.create('ok', 0)).rejects.toMatchObject({ code: 'INVALID_PARTITIONS' });
    await expect(e.topics.create('ok', 10_001)).rejects.toMatchObject({ code: 'INVALID_PARTITIONS' });
    await expect(e.topics.create('ok', 1, { 'retention.ms': 'soon' })).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
    });
    await expect(e.topics.create('ok', 1, { 'no.such': 1 })).rejects.toMatchObject({
      code: 'INVALID_CONFIG',
    });
    const t = await e.topics.create('ok', 2, { 'retention.ms': '1000', 'cleanup.policy': 'compact' });
    expect(t.config['retention.ms']).toBe(1000);
    await expect(e.topics.create('ok')).rejects.toMatchObject({ code: 'TOPIC_ALREADY_EXISTS' });
    expect((await e.topics.list()).map((x) => x.name)).toEqual(['ok']);
  });

  it('grows partitions and makes a deleted topic unreachable at once', async () => {
    const e = engine();
    await e.topics.create('t', 1);
    await e.appender.append([run('t', 0, records(2))]);
    await expect(e.topics.addPartitions('t', 0)).rejects.toBeInstanceOf(SluiceError);
    await e.topics.addPartitions('t', 3);
    await e.appender.append([run('t', 2, records(1))]);
    await e.topics.delete('t');
    await expect(e.reader.fetchRecords('t', 0, 0)).rejects.toMatchObject({
      code: 'UNKNOWN_TOPIC_OR_PARTITION',
    });
    await e.topics.create('t', 1);
    const fresh = await e.reader.fetchRecords('t', 0, 0);
    expect(fresh.highWatermark).toBe(0);
    expect((await e.meta.query(keys.deletedTopicsPk)).items).toHaveLength(1);
  });
});

describe('deleting a topic (docs/design.md "Topic incarnations")', () => {
  it('tombstones every head in transactions of 25, then drops the catalog entry: an appender caching the topic appends to the new one', async () => {
    const meter = new Meter();
    const stores = {
      meta: new MeteredMetaStore(new MemoryMetaStore(), meter),
      objects: new MeteredObjectStore(new MemoryObjectStore(), meter),
    };
    const e = engine(stores);
    const stale = engine(stores, 2);
    await e.topics.create('t', 60);
    await stale.appender.append([run('t', 7, records(2))]);
    const old = await e.topics.get('t');
    meter.reset();
    await e.topics.delete('t');
    // 1 get of the catalog entry; 3 batch gets and 3 transactions of heads (25 + 25 + 10);
    // 1 transaction deleting the entry and listing the id.
    expect(meter.snapshot().dynamo).toMatchObject({ get: 1, batchGet: 3, transact: 4, writeItems: 62 });
    const heads = await stores.meta.batchGet([keys.head(old.id, 7), keys.head(old.id, 59)]);
    expect(heads.map((h) => [h?.data.del, h?.data.next])).toEqual([
      [true, 2],
      [true, 0],
    ]);

    await e.topics.create('t', 1);
    // The stale appender's cache still holds the old topic: refused by the tombstone, it
    // appends to the topic of that name as it is now.
    expect((await stale.topics.get('t')).id).toBe(old.id);
    const [landed] = await stale.appender.append([run('t', 0, records(3))]);
    expect(landed).toMatchObject({ baseOffset: 0, count: 3 });
    expect((await e.reader.fetchRecords('t', 0, 0)).records).toHaveLength(3);
    expect((await stores.meta.get(keys.head(old.id, 0)))?.data).toMatchObject({ del: true, next: 0 });
  });
});

describe('stored data integrity', () => {
  it('refuses to serve a stored batch whose CRC no longer matches', async () => {
    const objects = new MemoryObjectStore();
    const e = engine({ meta: new MemoryMetaStore(), objects });
    await e.topics.create('t');
    await e.appender.append([run('t', 0, records(3))]);
    const [obj] = (await objects.list('data/')).objects;
    const bytes = await objects.get(obj!.key);
    const topic = await e.topics.get('t');
    const [entry] = (await e.meta.query(keys.partitionPk(topic.id, 0), { beginsWith: keys.indexPrefix }))
      .items;
    const { pos, len } = entry!.data as { pos: number; len: number };
    bytes[pos + len - 3]! ^= 0xff; // inside the last record of the batch
    await objects.delete([obj!.key]);
    await objects.put(obj!.key, bytes);
    await expect(e.reader.fetchRecords('t', 0, 0)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });
});

describe('multi-chunk requests', () => {
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

describe('listOffset by timestamp', () => {
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

describe('registry version between chunks', () => {
  it('a maintenance pass that releases a reference of chunk 1 does not make chunk 2 uncommittable', async () => {
    const { engine: mEngine, memoryStores, T0 } = await import('../test/maintenance/harness.js');
    const { maintainPartition, resolveMaintenanceOptions } = await import('./maintenance/index.js');
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

describe('producer state pruning', () => {
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
