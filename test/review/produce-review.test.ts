/**
 * Review findings on the write path through the HTTP handlers. Regression tests: each failed before its fix.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock, seededRandom } from '../../core/clock.js';
import { crc32c, encodeBatch } from '../../core/records/index.js';
import { encodeProduceFrames } from '../../core/wire.js';
import { createContext } from '../../lambdas/context.js';
import { toEvent } from '../../lambdas/http.js';
import { createRouter } from '../../lambdas/index.js';
import { MemoryMetaStore, MemoryObjectStore } from '../../storage/memory.js';

const enc = new TextEncoder();

function setup(seed = 42) {
  const clock = new ManualClock(1_700_000_000_000, { autoAdvance: true });
  const objects = new MemoryObjectStore({ now: () => clock.now() });
  const meta = new MemoryMetaStore();
  const ctx = createContext({ meta, objects }, { env: {}, clock, random: seededRandom(seed) });
  const route = createRouter(ctx);
  const call = async (method: string, url: string, body?: unknown, contentType = 'application/json') => {
    const bytes =
      body instanceof Uint8Array ? body : body === undefined ? undefined : enc.encode(JSON.stringify(body));
    const res = await route(toEvent({ method, url, headers: { 'content-type': contentType }, body: bytes }));
    return { status: res.statusCode ?? 0, body: res.body ? JSON.parse(res.body) : undefined };
  };
  return { call, ctx, meta, objects, clock };
}

async function total(call: ReturnType<typeof setup>['call'], topic: string) {
  const { body } = await call('GET', `/v1/topics/${topic}`);
  return body.partitions.reduce((s: number, p: { highWatermark: number }) => s + p.highWatermark, 0);
}

describe('review: JSON produce', () => {
  it('a retried idempotent request of keyless records appends nothing (API.md: same id, epoch, sequences)', async () => {
    const s = setup();
    await s.call('POST', '/v1/topics', { name: 't', partitions: 8 });
    const { body: producer } = await s.call('POST', '/v1/producers', {});
    // The client cannot know which partition the server picks for keyless records, so it
    // names a base sequence for every partition.
    const sequences = Object.fromEntries(Array.from({ length: 8 }, (_, p) => [String(p), 0]));
    const req = {
      topic: 't',
      records: [{ value: 'a' }, { value: 'b' }],
      producer: { id: producer.producerId, epoch: 0, sequences },
    };
    const first = await s.call('POST', '/v1/produce', req);
    expect(first.status).toBe(200);
    // The response is lost; the client retries the very same request.
    const again = await s.call('POST', '/v1/produce', req);
    expect(again.status).toBe(200);
    expect(again.body.records).toEqual(first.body.records);
    expect(await total(s.call, 't')).toBe(2);
  });
});

describe('review: binary produce validation', () => {
  it('refuses a batch whose CRC is right but whose records do not decode (else it poisons the partition)', async () => {
    const s = setup();
    await s.call('POST', '/v1/topics', { name: 't' });
    const batch = encodeBatch([{ key: enc.encode('k'), value: enc.encode('hello'), timestamp: 1 }], {
      now: 1,
    });
    batch[61] = 0x7e; // the record's length varint now says 63 bytes: far past the batch
    new DataView(batch.buffer, batch.byteOffset).setUint32(17, crc32c(batch.subarray(21)));
    const frames = encodeProduceFrames([{ topic: 't', partition: 0, batch }]);
    const res = await s.call('POST', '/v1/produce', frames, 'application/vnd.sluice.batches');
    const fetched = await s.call('GET', '/v1/fetch?topic=t&partition=0&offset=0');
    // Either the produce is refused, or what was acked can be read back.
    expect({ produce: res.status, fetch: fetched.status }).not.toEqual({ produce: 200, fetch: 400 });
    expect(res.status).toBe(400);
  });
});

describe('review: error codes', () => {
  it('a topic name over 1 KiB is an unknown (or invalid) topic, not MESSAGE_TOO_LARGE', async () => {
    const s = setup();
    const name = 'x'.repeat(1100);
    const fetched = await s.call('GET', `/v1/fetch?topic=${name}&partition=0&offset=0`);
    expect([404, 400]).toContain(fetched.status);
    const produced = await s.call('POST', '/v1/produce', { topic: name, records: [{ value: 'a' }] });
    expect([404, 400]).toContain(produced.status);
  });
});
