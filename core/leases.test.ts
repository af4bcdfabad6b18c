import { describe, expect, it } from 'vitest';
import { MemoryMetaStore } from '../storage/memory.js';
import { ManualClock, seededRandom } from './clock.js';
import { InvalidRequestError } from './errors.js';
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
});
