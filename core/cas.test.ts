import { describe, expect, it } from 'vitest';
import { MemoryMetaStore } from '../storage/memory.js';
import { backoffDelay, casUpdate } from './cas.js';
import { type Clock, seededRandom } from './clock.js';
import { UnavailableError } from './errors.js';
import { ConflictError, type Item, type ItemKey, type MetaStore } from './ports.js';

const key: ItemKey = { pk: 'p', sk: 's' };

/** A clock whose sleeps return at once but are recorded. */
function recordingClock(): Clock & { sleeps: number[] } {
  const sleeps: number[] = [];
  return { sleeps, now: () => 0, sleep: async (ms) => void sleeps.push(ms) };
}

function counter(cur: Item | undefined) {
  return { data: { n: ((cur?.data.n as number | undefined) ?? 0) + 1 } };
}

describe('casUpdate', () => {
  it('creates, updates and returns the item as written', async () => {
    const store = new MemoryMetaStore();
    const opts = { clock: recordingClock(), random: seededRandom(1) };
    expect(await casUpdate(store, key, counter, opts)).toEqual({ ...key, version: 1, data: { n: 1 } });
    const second = await casUpdate(store, key, (cur) => ({ ...counter(cur), ttl: 99 }), opts);
    expect(second).toEqual({ ...key, version: 2, data: { n: 2 }, ttl: 99 });
    expect(await store.get(key)).toEqual(second);
  });

  it('returns the current item without writing when mutate wants no change', async () => {
    const store = new MemoryMetaStore();
    const opts = { clock: recordingClock(), random: seededRandom(1) };
    expect(await casUpdate(store, key, () => undefined, opts)).toBeUndefined();
    await casUpdate(store, key, counter, opts);
    expect(await casUpdate(store, key, () => undefined, opts)).toMatchObject({ version: 1 });
    expect((await store.get(key))?.version).toBe(1);
  });

  it('deletes, and deleting an absent item writes nothing', async () => {
    const store = new MemoryMetaStore();
    const opts = { clock: recordingClock(), random: seededRandom(1) };
    expect(await casUpdate(store, key, () => ({ delete: true }), opts)).toBeUndefined();
    await casUpdate(store, key, counter, opts);
    expect(await casUpdate(store, key, () => ({ delete: true }), opts)).toBeUndefined();
    expect(await store.get(key)).toBeUndefined();
  });

  it('retries a lost race from the ConflictError state, without re-reading', async () => {
    const inner = new MemoryMetaStore();
    let reads = 0;
    const store: MetaStore = {
      get: (k) => {
        reads++;
        return inner.get(k);
      },
      batchGet: (k) => inner.batchGet(k),
      query: (...a) => inner.query(...a),
      transact: (ops) => inner.transact(ops),
    };
    const clock = recordingClock();
    let calls = 0;
    const seen: (number | undefined)[] = [];
    const result = await casUpdate(
      store,
      key,
      async (cur) => {
        seen.push(cur?.version);
        // A rival writes between our read and our write, twice.
        if (calls++ < 2) await inner.transact([{ type: 'put', key, data: { n: 100 + calls } }]);
        return counter(cur);
      },
      { clock, random: seededRandom(7) },
    );
    expect(reads).toBe(1);
    expect(seen).toEqual([undefined, 1, 2]);
    expect(result).toEqual({ ...key, version: 3, data: { n: 103 } });
    expect(clock.sleeps).toHaveLength(2);
  });

  it('gives up with UnavailableError caused by the last ConflictError, after backing off', async () => {
    const inner = new MemoryMetaStore();
    const clock = recordingClock();
    const err = await casUpdate(
      inner,
      key,
      async (cur) => {
        await inner.transact([{ type: 'put', key, data: { rival: true } }]);
        return counter(cur);
      },
      { clock, random: seededRandom(3), maxAttempts: 6, baseDelayMs: 10, maxDelayMs: 100 },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as UnavailableError).cause).toBeInstanceOf(ConflictError);
    expect(clock.sleeps).toHaveLength(5);
    clock.sleeps.forEach((ms, attempt) => {
      expect(ms).toBeGreaterThanOrEqual(0);
      expect(ms).toBeLessThan(Math.min(100, 10 * 2 ** attempt));
    });
  });

  it('lets errors of mutate and of the store propagate untouched', async () => {
    const store = new MemoryMetaStore();
    const opts = { clock: recordingClock(), random: seededRandom(1) };
    const boom = new Error('boom');
    await expect(
      casUpdate(
        store,
        key,
        () => {
          throw boom;
        },
        opts,
      ),
    ).rejects.toBe(boom);
    const failing: MetaStore = {
      get: (k) => store.get(k),
      batchGet: (k) => store.batchGet(k),
      query: (...a) => store.query(...a),
      transact: () => Promise.reject(boom),
    };
    await expect(casUpdate(failing, key, counter, opts)).rejects.toBe(boom);
  });

  it('loses no update among 32 concurrent writers', async () => {
    const store = new MemoryMetaStore();
    const clock: Clock = { now: Date.now, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };
    await Promise.all(
      Array.from({ length: 32 }, (_, i) =>
        casUpdate(store, key, counter, {
          clock,
          random: seededRandom(i),
          baseDelayMs: 1,
          maxDelayMs: 20,
          maxAttempts: 100,
        }),
      ),
    );
    expect(await store.get(key)).toMatchObject({ version: 32, data: { n: 32 } });
  });
});

describe('backoffDelay', () => {
  it('stays under a ceiling that doubles up to the maximum', () => {
    expect(backoffDelay(0, () => 0.999, 5, 500)).toBe(4);
    expect(backoffDelay(3, () => 0.999, 5, 500)).toBe(39);
    expect(backoffDelay(30, () => 0.999, 5, 500)).toBe(499);
    expect(backoffDelay(30, () => 0, 5, 500)).toBe(0);
  });
});
