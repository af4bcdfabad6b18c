import { describe, expect, it } from 'vitest';
import { FaultInjector, FaultyMetaStore } from '../storage/faulty.js';
import { MemoryMetaStore } from '../storage/memory.js';
import { ManualClock, seededRandom } from './clock.js';
import { InvalidRequestError, UnavailableError } from './errors.js';
import { acquireLease, fenceOp, releaseLease, renewLease } from './leases.js';
import { ConflictError, type ItemKey } from './ports.js';

const key: ItemKey = { pk: 'p#t1#0', sk: 'lease' };

function setup() {
  const clock = new ManualClock();
  return { store: new MemoryMetaStore(), clock, opts: { clock, random: seededRandom(42) } };
}

describe('leases', () => {
  it('grants a free lease at epoch 1 and refuses it to others until it expires', async () => {
    const { store, clock, opts } = setup();
    const a = await acquireLease(store, key, 'a', 1000, opts);
    expect(a).toEqual({ key, owner: 'a', epoch: 1, expiresAt: clock.now() + 1000, version: 1 });
    clock.advance(999);
    expect(await acquireLease(store, key, 'b', 1000, opts)).toBeUndefined();
    clock.advance(1);
    const b = await acquireLease(store, key, 'b', 1000, opts);
    expect(b).toMatchObject({ owner: 'b', epoch: 2, version: 2 });
  });

  it('keeps the epoch when the holder re-acquires its own lease', async () => {
    const { store, clock, opts } = setup();
    await acquireLease(store, key, 'a', 1000, opts);
    clock.advance(5000);
    expect(await acquireLease(store, key, 'a', 1000, opts)).toMatchObject({ epoch: 1, version: 2 });
  });

  it('renews a held lease and refuses to renew a lost one', async () => {
    const { store, clock, opts } = setup();
    const a1 = (await acquireLease(store, key, 'a', 1000, opts))!;
    clock.advance(500);
    const a2 = await renewLease(store, a1, 1000, opts);
    expect(a2).toEqual({ ...a1, expiresAt: clock.now() + 1000, version: 2 });
    clock.advance(999);
    expect(await acquireLease(store, key, 'b', 1000, opts)).toBeUndefined();
    clock.advance(1);
    const b = (await acquireLease(store, key, 'b', 1000, opts))!;
    expect(b.epoch).toBe(2);
    expect(await renewLease(store, a2!, 1000, opts)).toBeUndefined();
    expect((await store.get(key))?.data).toMatchObject({ owner: 'b', epoch: 2 });
  });

  it('releases so another owner can take over at a higher epoch', async () => {
    const { store, opts } = setup();
    const a = (await acquireLease(store, key, 'a', 60_000, opts))!;
    expect(await releaseLease(store, a)).toBe(true);
    expect(await releaseLease(store, a)).toBe(false);
    expect(await acquireLease(store, key, 'b', 1000, opts)).toMatchObject({ owner: 'b', epoch: 2 });
  });

  it('fences a deposed holder: its transaction fails and writes nothing', async () => {
    const { store, clock, opts } = setup();
    const target = { pk: 'p#t1#0', sk: 'i#0000000000000010' };
    const a = (await acquireLease(store, key, 'a', 1000, opts))!;
    await store.transact([fenceOp(a), { type: 'put', key: target, data: { by: 'a' } }]);
    clock.advance(1000);
    const b = (await acquireLease(store, key, 'b', 1000, opts))!;
    const err = await store.transact([fenceOp(a), { type: 'delete', key: target }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConflictError);
    expect((err as ConflictError).currentOf(key)?.data).toMatchObject({ owner: 'b', epoch: 2 });
    expect(await store.get(target)).toMatchObject({ data: { by: 'a' } });
    await store.transact([fenceOp(b), { type: 'delete', key: target }]);
    expect(await store.get(target)).toBeUndefined();
  });

  it('gives one lease to exactly one of many concurrent contenders', async () => {
    const { store, clock, opts } = setup();
    let done = false;
    const all = Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        acquireLease(store, key, `w${i}`, 1000, { ...opts, random: seededRandom(i) }),
      ),
    ).finally(() => {
      done = true;
    });
    // Losers back off on the manual clock: move it 1 ms at a time, far less than the ttl.
    while (!done) {
      await new Promise((r) => setImmediate(r));
      clock.advance(1);
    }
    const results = await all;
    const winners = results.filter((l) => l !== undefined);
    expect(winners).toHaveLength(1);
    expect(winners[0]?.epoch).toBe(1);
  });

  it('rejects bad arguments with typed errors', async () => {
    const { store, opts } = setup();
    await expect(acquireLease(store, key, '', 1000, opts)).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(acquireLease(store, key, 'a', 0, opts)).rejects.toBeInstanceOf(InvalidRequestError);
  });

  it('never has two holders when DynamoDB cancels transactions for conflicts', async () => {
    const clock = new ManualClock();
    const faults = new FaultInjector({ seed: 5, rates: { transact: { conflict: 0.3 } } });
    const store = new FaultyMetaStore(new MemoryMetaStore(), faults);
    const random = seededRandom(9);
    const granted: { owner: string; epoch: number; expiresAt: number }[] = [];
    const retried = async <T>(call: () => Promise<T>): Promise<T> => {
      for (;;) {
        try {
          return await call();
        } catch (error) {
          if (!(error instanceof UnavailableError)) throw error;
        }
      }
    };
    for (let step = 0; step < 300; step++) {
      const owner = `w${Math.floor(random() * 4)}`;
      const lease = await retried(() => acquireLease(store, key, owner, 1000, { clock, random }));
      if (lease) {
        const now = clock.now();
        const rivals = granted.filter((g) => g.owner !== owner && g.expiresAt > now);
        expect(rivals).toEqual([]);
        const last = granted.at(-1);
        if (last) expect(lease.epoch).toBeGreaterThanOrEqual(last.epoch);
        if (last && last.owner !== owner) expect(lease.epoch).toBeGreaterThan(last.epoch);
        granted.push({ owner, epoch: lease.epoch, expiresAt: lease.expiresAt });
      }
      clock.advance(Math.floor(random() * 400));
    }
    expect(new Set(granted.map((g) => g.owner)).size).toBe(4);
    expect(faults.events.filter((e) => e.fault === 'conflict').length).toBeGreaterThan(20);
  });
});
