import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { ThrottledError, UnavailableError } from '../core/errors.js';
import { FaultInjector, FaultyMetaStore, FaultyObjectStore, type FaultyOptions } from './faulty.js';
import { MemoryMetaStore, MemoryObjectStore } from './memory.js';

const key = { pk: 'p', sk: 's' };

/** Runs a fixed script of 60 calls and returns what happened to each. */
async function script(options: FaultyOptions): Promise<string[]> {
  const faults = new FaultInjector(options);
  const meta = new FaultyMetaStore(new MemoryMetaStore(), faults);
  const objects = new FaultyObjectStore(new MemoryObjectStore(), faults);
  const outcomes: string[] = [];
  for (let i = 0; i < 20; i++) {
    for (const call of [
      () => meta.transact([{ type: 'put', key, data: { i } }]),
      () => meta.get(key),
      () => objects.put(`k${i}`, new Uint8Array([i])),
    ]) {
      outcomes.push(
        await call().then(
          () => 'ok',
          (e: Error) => e.name,
        ),
      );
    }
  }
  return outcomes;
}

describe('FaultInjector', () => {
  const rates = { default: { before: 0.1, after: 0.1, throttle: 0.1 } };

  it('injects the same faults for the same seed, and others for another seed', async () => {
    const a = await script({ seed: 42, rates });
    const b = await script({ seed: 42, rates });
    const c = await script({ seed: 43, rates });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    expect(a).toContain('ok');
    expect(a).toContain('UnavailableError');
    expect(a).toContain('ThrottledError');
  });

  it('injects nothing without rates', async () => {
    expect(new Set(await script({ seed: 1 }))).toEqual(new Set(['ok']));
  });

  it('applies rates per kind of call, with a default for the others', async () => {
    const faults = new FaultInjector({ seed: 5, rates: { metaGet: { before: 1 }, default: {} } });
    const meta = new FaultyMetaStore(new MemoryMetaStore(), faults);
    await meta.transact([{ type: 'put', key, data: {} }]);
    await expect(meta.get(key)).rejects.toBeInstanceOf(UnavailableError);
    expect(await meta.batchGet([key])).toHaveLength(1);
    expect(faults.events).toEqual([{ call: 1, op: 'metaGet', fault: 'before' }]);
  });

  it('cancels transactions as DynamoDB does on a TransactionConflict: nothing applied, retriable', async () => {
    const inner = new MemoryMetaStore();
    const faults = new FaultInjector({
      seed: 11,
      rates: { transact: { conflict: 0.5 }, default: { conflict: 1 } },
    });
    const meta = new FaultyMetaStore(inner, faults);
    const outcomes: string[] = [];
    for (let i = 0; i < 40; i++) {
      const ok = await meta.transact([{ type: 'put', key: { pk: 'c', sk: String(i) }, data: { i } }]).then(
        () => true,
        (e: unknown) => {
          expect(e).toBeInstanceOf(UnavailableError);
          expect((e as Error).message).toMatch(/TransactionConflict/);
          return false;
        },
      );
      outcomes.push(ok ? 'ok' : 'conflict');
      // Cancelled means not applied; committed means applied.
      expect((await inner.get({ pk: 'c', sk: String(i) })) !== undefined).toBe(ok);
    }
    expect(outcomes).toContain('ok');
    expect(outcomes).toContain('conflict');
    // Only transactions conflict: the default rate does not reach reads.
    expect(await meta.get({ pk: 'c', sk: '0' })).toBeDefined();
    expect(faults.events.every((e) => e.op === 'transact')).toBe(true);
    expect(() => faults.failNext('metaGet', 'conflict')).toThrow(/only a transaction/);
    faults.failNext('transact', 'conflict');
    await expect(meta.transact([{ type: 'put', key, data: {} }])).rejects.toThrow(/TransactionConflict/);
    expect(await inner.get(key)).toBeUndefined();
  });

  it('fails before (nothing written), after (written), or throttles, on demand', async () => {
    const inner = new MemoryMetaStore();
    const faults = new FaultInjector({ seed: 1 });
    const meta = new FaultyMetaStore(inner, faults);
    faults.failNext('transact', 'before');
    await expect(meta.transact([{ type: 'put', key, data: { n: 1 } }])).rejects.toBeInstanceOf(
      UnavailableError,
    );
    expect(await inner.get(key)).toBeUndefined();

    faults.failNext('transact', 'throttle');
    await expect(meta.transact([{ type: 'put', key, data: { n: 1 } }])).rejects.toBeInstanceOf(
      ThrottledError,
    );
    expect(await inner.get(key)).toBeUndefined();

    faults.failNext('transact', 'after');
    const err = await meta.transact([{ type: 'put', key, data: { n: 2 } }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnavailableError);
    expect((err as Error).message).toMatch(/after transact succeeded/);
    expect(await inner.get(key)).toMatchObject({ version: 1, data: { n: 2 } });

    // A queued fault waits for its kind of call, and fires once.
    faults.failNext('put', 'before');
    const objects = new FaultyObjectStore(new MemoryObjectStore(), faults);
    await meta.get(key);
    await expect(objects.put('a', new Uint8Array(1))).rejects.toBeInstanceOf(UnavailableError);
    await objects.put('a', new Uint8Array(1));
  });

  it('adds latency on the injected clock', async () => {
    const clock = new ManualClock();
    const faults = new FaultInjector({ seed: 9, clock, rates: { get: { latencyMs: 100 } } });
    const objects = new FaultyObjectStore(new MemoryObjectStore(), faults);
    await objects.put('k', new Uint8Array([7]));
    let done = false;
    const read = objects.get('k').then((b) => {
      done = true;
      return b;
    });
    await new Promise((r) => setImmediate(r));
    const ms = faults.events.find((e) => e.fault === 'latency')?.ms ?? 0;
    expect(ms).toBeGreaterThan(0);
    expect(ms).toBeLessThanOrEqual(100);
    clock.advance(ms - 1);
    await new Promise((r) => setImmediate(r));
    expect(done).toBe(false);
    clock.advance(1);
    expect(await read).toEqual(new Uint8Array([7]));
  });

  it('refuses a latency without a clock', () => {
    expect(() => new FaultInjector({ seed: 1, rates: { get: { latencyMs: 5 } } })).toThrow(/clock/);
  });

  it('passes calls through untouched while disabled', async () => {
    const faults = new FaultInjector({ seed: 1, rates: { default: { before: 1 } } });
    const meta = new FaultyMetaStore(new MemoryMetaStore(), faults);
    faults.enabled = false;
    await meta.transact([{ type: 'put', key, data: {} }]);
    faults.enabled = true;
    await expect(meta.get(key)).rejects.toBeInstanceOf(UnavailableError);
  });
});
