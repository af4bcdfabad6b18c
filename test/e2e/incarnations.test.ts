/**
 * Topic incarnations (docs/design.md "Topic incarnations"), over HTTP into two `sluice dev`
 * instances sharing one store — A, and B whose topic cache lives an hour, as a warm Lambda
 * instance's would — on the embedded store (files + SQLite) and on moto (S3 + DynamoDB).
 * A topic deleted and re-created under its name starts clean: no committed offset, no
 * producer state, no record of the old one; a client naming the old incarnation's id is
 * answered UNKNOWN_TOPIC_ID; an instance whose cache still holds the old topic neither
 * writes to it nor reads it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../bin/dev.js';
import { encodeBatch } from '../../core/records/index.js';
import { encodeProduceFrames, parseFetchFrames } from '../../core/wire.js';
import { createContext } from '../../lambdas/context.js';
import { type Api, api } from '../helpers/http.js';
import { makeStores } from '../helpers/stores.js';

const BIN = { 'content-type': 'application/vnd.sluice.batches' };
const enc = new TextEncoder();

describe.each(['sqlite', 'aws'] as const)('topic incarnations on %s', (kind) => {
  let servers: DevServer[] = [];
  /** Instance A, and instance B with a topic cache that outlives every test. */
  let a: Api;
  let b: Api;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    const stores = await makeStores(kind);
    cleanup = stores.cleanup;
    servers = await Promise.all([
      startDevServer({ port: 0, context: createContext(stores, { env: {} }) }),
      startDevServer({ port: 0, context: createContext(stores, { env: {}, topicCacheTtlMs: 3_600_000 }) }),
    ]);
    a = api(servers[0]!.url);
    b = api(servers[1]!.url);
  });

  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close()));
    await cleanup?.();
  });

  const produce = async (http: Api, topic: string, n: number, prefix = 'v') => {
    const res = await http.post('/v1/produce', {
      topic,
      records: Array.from({ length: n }, (_, i) => ({ value: `${prefix}${i}`, partition: 0 })),
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body.records as { partition: number; offset: number }[];
  };
  const topicId = async (http: Api, topic: string): Promise<string> => {
    const res = await http.get(`/v1/fetch?topic=${topic}&partition=0&offset=0`);
    expect(res.status).toBe(200);
    return res.body.topicId;
  };

  it("drops a group's committed offsets with the topic, and a re-created topic starts at its beginning", async () => {
    await a.post('/v1/topics', { name: 't13', partitions: 1 });
    await produce(a, 't13', 2);
    const oldId = await topicId(a, 't13');
    expect(
      (await b.post('/v1/groups/g13/offsets', { offsets: [{ topic: 't13', partition: 0, offset: 2 }] }))
        .status,
    ).toBe(200);
    expect((await a.get('/v1/groups/g13/offsets')).body.offsets).toEqual([
      { topic: 't13', partition: 0, offset: 2, metadata: null, topicId: oldId },
    ]);

    expect((await a.delete('/v1/topics/t13')).status).toBe(204);
    expect((await a.get('/v1/groups/g13/offsets')).body.offsets).toEqual([]);

    await a.post('/v1/topics', { name: 't13', partitions: 1 });
    await produce(a, 't13', 12, 'new');
    const newId = await topicId(a, 't13');
    expect(newId).not.toBe(oldId);
    // The old commit is no position in the new topic: nothing committed, the whole lag.
    expect((await a.get('/v1/groups/g13/offsets')).body.offsets).toEqual([]);
    // B's cache still holds the deleted topic: a commit without an id is recorded against
    // that one (no read added to a commit), where it is invisible — never a position of the new.
    const warm = await b.post('/v1/groups/g13/offsets', {
      offsets: [{ topic: 't13', partition: 0, offset: 7 }],
    });
    expect(warm.status, JSON.stringify(warm.body)).toBe(200);
    expect((await a.get('/v1/groups/g13/offsets')).body.offsets).toEqual([]);
    expect((await b.get('/v1/groups/g13/offsets')).body.offsets).toEqual([]);
    const described = await a.get('/v1/groups/g13');
    expect(described.status).toBe(200);
    expect(JSON.stringify(described.body)).not.toContain('"offset":2');

    // A commit naming the old incarnation is refused and changes nothing.
    const stale = await b.post('/v1/groups/g13/offsets', {
      offsets: [{ topic: 't13', partition: 0, offset: 5, topicId: oldId }],
    });
    expect([stale.status, stale.body.error.code]).toEqual([404, 'UNKNOWN_TOPIC_ID']);
    expect((await a.get('/v1/groups/g13/offsets')).body.offsets).toEqual([]);

    // A commit below the deleted topic's offset is no commit backwards.
    const fresh = await b.post('/v1/groups/g13/offsets', {
      offsets: [{ topic: 't13', partition: 0, offset: 1, topicId: newId }],
    });
    expect(fresh.status, JSON.stringify(fresh.body)).toBe(200);
    expect((await a.get('/v1/groups/g13/offsets')).body.offsets).toEqual([
      { topic: 't13', partition: 0, offset: 1, metadata: null, topicId: newId },
    ]);
  });

  it('an instance caching the deleted topic writes to the topic of its name as it is now, never to the old one', async () => {
    await a.post('/v1/topics', { name: 'cached', partitions: 1 });
    await produce(b, 'cached', 3, 'old');
    const oldId = await topicId(b, 'cached');

    expect((await a.delete('/v1/topics/cached')).status).toBe(204);
    await a.post('/v1/topics', { name: 'cached', partitions: 1 });
    // A new B instance would know the new topic; the warm one learns it from the tombstone.
    expect(await produce(b, 'cached', 1, 'new')).toEqual([{ partition: 0, offset: 0 }]);
    const seen = await a.get('/v1/fetch?topic=cached&partition=0&offset=0');
    expect(seen.body.highWatermark).toBe(1);
    expect(seen.body.records.map((r: { value: string }) => r.value)).toEqual(['new0']);
    expect(seen.body.topicId).not.toBe(oldId);

    // Deleted and not re-created: B's cache still has the topic, its append is refused all the same.
    await a.post('/v1/topics', { name: 'dropped', partitions: 1 });
    await produce(b, 'dropped', 1);
    const droppedId = await topicId(b, 'dropped');
    expect((await a.delete('/v1/topics/dropped')).status).toBe(204);
    // Named by its id, a topic that is gone is UNKNOWN_TOPIC_ID, through either instance.
    for (const http of [a, b]) {
      const byId = await http.get(`/v1/fetch?topic=dropped&partition=0&offset=0&topicId=${droppedId}`);
      expect([byId.status, byId.body.error.code]).toEqual([404, 'UNKNOWN_TOPIC_ID']);
    }
    const gone = await b.post('/v1/produce', { topic: 'dropped', records: [{ value: 'x', partition: 0 }] });
    expect([gone.status, gone.body.error.code]).toEqual([404, 'UNKNOWN_TOPIC_OR_PARTITION']);
    const read = await b.get('/v1/fetch?topic=dropped&partition=0&offset=0');
    expect([read.status, read.body.error.code]).toEqual([404, 'UNKNOWN_TOPIC_OR_PARTITION']);
  });

  it('a reader naming the old incarnation is answered UNKNOWN_TOPIC_ID on every fetch path', async () => {
    await a.post('/v1/topics', { name: 'reread', partitions: 1 });
    await produce(b, 'reread', 3, 'old');
    const oldId = await topicId(b, 'reread');
    expect((await b.get(`/v1/fetch?topic=reread&partition=0&offset=1&topicId=${oldId}`)).status).toBe(200);

    await a.delete('/v1/topics/reread');
    await a.post('/v1/topics', { name: 'reread', partitions: 1 });
    await produce(a, 'reread', 5, 'new');

    for (const http of [a, b]) {
      const json = await http.get(`/v1/fetch?topic=reread&partition=0&offset=1&topicId=${oldId}`);
      expect([json.status, json.body.error.code]).toEqual([404, 'UNKNOWN_TOPIC_ID']);
      const offsets = await http.get(`/v1/offsets?topic=reread&partition=0&at=latest&topicId=${oldId}`);
      expect([offsets.status, offsets.body.error.code]).toEqual([404, 'UNKNOWN_TOPIC_ID']);
      // The binary long poll, too: the partition's error, no batches of the new topic.
      const bin = await http.post(
        '/v1/fetch',
        { partitions: [{ topic: 'reread', partition: 0, offset: 1, topicId: oldId }], maxWaitMs: 0 },
        { accept: BIN['content-type'] },
      );
      expect(bin.status).toBe(200);
      expect(parseFetchFrames(bin.raw).flatMap((f) => f.batches)).toEqual([]);
      expect(JSON.parse(bin.headers.get('x-sluice-partition-errors') ?? '[]')).toMatchObject([
        { topic: 'reread', partition: 0, error: { code: 'UNKNOWN_TOPIC_ID' } },
      ]);
    }
    // Without an id, the topic of that name is read: the new one, from its beginning.
    const now = await b.get('/v1/fetch?topic=reread&partition=0&offset=0');
    expect(now.body.records.map((r: { value: string }) => r.value)).toEqual([
      'new0',
      'new1',
      'new2',
      'new3',
      'new4',
    ]);
    const newId = now.body.topicId;
    expect(
      (await b.get(`/v1/offsets?topic=reread&partition=0&at=latest&topicId=${newId}`)).body,
    ).toMatchObject({ offset: 5 });
  });

  it("an idempotent producer's sequences of the old topic are no duplicates in the new one", async () => {
    const batch = (seq: number, value: string) =>
      encodeBatch([{ value: enc.encode(value) }], {
        now: 0,
        producerId: 42n,
        producerEpoch: 0,
        baseSequence: seq,
      });
    const send = (http: Api, seq: number, value: string) =>
      http.post(
        '/v1/produce',
        encodeProduceFrames([{ topic: 'idem', partition: 0, batch: batch(seq, value) }]),
        BIN,
      );
    await a.post('/v1/topics', { name: 'idem', partitions: 1 });
    for (const [seq, value] of [
      [0, 'o0'],
      [1, 'o1'],
      [2, 'o2'],
    ] as const) {
      expect((await send(b, seq, value)).status).toBe(200);
    }
    // A retry is a duplicate while the topic lives.
    const retry = await send(b, 2, 'o2');
    expect(retry.status).toBe(200);
    expect((await a.get('/v1/fetch?topic=idem&partition=0&offset=0')).body.highWatermark).toBe(3);

    await a.delete('/v1/topics/idem');
    await a.post('/v1/topics', { name: 'idem', partitions: 1 });
    // Sequence 1 was appended to the old topic; to the new one it is no duplicate: appended.
    const base = async (res: Promise<{ status: number; body: { partitions: { baseOffset: number }[] } }>) => {
      const { status, body } = await res;
      expect(status, JSON.stringify(body)).toBe(200);
      return body.partitions[0]!.baseOffset;
    };
    expect(await base(send(a, 1, 'n1'))).toBe(0);
    expect(await base(send(a, 2, 'n2'))).toBe(1);
    // A retry within the new topic is a duplicate of the new topic's record.
    expect(await base(send(a, 2, 'n2'))).toBe(1);
    // Through the instance whose cache holds the old topic's producer state: the next
    // sequence lands in the new topic, after what it holds.
    expect(await base(send(b, 3, 'n3'))).toBe(2);
    const fetched = await a.get('/v1/fetch?topic=idem&partition=0&offset=0');
    expect(fetched.body.records.map((r: { offset: number; value: string }) => [r.offset, r.value])).toEqual([
      [0, 'n1'],
      [1, 'n2'],
      [2, 'n3'],
    ]);
  });
});
