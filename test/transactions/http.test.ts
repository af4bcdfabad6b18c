/**
 * The transaction endpoints through the real handlers (Function URL events): the whole
 * flow with JSON and binary sends, and a fuzz of every endpoint with arbitrary bodies —
 * a 4xx with a typed error code, and nothing changed.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock, seededRandom } from '../../core/clock.js';
import { encodeBatch } from '../../core/records/index.js';
import { BATCHES_CONTENT_TYPE, encodeProduceFrames } from '../../core/wire.js';
import { createContext } from '../../lambdas/context.js';
import { toEvent } from '../../lambdas/http.js';
import { createRouter } from '../../lambdas/index.js';
import { makeStores, type TestStores } from '../helpers/stores.js';

const enc = new TextEncoder();
let stores: TestStores | undefined;
afterEach(async () => {
  await stores?.cleanup();
  stores = undefined;
});

async function setup() {
  stores = await makeStores('sqlite');
  const clock = new ManualClock(1_700_000_000_000, { autoAdvance: true });
  const ctx = createContext(stores, { env: {}, clock, random: seededRandom(3) });
  const route = createRouter(ctx);
  const call = async (url: string, body?: unknown, contentType = 'application/json') => {
    const bytes =
      body instanceof Uint8Array ? body : body === undefined ? undefined : enc.encode(JSON.stringify(body));
    const res = await route(
      toEvent({ method: 'POST', url, headers: { 'content-type': contentType }, body: bytes }),
    );
    return { status: res.statusCode ?? 0, body: res.body ? JSON.parse(res.body) : undefined };
  };
  const get = async (url: string) => {
    const res = await route(toEvent({ method: 'GET', url }));
    return JSON.parse(res.body ?? 'null');
  };
  await call('/v1/topics', { name: 'out', partitions: 2 });
  await call('/v1/topics', { name: 'in', partitions: 1 });
  await call('/v1/produce', {
    topic: 'in',
    records: [
      { value: 'a', partition: 0 },
      { value: 'b', partition: 0 },
    ],
  });
  return { call, get, ctx };
}

describe('transactions over HTTP', () => {
  it('init, JSON and binary sends, offsets, commit', async () => {
    const s = await setup();
    const init = await s.call('/v1/transactions/copier/init', { transactionTimeoutMs: 30_000 });
    expect(init.status).toBe(200);
    const p = {
      producerId: init.body.producerId,
      epoch: init.body.epoch,
      transaction: init.body.transaction,
    };
    const json = await s.call('/v1/transactions/copier/send', {
      ...p,
      sequence: 0,
      topic: 'out',
      records: [
        { value: 'x', partition: 0 },
        { value: 'y', partition: 1 },
      ],
    });
    expect(json).toEqual({ status: 200, body: { duplicate: false } });
    const frames = encodeProduceFrames([
      {
        topic: 'out',
        partition: 0,
        batch: encodeBatch([{ value: enc.encode('z'), timestamp: 1 }], { now: 1 }),
      },
    ]);
    const q = `producerId=${p.producerId}&epoch=${p.epoch}&transaction=${p.transaction}&sequence=1`;
    const binary = await s.call(`/v1/transactions/copier/send?${q}`, frames, BATCHES_CONTENT_TYPE);
    expect(binary).toEqual({ status: 200, body: { duplicate: false } });
    const offsets = await s.call('/v1/transactions/copier/offsets', {
      ...p,
      sequence: 2,
      groupId: 'g',
      offsets: [{ topic: 'in', partition: 0, offset: 2 }],
    });
    expect(offsets.status).toBe(200);
    expect(
      (await s.get('/v1/topics/out')).partitions.map((x: { highWatermark: number }) => x.highWatermark),
    ).toEqual([0, 0]);
    const commit = await s.call('/v1/transactions/copier/commit', p);
    expect(commit.body.partitions).toEqual([
      { topic: 'out', partition: 0, baseOffset: 0, count: 2 },
      { topic: 'out', partition: 1, baseOffset: 0, count: 1 },
    ]);
    expect(
      (await s.get('/v1/topics/out')).partitions.map((x: { highWatermark: number }) => x.highWatermark),
    ).toEqual([2, 1]);
    // A second init fences the first producer.
    await s.call('/v1/transactions/copier/init');
    const zombie = await s.call('/v1/transactions/copier/abort', { ...p, transaction: 1 });
    expect(zombie.status).toBe(409);
    expect(zombie.body.error.code).toBe('INVALID_PRODUCER_EPOCH');
  });

  it('a JSON send takes the produce record shape: headers exact, batches under max.message.bytes, topic rules', async () => {
    const s = await setup();
    await s.call('/v1/topics', { name: 'small', config: { 'max.message.bytes': 1024 } });
    await s.call('/v1/topics', { name: 'keyed', config: { 'cleanup.policy': 'compact' } });
    const init = await s.call('/v1/transactions/tx2/init');
    const p = {
      producerId: init.body.producerId,
      epoch: init.body.epoch,
      transaction: init.body.transaction,
    };
    // 8 records of 300 bytes: over one batch of 1024, so the server cuts them.
    const values = Array.from({ length: 8 }, (_, i) => String(i).repeat(300));
    const sent = await s.call('/v1/transactions/tx2/send', {
      ...p,
      sequence: 0,
      topic: 'small',
      records: values.map((value) => ({
        value,
        partition: 0,
        headers: [
          { key: 'dup', value: '1' },
          { key: 'dup', value: '2' },
          { key: 'nul', value: null },
        ],
      })),
    });
    expect(sent).toEqual({ status: 200, body: { duplicate: false } });
    // Refused, naming the record; nothing staged (the next sequence still goes).
    const keyless = await s.call('/v1/transactions/tx2/send', {
      ...p,
      sequence: 1,
      topic: 'keyed',
      records: [{ key: 'k', value: 'a' }, { value: 'none' }],
    });
    expect(keyless.status).toBe(400);
    expect(keyless.body.error).toMatchObject({ code: 'INVALID_RECORD' });
    expect(keyless.body.error.message).toContain('records.1');
    const tooBig = await s.call('/v1/transactions/tx2/send', {
      ...p,
      sequence: 1,
      topic: 'small',
      records: [{ value: 'x'.repeat(2000) }],
    });
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.error.message).toContain('records.0');
    const commit = await s.call('/v1/transactions/tx2/commit', p);
    expect(commit.body.partitions).toEqual([{ topic: 'small', partition: 0, baseOffset: 0, count: 8 }]);
    const fetched = await s.get('/v1/fetch?topic=small&partition=0&offset=0');
    expect(fetched.records.map((r: { value: string }) => r.value)).toEqual(values);
    expect(fetched.records[0].headerList).toEqual([
      { key: 'dup', value: '1' },
      { key: 'dup', value: '2' },
      { key: 'nul', value: null },
    ]);
  });

  it('answers arbitrary bodies with a typed 4xx and changes nothing', async () => {
    const s = await setup();
    const init = await s.call('/v1/transactions/t/init');
    const before = await s.ctx.meta.get({ pk: 't#t', sk: 'tx' });
    const value = fc.oneof(
      fc.string(),
      fc.integer({ min: -5, max: 5 }),
      fc.constant(null),
      fc.boolean(),
      fc.constant(1e20),
    );
    const body = fc.oneof(
      fc.jsonValue(),
      fc.record(
        {
          producerId: fc.oneof(fc.constant(init.body.producerId), value),
          epoch: fc.oneof(
            fc.constant(1),
            value.filter((v) => v !== 0),
          ),
          transaction: fc.oneof(fc.constant(0), value),
          sequence: value,
          topic: fc.oneof(fc.constant('out'), value),
          records: fc.oneof(fc.constant([{ value: 'v' }]), fc.array(fc.jsonValue(), { maxLength: 2 })),
          groupId: value,
          offsets: fc.oneof(fc.constant([{ topic: 'in', partition: 0, offset: 5 }]), fc.jsonValue()),
          transactionTimeoutMs: fc.oneof(fc.constant(0), value),
        },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom('send', 'offsets', 'commit', 'abort', 'init'), body, async (op, b) => {
        // epoch 1 is not the producer's (0), so even a well-formed request is refused.
        const id = op === 'init' ? 'bad\u0001id' : 't';
        const res = await s.call(`/v1/transactions/${encodeURIComponent(id)}/${op}`, b);
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(typeof res.body.error.code).toBe('string');
        expect(await s.ctx.meta.get({ pk: 't#t', sk: 'tx' })).toEqual(before);
      }),
      { numRuns: 150, seed: 7 },
    );
    expect(
      (await s.get('/v1/topics/out')).partitions.map((x: { highWatermark: number }) => x.highWatermark),
    ).toEqual([0, 0]);
  });
});
