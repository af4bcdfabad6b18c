/**
 * The write path under storage faults, and what requests cost. Faults come from the
 * seeded `faulty` decorator; counts from the `metered` decorator; time is virtual.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock, seededRandom } from '../../core/clock.js';
import { encodeBatch } from '../../core/records/index.js';
import { encodeProduceFrames } from '../../core/wire.js';
import { createContext } from '../../lambdas/context.js';
import { toEvent } from '../../lambdas/http.js';
import { createRouter } from '../../lambdas/index.js';
import { FaultInjector, FaultyMetaStore, FaultyObjectStore } from '../../storage/faulty.js';
import { MemoryMetaStore, MemoryObjectStore } from '../../storage/memory.js';
import { Meter, MeteredMetaStore, MeteredObjectStore } from '../../storage/metered.js';

const enc = new TextEncoder();

function setup(faults?: FaultInjector) {
  const clock = new ManualClock(1_700_000_000_000, { autoAdvance: true });
  const meter = new Meter();
  const rawObjects = new MemoryObjectStore({ now: () => clock.now() });
  const rawMeta = new MemoryMetaStore();
  const objects = new MeteredObjectStore(
    faults ? new FaultyObjectStore(rawObjects, faults) : rawObjects,
    meter,
  );
  const meta = new MeteredMetaStore(faults ? new FaultyMetaStore(rawMeta, faults) : rawMeta, meter);
  const ctx = createContext({ meta, objects }, { env: {}, clock, random: seededRandom(42) });
  const route = createRouter(ctx);
  const call = async (method: string, url: string, body?: unknown, headers: Record<string, string> = {}) => {
    const bytes =
      body instanceof Uint8Array ? body : body === undefined ? undefined : enc.encode(JSON.stringify(body));
    const res = await route(
      toEvent({ method, url, headers: { 'content-type': 'application/json', ...headers }, body: bytes }),
    );
    return { status: res.statusCode ?? 0, body: res.body ? JSON.parse(res.body) : undefined };
  };
  return { clock, meter, rawObjects, rawMeta, call, ctx, route };
}

async function readValues(call: ReturnType<typeof setup>['call'], topic: string, partition: number) {
  const res = await call('GET', `/v1/fetch?topic=${topic}&partition=${partition}&offset=0&maxBytes=4194304`);
  expect(res.status).toBe(200);
  return res.body.records.map((r: { offset: number; value: string }) => [r.offset, r.value]);
}

describe('faults on the write path', () => {
  it('a crash between the PUT and the commit leaves an orphan that fetch never sees', async () => {
    const faults = new FaultInjector({ seed: 1 });
    const s = setup(faults);
    faults.enabled = false;
    await s.call('POST', '/v1/topics', { name: 't' });
    const { body: producer } = await s.call('POST', '/v1/producers', {});
    faults.enabled = true;
    // Every commit fails before it happens: the request gives up with a retriable error.
    for (let i = 0; i < 300; i++) faults.failNext('transact', 'before');
    const req = {
      topic: 't',
      records: [{ value: 'x' }, { value: 'y' }],
      producer: { id: producer.producerId, epoch: 0, sequences: { 0: 0 } },
    };
    const failed = await s.call('POST', '/v1/produce', req);
    expect([failed.status, failed.body.error.code, failed.body.error.retriable]).toEqual([
      503,
      'UNAVAILABLE',
      true,
    ]);
    faults.enabled = false;
    expect((await s.rawObjects.list('data/')).objects).toHaveLength(1); // the orphan
    expect(await readValues(s.call, 't', 0)).toEqual([]);
    expect((await s.call('GET', '/v1/topics/t')).body.partitions[0].highWatermark).toBe(0);
    // The client retries the same request: appended once.
    const ok = await s.call('POST', '/v1/produce', req);
    expect(ok.body.records).toEqual([
      { partition: 0, offset: 0 },
      { partition: 0, offset: 1 },
    ]);
    expect(await readValues(s.call, 't', 0)).toEqual([
      [0, 'x'],
      [1, 'y'],
    ]);
  });

  it('a commit that succeeded but reported failure is not appended twice, even without idempotence', async () => {
    const faults = new FaultInjector({ seed: 3 });
    const s = setup(faults);
    await s.call('POST', '/v1/topics', { name: 't', partitions: 60 });
    faults.failNext('transact', 'after');
    const one = await s.call('POST', '/v1/produce', { topic: 't', records: [{ value: 'a', partition: 0 }] });
    expect(one.body.records).toEqual([{ partition: 0, offset: 0 }]);
    expect(faults.events.some((e) => e.fault === 'after')).toBe(true);
    expect(await readValues(s.call, 't', 0)).toEqual([[0, 'a']]);
    // 60 partitions: two transactions; both report failure after succeeding.
    faults.failNext('transact', 'after');
    faults.failNext('transact', 'after');
    const wide = await s.call('POST', '/v1/produce', {
      topic: 't',
      records: Array.from({ length: 60 }, (_, p) => ({ value: `w${p}`, partition: p })),
    });
    expect(wide.status).toBe(200);
    const d = await s.call('GET', '/v1/topics/t');
    expect(d.body.partitions.map((p: { highWatermark: number }) => p.highWatermark)).toEqual(
      Array.from({ length: 60 }, (_, p) => (p === 0 ? 2 : 1)),
    );
    expect(await readValues(s.call, 't', 59)).toEqual([[0, 'w59']]);
  });

  it('under seeded random faults and throttling, retried idempotent requests land exactly once', async () => {
    const faults = new FaultInjector({
      seed: 7,
      rates: {
        default: { before: 0.05, after: 0.05, throttle: 0.05 },
        // conflict: DynamoDB cancels transactions that overlap (TransactionConflict).
        transact: { before: 0.1, after: 0.15, throttle: 0.1, conflict: 0.1 },
      },
    });
    const s = setup(faults);
    faults.enabled = false;
    await s.call('POST', '/v1/topics', { name: 't', partitions: 3 });
    const { body: producer } = await s.call('POST', '/v1/producers', {});
    faults.enabled = true;
    const sequences = [0, 0, 0];
    const acked: [number, number, string][] = [];
    for (let i = 0; i < 60; i++) {
      const records = [0, 1, 2].flatMap((p) => [
        { value: `r${i}-${p}-a`, partition: p },
        { value: `r${i}-${p}-b`, partition: p },
      ]);
      const req = {
        topic: 't',
        records,
        producer: { id: producer.producerId, epoch: 0, sequences: { ...sequences } },
      };
      for (let attempt = 0; ; attempt++) {
        const res = await s.call('POST', '/v1/produce', req);
        if (res.status === 200) {
          res.body.records.forEach((r: { partition: number; offset: number }, j: number) => {
            acked.push([r.partition, r.offset, records[j]!.value]);
          });
          break;
        }
        expect(res.body.error.retriable).toBe(true);
        expect([429, 503]).toContain(res.status);
        expect(attempt).toBeLessThan(50);
      }
      for (let p = 0; p < 3; p++) sequences[p]! += 2;
    }
    // Faults hit both the PUT and the commit; the server absorbs most of them itself.
    expect(faults.events.filter((e) => e.fault === 'after').length).toBeGreaterThanOrEqual(10);
    expect(faults.events.filter((e) => e.op === 'put').length).toBeGreaterThan(5);
    expect(faults.events.filter((e) => e.fault === 'conflict').length).toBeGreaterThan(5);
    faults.enabled = false;
    for (let p = 0; p < 3; p++) {
      const values = await readValues(s.call, 't', p);
      expect(values).toHaveLength(120); // exactly once
      for (const [part, offset, value] of acked.filter((a) => a[0] === p)) {
        expect(values[offset], `${part}/${offset}`).toEqual([offset, value]);
      }
    }
  });
});

describe('request costs (metered)', () => {
  it('a produce to k partitions costs one PUT and one transaction, and no reads once heads are cached', async () => {
    const s = setup();
    await s.call('POST', '/v1/topics', { name: 't', partitions: 8 });
    const batch = (tag: string) => encodeBatch([{ value: enc.encode(tag), timestamp: 1 }]);
    const body = (tag: string) =>
      encodeProduceFrames(
        Array.from({ length: 8 }, (_, p) => ({ topic: 't', partition: p, batch: batch(`${tag}${p}`) })),
      );
    const bin = { 'content-type': 'application/vnd.sluice.batches' };
    await s.call('POST', '/v1/produce', body('warm'), bin);
    s.meter.reset();
    const res = await s.call('POST', '/v1/produce', body('x'), bin);
    expect(res.status).toBe(200);
    const c = s.meter.snapshot();
    expect(c.s3).toMatchObject({ put: 1, get: 0, list: 0 });
    expect(c.dynamo).toMatchObject({ transact: 1, get: 0, batchGet: 0, query: 0, writeItems: 17 });
    // A new instance does not read either: it guesses empty heads, and the conflict
    // returns the real ones (one extra transaction, still no read).
    const cold = createContext({ meta: s.ctx.meta, objects: s.ctx.objects }, { env: {} });
    const coldRoute = createRouter(cold);
    s.meter.reset();
    const r2 = await coldRoute(
      toEvent({ method: 'POST', url: '/v1/produce', headers: bin, body: body('y') }),
    );
    expect(r2.statusCode).toBe(200);
    expect(s.meter.snapshot().dynamo).toMatchObject({ transact: 2, get: 1, batchGet: 0, query: 0 });
  });

  it('a fetch costs a head read, one index query and one ranged GET per object; hot reads hit the cache', async () => {
    const s = setup();
    await s.call('POST', '/v1/topics', { name: 't' });
    for (let i = 0; i < 3; i++)
      await s.call('POST', '/v1/produce', { topic: 't', records: [{ value: `v${i}` }] });
    s.meter.reset();
    await s.call('GET', '/v1/fetch?topic=t&partition=0&offset=0');
    expect(s.meter.snapshot()).toMatchObject({ s3: { get: 3 }, dynamo: { get: 1, query: 1 } });
    s.meter.reset();
    await s.call('GET', '/v1/fetch?topic=t&partition=0&offset=1');
    expect(s.meter.snapshot()).toMatchObject({ s3: { get: 0 }, dynamo: { get: 1, query: 1 } });
  });

  it('a POST fetch reads each head once: the batch read of the idle check serves the read of the data', async () => {
    const s = setup();
    await s.call('POST', '/v1/topics', { name: 't', partitions: 2 });
    for (let i = 0; i < 3; i++)
      await s.call('POST', '/v1/produce', { topic: 't', records: [{ value: `v${i}`, partition: 0 }] });
    const body = {
      partitions: [
        { topic: 't', partition: 0, offset: 1 },
        { topic: 't', partition: 1, offset: 0 },
      ],
    };
    for (const accept of ['application/json', 'application/vnd.sluice.batches']) {
      s.meter.reset();
      const res = await s.route(
        toEvent({
          method: 'POST',
          url: '/v1/fetch',
          headers: { 'content-type': 'application/json', accept },
          body: enc.encode(JSON.stringify(body)),
        }),
      );
      expect(res.statusCode).toBe(200);
      // One BatchGetItem of both heads; partition 1 is at its high watermark (no query);
      // partition 0 is read from the head already in hand: one query, no second head read.
      expect(s.meter.snapshot()).toMatchObject({ dynamo: { batchGet: 1, get: 0, query: 1 } });
    }
    const json = await s.call('POST', '/v1/fetch', body);
    expect(
      json.body.partitions.map((p: { records: { value: string }[] }) => p.records.map((r) => r.value)),
    ).toEqual([['v1', 'v2'], []]);
  });
});
