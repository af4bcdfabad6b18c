/**
 * API.md end to end, over HTTP into `sluice dev`, run twice: on the embedded store
 * (files + SQLite) and on moto (S3 + DynamoDB).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../bin/dev.js';
import { ManualClock, seededRandom } from '../../core/clock.js';
import {
  Compression,
  crc32c,
  decodeBatch,
  defaultPartition,
  encodeBatch,
  splitBatches,
} from '../../core/records/index.js';
import { encodeProduceFrames, parseFetchFrames } from '../../core/wire.js';
import { createContext } from '../../lambdas/context.js';
import { toEvent } from '../../lambdas/http.js';
import { createRouter } from '../../lambdas/index.js';
import { MemoryMetaStore, MemoryObjectStore } from '../../storage/memory.js';
import { type Api, api } from '../helpers/http.js';
import { makeStores } from '../helpers/stores.js';

const BIN = { 'content-type': 'application/vnd.sluice.batches' };
const enc = new TextEncoder();

describe.each(['sqlite', 'aws'] as const)('HTTP API on %s', (kind) => {
  let server: DevServer;
  let http: Api;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    const stores = await makeStores(kind);
    cleanup = stores.cleanup;
    server = await startDevServer({
      port: 0,
      context: createContext(stores, { env: {}, clusterId: 'test-cluster' }),
    });
    http = api(server.url);
  });

  afterAll(async () => {
    await server?.close();
    await cleanup?.();
  });

  it('serves metadata naming every endpoint', async () => {
    await http.post('/v1/topics', { name: 'meta-t', partitions: 2 });
    const res = await http.get('/v1/metadata');
    expect(res.status).toBe(200);
    expect(res.body.clusterId).toBe('test-cluster');
    expect(Object.keys(res.body.endpoints).sort()).toEqual([
      'admin',
      'fetch',
      'groups',
      'produce',
      'schemas',
    ]);
    expect(res.body.schemaRegistry).toBe(`${server.url}/schemas`);
    expect(res.body.endpoints.produce).toBe(server.url);
    expect(res.body.topics).toContainEqual({ name: 'meta-t', partitions: 2, maxMessageBytes: 1_048_588 });
  });

  it('creates, lists, describes, grows and deletes topics', async () => {
    const created = await http.post('/v1/topics', {
      name: 'orders',
      partitions: 3,
      config: { 'retention.ms': 60000 },
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      name: 'orders',
      partitions: 3,
      config: { 'retention.ms': 60000, 'cleanup.policy': 'delete' },
    });
    expect((await http.post('/v1/topics', { name: 'orders' })).body.error.code).toBe('TOPIC_ALREADY_EXISTS');
    expect((await http.get('/v1/topics')).body.topics).toContainEqual({ name: 'orders', partitions: 3 });
    const described = await http.get('/v1/topics/orders');
    expect(described.body.partitions).toEqual(
      [0, 1, 2].map((p) => ({ partition: p, logStartOffset: 0, highWatermark: 0 })),
    );
    expect((await http.post('/v1/topics/orders/partitions', { count: 5 })).status).toBe(200);
    expect((await http.get('/v1/topics/orders')).body.partitions).toHaveLength(5);
    const shrink = await http.post('/v1/topics/orders/partitions', { count: 2 });
    expect([shrink.status, shrink.body.error.code]).toEqual([400, 'INVALID_PARTITIONS']);
    expect((await http.delete('/v1/topics/orders')).status).toBe(204);
    const gone = await http.get('/v1/topics/orders');
    expect([gone.status, gone.body.error.code]).toEqual([404, 'UNKNOWN_TOPIC_OR_PARTITION']);
    expect((await http.delete('/v1/topics/orders')).status).toBe(404);
  });

  it('answers every topic error with its code', async () => {
    const cases: [unknown, number, string][] = [
      [{ name: 'bad name' }, 400, 'INVALID_TOPIC_EXCEPTION'],
      [{ name: '..' }, 400, 'INVALID_TOPIC_EXCEPTION'],
      [{ name: 'x', partitions: 0 }, 400, 'INVALID_PARTITIONS'],
      [{ name: 'x', partitions: 10001 }, 400, 'INVALID_PARTITIONS'],
      [{ name: 'x', config: { 'cleanup.policy': 'sometimes' } }, 400, 'INVALID_CONFIG'],
      [{ name: 'x', config: { 'segment.jitter': 1 } }, 400, 'INVALID_CONFIG'],
      [{ name: 7 }, 400, 'INVALID_REQUEST'],
      [{ name: 'x', partitions: 'two' }, 400, 'INVALID_REQUEST'],
    ];
    for (const [body, status, code] of cases) {
      const res = await http.post('/v1/topics', body);
      expect([res.status, res.body.error.code], JSON.stringify(body)).toEqual([status, code]);
      expect(typeof res.body.error.message).toBe('string');
      expect(res.body.error.retriable).toBe(false);
    }
    const typed = await http.post('/v1/topics', { name: 'x', partitions: 'two' });
    expect(typed.body.error.message).toContain('partitions');
    expect((await http.get('/v1/topics/x')).status).toBe(404);
    expect(
      (await http.post('/v1/topics', '{not json', { 'content-type': 'application/json' })).body.error.code,
    ).toBe('INVALID_REQUEST');
    expect((await http.get('/v1/nowhere')).status).toBe(404);
    expect((await http.request('PUT', '/v1/topics')).status).toBe(405);
  });

  it('produces JSON with Kafka partitioning and fetches it back', async () => {
    await http.post('/v1/topics', { name: 'json', partitions: 4 });
    const res = await http.post('/v1/produce', {
      topic: 'json',
      records: [
        { key: 'alice', value: 'a1', headers: { trace: 'x', empty: null } },
        { key: 'bob', value: 'b1' },
        { key: 'alice', value: 'a2', timestamp: 1234 },
        { key: null, value: null, partition: 3 },
      ],
    });
    expect(res.status).toBe(200);
    const pa = defaultPartition(enc.encode('alice'), 4);
    const pb = defaultPartition(enc.encode('bob'), 4);
    expect(res.body.records[0]).toEqual({ partition: pa, offset: 0 });
    expect(res.body.records[2]).toEqual({ partition: pa, offset: 1 });
    expect(res.body.records[1].partition).toBe(pb);
    expect(res.body.records[3]).toEqual({ partition: 3, offset: pa === 3 ? 2 : pb === 3 ? 1 : 0 });
    expect(res.body.partitions.find((p: { partition: number }) => p.partition === pa)).toMatchObject({
      baseOffset: 0,
      count: 2,
    });

    const fetched = await http.get(`/v1/fetch?topic=json&partition=${pa}&offset=0`);
    expect(fetched.status).toBe(200);
    expect(fetched.body).toMatchObject({
      topic: 'json',
      partition: pa,
      highWatermark: 2 + (pa === 3 ? 1 : 0),
      logStartOffset: 0,
    });
    expect(fetched.body.records[0]).toMatchObject({
      offset: 0,
      key: 'alice',
      value: 'a1',
      headers: { trace: 'x', empty: null },
    });
    expect(fetched.body.records[1]).toMatchObject({ offset: 1, key: 'alice', value: 'a2', timestamp: 1234 });
    const tomb = await http.get('/v1/fetch?topic=json&partition=3&offset=0');
    expect(tomb.body.records.at(-1)).toMatchObject({ key: null, value: null });
  });

  it('sends keyless records of one request to one partition', async () => {
    await http.post('/v1/topics', { name: 'keyless', partitions: 8 });
    const res = await http.post('/v1/produce', {
      topic: 'keyless',
      records: Array.from({ length: 20 }, (_, i) => ({ value: `v${i}` })),
    });
    expect(new Set(res.body.records.map((r: { partition: number }) => r.partition)).size).toBe(1);
    expect(res.body.records.map((r: { offset: number }) => r.offset)).toEqual(
      Array.from({ length: 20 }, (_, i) => i),
    );
  });

  it('round-trips base64 keys, values and headers', async () => {
    await http.post('/v1/topics', { name: 'b64' });
    const bytes = Buffer.from([0, 255, 1, 254]).toString('base64');
    const res = await http.post('/v1/produce', {
      topic: 'b64',
      encoding: 'base64',
      records: [{ key: bytes, value: bytes, headers: { h: bytes } }],
    });
    expect(res.status).toBe(200);
    const fetched = await http.get('/v1/fetch?topic=b64&partition=0&offset=0&encoding=base64');
    expect(fetched.body.records[0]).toMatchObject({ key: bytes, value: bytes, headers: { h: bytes } });
    const bad = await http.post('/v1/produce', {
      topic: 'b64',
      encoding: 'base64',
      records: [{ value: 'not base64!' }],
    });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'INVALID_REQUEST']);
    expect(bad.body.error.message).toContain('records.0.value');
  });

  it('answers produce errors with their codes and changes nothing', async () => {
    await http.post('/v1/topics', { name: 'strict', partitions: 2, config: { 'max.message.bytes': 2048 } });
    const cases: [unknown, number, string][] = [
      [{ topic: 'nope', records: [{ value: 'x' }] }, 404, 'UNKNOWN_TOPIC_OR_PARTITION'],
      [{ topic: 'strict', records: [{ value: 'x', partition: 2 }] }, 404, 'UNKNOWN_TOPIC_OR_PARTITION'],
      [{ topic: 'strict', records: [{ value: 'x'.repeat(4000) }] }, 413, 'MESSAGE_TOO_LARGE'],
      [{ topic: 'strict', records: [] }, 400, 'INVALID_REQUEST'],
      [{ topic: 'strict', records: [{ value: 5 }] }, 400, 'INVALID_REQUEST'],
      [{ topic: 'strict', records: [{ value: 'x', partition: -1 }] }, 400, 'INVALID_REQUEST'],
      [{ records: [{ value: 'x' }] }, 400, 'INVALID_REQUEST'],
    ];
    for (const [body, status, code] of cases) {
      const res = await http.post('/v1/produce', body);
      expect([res.status, res.body.error.code], JSON.stringify(body).slice(0, 80)).toEqual([status, code]);
    }
    const d = await http.get('/v1/topics/strict');
    expect(d.body.partitions.map((p: { highWatermark: number }) => p.highWatermark)).toEqual([0, 0]);
    // Many small records are split into batches under max.message.bytes.
    const many = await http.post('/v1/produce', {
      topic: 'strict',
      records: Array.from({ length: 40 }, (_, i) => ({ value: `${i}`.padEnd(200, '.'), partition: 1 })),
    });
    expect(many.status).toBe(200);
    expect(many.body.partitions[0]).toMatchObject({ baseOffset: 0, count: 40 });
  });

  it("enforces the rules of a topic's config on every produce path, naming the record, appending nothing", async () => {
    await http.post('/v1/topics', {
      name: 'compacted',
      partitions: 2,
      config: { 'cleanup.policy': 'compact' },
    });
    const hwms = async () =>
      (await http.get('/v1/topics/compacted')).body.partitions.map(
        (p: { highWatermark: number }) => p.highWatermark,
      );
    // JSON: a keyless record among keyed ones.
    const json = await http.post('/v1/produce', {
      topic: 'compacted',
      records: [
        { key: 'a', value: '1', partition: 1 },
        { key: null, value: 'keyless', partition: 0 },
      ],
    });
    expect([json.status, json.body.error.code]).toEqual([400, 'INVALID_RECORD']);
    expect(json.body.error.message).toMatch(/^records\.1: .*cleanup\.policy=compact/);
    // Binary batches: a keyless record in the second frame (compressed); the first frame's partition is untouched too.
    const keyed = encodeBatch([{ key: enc.encode('k'), value: enc.encode('v'), timestamp: 1 }]);
    const mixed = encodeBatch(
      [
        { key: enc.encode('k'), value: enc.encode('v'), timestamp: 1 },
        { key: null, value: enc.encode('keyless'), timestamp: 1 },
      ],
      { compression: Compression.Gzip },
    );
    const bin = await http.post(
      '/v1/produce',
      encodeProduceFrames([
        { topic: 'compacted', partition: 1, batch: keyed },
        { topic: 'compacted', partition: 0, batch: mixed },
      ]),
      BIN,
    );
    expect([bin.status, bin.body.error.code]).toEqual([400, 'INVALID_RECORD']);
    expect(bin.body.error.message).toMatch(/compacted\/0 batch 0 record 1: .*needs a key/);
    expect(await hwms()).toEqual([0, 0]);
    // Keyed records and keyed tombstones are accepted.
    const ok = await http.post('/v1/produce', {
      topic: 'compacted',
      records: [
        { key: 'a', value: '1', partition: 0 },
        { key: 'a', value: null, partition: 0 },
      ],
    });
    expect(ok.status).toBe(200);
    expect(await hwms()).toEqual([2, 0]);
    // A topic with the delete policy takes keyless records.
    await http.post('/v1/topics', { name: 'deleting' });
    expect((await http.post('/v1/produce', { topic: 'deleting', records: [{ value: 'x' }] })).status).toBe(
      200,
    );
  });

  it('carries headers exactly on every path: order, repeated keys, null vs empty, binary', async () => {
    await http.post('/v1/topics', { name: 'hdrs' });
    const list = [
      { key: 'a', value: '1' },
      { key: 'dup', value: 'x' },
      { key: 'a', value: null },
      { key: 'empty', value: '' },
      { key: 'dup', value: 'y' },
    ];
    // JSON produce: the list form, then the object form with a repeated key; base64 for binary values.
    expect(
      (await http.post('/v1/produce', { topic: 'hdrs', records: [{ value: 'l', headers: list }] })).status,
    ).toBe(200);
    const object = { dup: ['1', '2'], nul: null, empty: '' };
    expect(
      (await http.post('/v1/produce', { topic: 'hdrs', records: [{ value: 'o', headers: object }] })).status,
    ).toBe(200);
    const bytes = Buffer.from([0, 255, 128, 10]).toString('base64');
    const b64 = {
      topic: 'hdrs',
      encoding: 'base64',
      records: [{ value: null, headers: [{ key: 'bin', value: bytes }] }],
    };
    expect((await http.post('/v1/produce', b64)).status).toBe(200);
    // Binary produce: headers travel in the batch as they are.
    const batch = encodeBatch([
      {
        key: null,
        value: enc.encode('b'),
        timestamp: 1,
        headers: [
          { key: 'z', value: null },
          { key: 'z', value: new Uint8Array() },
          { key: 'y', value: enc.encode('v') },
        ],
      },
    ]);
    const bin = await http.post(
      '/v1/produce',
      encodeProduceFrames([{ topic: 'hdrs', partition: 0, batch }]),
      BIN,
    );
    expect(bin.status).toBe(200);

    const expected = [
      list,
      [
        { key: 'dup', value: '1' },
        { key: 'dup', value: '2' },
        { key: 'nul', value: null },
        { key: 'empty', value: '' },
      ],
      [{ key: 'bin', value: null }], // utf8 rendering below; base64 checked separately
      [
        { key: 'z', value: null },
        { key: 'z', value: '' },
        { key: 'y', value: 'v' },
      ],
    ];
    // JSON fetch (GET and POST): headerList is exact; headers keeps the object form (last value wins).
    const got = await http.get('/v1/fetch?topic=hdrs&partition=0&offset=0');
    const posted = await http.post('/v1/fetch', { partitions: [{ topic: 'hdrs', partition: 0, offset: 0 }] });
    for (const records of [got.body.records, posted.body.partitions[0].records]) {
      const lists = records.map((r: { headerList: unknown }) => r.headerList);
      expect([lists[0], lists[1], lists[3]]).toEqual([expected[0], expected[1], expected[3]]);
      expect(records[0].headers).toEqual({ a: null, dup: 'y', empty: '' });
      expect(records[1].headers).toEqual({ dup: '2', nul: null, empty: '' });
    }
    const b = await http.get('/v1/fetch?topic=hdrs&partition=0&offset=2&maxRecords=1&encoding=base64');
    expect(b.body.records[0].headerList).toEqual([{ key: 'bin', value: bytes }]);
    // Binary fetch: the stored batches decode to the same headers.
    const frames = await http.post(
      '/v1/fetch',
      { partitions: [{ topic: 'hdrs', partition: 0, offset: 0 }] },
      { accept: 'application/vnd.sluice.batches' },
    );
    const decoded = parseFetchFrames(frames.raw)[0]!.batches.flatMap((x) => decodeBatch(x.bytes).records);
    const str = (v: Uint8Array | null) => (v === null ? null : Buffer.from(v).toString('utf8'));
    expect(decoded[1]!.headers.map((h) => ({ key: h.key, value: str(h.value) }))).toEqual(expected[1]);
    expect(decoded[3]!.headers.map((h) => ({ key: h.key, value: str(h.value) }))).toEqual(expected[3]);
    expect(Buffer.from(decoded[2]!.headers[0]!.value!).toString('base64')).toBe(bytes);
    // A header that is neither a string, null nor a list of them is refused, naming the field.
    const bad = await http.post('/v1/produce', {
      topic: 'hdrs',
      records: [{ value: 'v', headers: { n: 5 } }],
    });
    expect([bad.status, bad.body.error.code]).toEqual([400, 'INVALID_REQUEST']);
  });

  it('deduplicates retries of an idempotent producer and fences bad sequences', async () => {
    await http.post('/v1/topics', { name: 'idem', partitions: 2 });
    const { body: producer } = await http.post('/v1/producers', {});
    expect(producer).toMatchObject({ producerId: expect.any(String), epoch: 0 });
    const other = await http.post('/v1/producers', {});
    expect(other.body.producerId).not.toBe(producer.producerId);
    const req = (sequences: Record<string, number>, epoch = 0) => ({
      topic: 'idem',
      records: [
        { value: 'a', partition: 0 },
        { value: 'b', partition: 1 },
        { value: 'c', partition: 0 },
      ],
      producer: { id: producer.producerId, epoch, sequences },
    });
    const first = await http.post('/v1/produce', req({ 0: 0, 1: 0 }));
    expect(first.status).toBe(200);
    const retry = await http.post('/v1/produce', req({ 0: 0, 1: 0 }));
    expect(retry.body.records).toEqual(first.body.records);
    const gap = await http.post('/v1/produce', req({ 0: 5, 1: 1 }));
    expect([gap.status, gap.body.error.code]).toEqual([409, 'OUT_OF_ORDER_SEQUENCE_NUMBER']);
    const next = await http.post('/v1/produce', req({ 0: 2, 1: 1 }, 1));
    expect(next.status).toBe(409); // a new epoch must start at sequence 0
    const bumped = await http.post('/v1/produce', req({ 0: 0, 1: 0 }, 1));
    expect(bumped.body.records).toEqual([
      { partition: 0, offset: 2 },
      { partition: 1, offset: 1 },
      { partition: 0, offset: 3 },
    ]);
    const stale = await http.post('/v1/produce', req({ 0: 2, 1: 1 }, 0));
    expect([stale.status, stale.body.error.code]).toEqual([409, 'INVALID_PRODUCER_EPOCH']);
    const missing = await http.post('/v1/produce', req({ 0: 4 }, 1));
    expect(missing.body.error.message).toContain('producer.sequences.1');
    const d = await http.get('/v1/topics/idem');
    expect(d.body.partitions.map((p: { highWatermark: number }) => p.highWatermark)).toEqual([4, 2]);
  });

  it('accepts binary batches across topics and rejects corrupt ones', async () => {
    await http.post('/v1/topics', { name: 'bin-a', partitions: 2 });
    await http.post('/v1/topics', { name: 'bin-b' });
    const batch = (n: number, compression = Compression.None) =>
      encodeBatch(
        Array.from({ length: n }, (_, i) => ({
          key: enc.encode(`k${i}`),
          value: enc.encode(`v${i}`),
          timestamp: 5000 + i,
        })),
        { compression },
      );
    const body = encodeProduceFrames([
      { topic: 'bin-a', partition: 1, batch: batch(3, Compression.Gzip) },
      { topic: 'bin-b', partition: 0, batch: batch(2, Compression.Zstd) },
      { topic: 'bin-a', partition: 1, batch: batch(1) },
    ]);
    const res = await http.post('/v1/produce', body, BIN);
    expect(res.status).toBe(200);
    expect(res.body.partitions).toEqual([
      { topic: 'bin-a', partition: 1, baseOffset: 0, count: 4, logAppendTime: expect.any(Number) },
      { topic: 'bin-b', partition: 0, baseOffset: 0, count: 2, logAppendTime: expect.any(Number) },
    ]);
    const fetched = await http.get('/v1/fetch?topic=bin-a&partition=1&offset=2');
    expect(fetched.body.records.map((r: { offset: number; value: string }) => [r.offset, r.value])).toEqual([
      [2, 'v2'],
      [3, 'v0'],
    ]);
    const corrupt = encodeProduceFrames([{ topic: 'bin-b', partition: 0, batch: batch(2) }]);
    corrupt[corrupt.length - 1]! ^= 0xff;
    const bad = await http.post('/v1/produce', corrupt, BIN);
    expect([bad.status, bad.body.error.code]).toEqual([400, 'CORRUPT_MESSAGE']);
    const txn = encodeProduceFrames([
      {
        topic: 'bin-b',
        partition: 0,
        batch: encodeBatch([{ value: enc.encode('t'), timestamp: 1 }], { isTransactional: true }),
      },
    ]);
    const refused = await http.post('/v1/produce', txn, BIN);
    expect([refused.status, refused.body.error.code]).toEqual([400, 'INVALID_RECORD']);
    const truncated = await http.post('/v1/produce', body.subarray(0, body.length - 3), BIN);
    expect([truncated.status, truncated.body.error.code]).toEqual([400, 'CORRUPT_MESSAGE']);
    expect((await http.get('/v1/topics/bin-b')).body.partitions[0].highWatermark).toBe(2);
  });

  it('fetches from the middle of a batch, by limits, and out of range', async () => {
    await http.post('/v1/topics', { name: 'mid' });
    await http.post('/v1/produce', {
      topic: 'mid',
      records: Array.from({ length: 10 }, (_, i) => ({ value: `m${i}` })),
    });
    await http.post('/v1/produce', {
      topic: 'mid',
      records: Array.from({ length: 5 }, (_, i) => ({ value: `n${i}` })),
    });
    const res = await http.get('/v1/fetch?topic=mid&partition=0&offset=7&maxRecords=5');
    expect(res.body.records.map((r: { offset: number }) => r.offset)).toEqual([7, 8, 9, 10, 11]);
    expect(res.body.nextOffset).toBe(12);
    const tiny = await http.get('/v1/fetch?topic=mid&partition=0&offset=3&maxBytes=1');
    expect(tiny.body.records).toHaveLength(1);
    const end = await http.get('/v1/fetch?topic=mid&partition=0&offset=15');
    expect(end.body).toMatchObject({ records: [], nextOffset: 15, highWatermark: 15 });
    for (const q of ['offset=16', 'offset=-1']) {
      const r = await http.get(`/v1/fetch?topic=mid&partition=0&${q}`);
      expect([r.status, r.body.error.code]).toEqual([416, 'OFFSET_OUT_OF_RANGE']);
    }
    for (const q of [
      'offset=abc',
      'offset=1&maxBytes=0',
      'offset=1&maxWaitMs=99999',
      'partition=x',
      'offset=99999999999999999999',
    ]) {
      const r = await http.get(`/v1/fetch?topic=mid&partition=0&${q}`);
      expect([r.status, r.body.error.code], q).toEqual([400, 'INVALID_REQUEST']);
    }
    const unknown = await http.get('/v1/fetch?topic=mid&partition=1&offset=0');
    expect([unknown.status, unknown.body.error.code]).toEqual([404, 'UNKNOWN_TOPIC_OR_PARTITION']);
  });

  it('long-polls with maxWaitMs until data arrives', async () => {
    await http.post('/v1/topics', { name: 'poll' });
    const started = Date.now();
    const waiting = http.get('/v1/fetch?topic=poll&partition=0&offset=0&maxWaitMs=5000');
    await new Promise((r) => setTimeout(r, 300));
    await http.post('/v1/produce', { topic: 'poll', records: [{ value: 'late' }] });
    const res = await waiting;
    expect(res.body.records.map((r: { value: string }) => r.value)).toEqual(['late']);
    expect(Date.now() - started).toBeLessThan(4000);
    const timeout = await http.get('/v1/fetch?topic=poll&partition=0&offset=1&maxWaitMs=300');
    expect(timeout.body.records).toEqual([]);
  });

  it('fetches many partitions in one request, as JSON and binary frames', async () => {
    await http.post('/v1/topics', { name: 'multi', partitions: 3 });
    for (let p = 0; p < 3; p++) {
      await http.post('/v1/produce', {
        topic: 'multi',
        records: [0, 1, 2].map((i) => ({ value: `p${p}-${i}`, partition: p })),
      });
    }
    const partitions = [
      { topic: 'multi', partition: 0, offset: 1 },
      { topic: 'multi', partition: 2, offset: 0 },
      { topic: 'multi', partition: 9, offset: 0 },
    ];
    const json = await http.post('/v1/fetch', { partitions });
    expect(json.status).toBe(200);
    expect(json.body.partitions[0].records.map((r: { value: string }) => r.value)).toEqual(['p0-1', 'p0-2']);
    expect(json.body.partitions[1].records).toHaveLength(3);
    expect(json.body.partitions[2]).toMatchObject({
      topic: 'multi',
      partition: 9,
      error: { code: 'UNKNOWN_TOPIC_OR_PARTITION' },
    });
    const bin = await http.post(
      '/v1/fetch',
      { partitions: partitions.slice(0, 2) },
      { accept: 'application/vnd.sluice.batches' },
    );
    expect(bin.status).toBe(200);
    const frames = parseFetchFrames(bin.raw);
    expect(frames.map((f) => [f.partition, f.highWatermark, f.logStartOffset])).toEqual([
      [0, 3, 0],
      [2, 3, 0],
    ]);
    // The first batch may start before the requested offset, as in Kafka.
    expect(frames[0]!.batches[0]!.header.baseOffset).toBe(0);
    expect(splitBatches(frames[1]!.batches[0]!.bytes)).toHaveLength(1);
  });

  it('lists offsets: earliest, latest and by timestamp', async () => {
    await http.post('/v1/topics', { name: 'times' });
    await http.post('/v1/produce', {
      topic: 'times',
      records: [100, 200, 300].map((t) => ({ value: `${t}`, timestamp: t })),
    });
    expect((await http.get('/v1/offsets?topic=times&partition=0&at=earliest')).body).toEqual({
      topic: 'times',
      partition: 0,
      offset: 0,
    });
    expect((await http.get('/v1/offsets?topic=times&partition=0&at=latest')).body.offset).toBe(3);
    expect((await http.get('/v1/offsets?topic=times&partition=0&at=150')).body).toMatchObject({
      offset: 1,
      timestamp: 200,
    });
    expect((await http.get('/v1/offsets?topic=times&partition=0&at=999')).body.offset).toBe(3);
    expect((await http.get('/v1/offsets?topic=times&partition=0&at=soon')).status).toBe(400);
  });

  it('refuses bodies over the Lambda payload limit', async () => {
    const res = await http.post('/v1/produce', new Uint8Array(6 * 1024 * 1024 + 10), BIN);
    expect([res.status, res.body.error.code]).toEqual([413, 'MESSAGE_TOO_LARGE']);
    // As a Function URL measures it: a binary body travels base64-encoded in the event, so
    // 4.8 MB is already over (the SDK never sends more than 4,669,440 bytes).
    const binary = await http.post('/v1/produce', new Uint8Array(4_800_000), BIN);
    expect([binary.status, binary.body.error.code]).toEqual([413, 'MESSAGE_TOO_LARGE']);
    expect(binary.body.error.message).toContain('base64');
  });

  it('keeps every acked record at its offset with 32 concurrent clients on one partition', async () => {
    await http.post('/v1/topics', { name: 'race' });
    const acks = await Promise.all(
      Array.from({ length: 32 }, async (_, c) => {
        const out: [number, string][] = [];
        for (let i = 0; i < 3; i++) {
          const value = `c${c}-${i}`;
          const res = await http.post('/v1/produce', { topic: 'race', records: [{ value, partition: 0 }] });
          expect(res.status).toBe(200);
          out.push([res.body.records[0].offset, value]);
        }
        return out;
      }),
    );
    const fetched = await http.get('/v1/fetch?topic=race&partition=0&offset=0&maxBytes=4194304');
    const values = fetched.body.records.map((r: { value: string }) => r.value);
    expect(fetched.body.records.map((r: { offset: number }) => r.offset)).toEqual(
      Array.from({ length: 96 }, (_, i) => i),
    );
    for (const [offset, value] of acks.flat()) expect(values[offset]).toBe(value);
  });
});

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

describe('HTTP handlers in process: JSON produce', () => {
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

describe('HTTP handlers in process: binary produce validation', () => {
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

describe('HTTP handlers in process: error codes', () => {
  it('a topic name over 1 KiB is an unknown (or invalid) topic, not MESSAGE_TOO_LARGE', async () => {
    const s = setup();
    const name = 'x'.repeat(1100);
    const fetched = await s.call('GET', `/v1/fetch?topic=${name}&partition=0&offset=0`);
    expect([404, 400]).toContain(fetched.status);
    const produced = await s.call('POST', '/v1/produce', { topic: name, records: [{ value: 'a' }] });
    expect([404, 400]).toContain(produced.status);
  });
});
