import { describe, expect, it } from 'vitest';
import { MemoryMetaStore } from '../storage/memory.js';
import { ManualClock, seededRandom } from './clock.js';
import type { Item, ItemKey, MetaStore } from './ports.js';
import { Topics } from './topics.js';

/** A MetaStore that counts gets and can hold them until released. */
function counting(inner: MetaStore) {
  const held: (() => void)[] = [];
  const store = {
    gets: 0,
    hold: false,
    release: () => {
      for (const r of held.splice(0)) r();
    },
    get: async (key: ItemKey): Promise<Item | undefined> => {
      store.gets++;
      if (store.hold) await new Promise<void>((r) => held.push(r));
      return inner.get(key);
    },
    batchGet: (k: readonly ItemKey[]) => inner.batchGet(k),
    query: (...a: Parameters<MetaStore['query']>) => inner.query(...a),
    transact: (ops: Parameters<MetaStore['transact']>[0]) => inner.transact(ops),
  };
  return store;
}

const flush = () => new Promise((r) => setImmediate(r));

describe('Topics cache (refresh ahead)', () => {
  it('answers from the cache past half its TTL while one read refreshes it, and waits past all of it', async () => {
    const inner = new MemoryMetaStore();
    const clock = new ManualClock();
    const options = { clock, random: seededRandom(1), cacheTtlMs: 1000 };
    await new Topics(inner, options).create('t', 1);
    const store = counting(inner);
    const topics = new Topics(store, options);
    expect((await topics.get('t')).partitions).toBe(1);
    expect(store.gets).toBe(1);
    clock.advance(400);
    await topics.get('t');
    expect(store.gets).toBe(1); // fresh: no read
    // Grown elsewhere; past half the TTL the cached answer comes back at once, and one read
    // (not one per request) brings the change.
    await new Topics(inner, options).addPartitions('t', 3);
    clock.advance(200);
    store.hold = true;
    expect((await topics.get('t')).partitions).toBe(1);
    expect((await topics.get('t')).partitions).toBe(1);
    expect(store.gets).toBe(2);
    store.hold = false;
    store.release();
    await flush();
    expect((await topics.get('t')).partitions).toBe(3);
    expect(store.gets).toBe(2);
  });

  it('dates a refresh from when its read started, and never serves an entry past its TTL', async () => {
    const inner = new MemoryMetaStore();
    const clock = new ManualClock();
    const options = { clock, random: seededRandom(1), cacheTtlMs: 1000 };
    await new Topics(inner, options).create('t', 1);
    const store = counting(inner);
    const topics = new Topics(store, options);
    await topics.get('t');
    clock.advance(600);
    store.hold = true;
    await topics.get('t'); // starts a refresh at 600 that lands much later
    clock.advance(5000);
    store.release();
    await flush();
    // Dated 600: at 5600 it is long expired, so this request reads (and waits) itself.
    await new Topics(inner, options).addPartitions('t', 2);
    const pending = topics.get('t');
    await flush();
    expect(store.gets).toBe(3);
    store.release();
    expect((await pending).partitions).toBe(2);
  });

  it('keeps the cached topic when a refresh fails, until it expires', async () => {
    const inner = new MemoryMetaStore();
    const clock = new ManualClock();
    const options = { clock, random: seededRandom(1), cacheTtlMs: 1000 };
    await new Topics(inner, options).create('t', 1);
    let fail = false;
    const store: MetaStore = {
      get: async (k) => {
        if (fail) throw new Error('store down');
        return inner.get(k);
      },
      batchGet: (k) => inner.batchGet(k),
      query: (...a) => inner.query(...a),
      transact: (ops) => inner.transact(ops),
    };
    const topics = new Topics(store, options);
    await topics.get('t');
    clock.advance(700);
    fail = true;
    expect((await topics.get('t')).partitions).toBe(1);
    await flush();
    clock.advance(400);
    await expect(topics.get('t')).rejects.toThrow('store down');
  });
});
