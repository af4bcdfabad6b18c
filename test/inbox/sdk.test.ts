/**
 * acks=1 end to end through the SDK and `sluice dev`: sends resolve once the inbox holds
 * them (no offsets yet), the dev server's batcher — the same code as the batcher
 * function — appends them, and a consumer reads each exactly once, in producer order. On
 * files + SQLite with the embedded queue, and on moto (S3, DynamoDB, SQS).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevServer } from '../../bin/dev.js';
import { createContext } from '../../lambdas/context.js';
import { type LogCreator, logLevel, Sluice } from '../../sdk/index.js';
import { makeStores, type StoreKind, type TestStores } from '../helpers/stores.js';
import { waitFor } from '../sdk/harness.js';
import { makeQueue, type TestQueue } from './queues.js';

const CASES: [StoreKind, 'embedded' | 'sqs'][] = [
  ['sqlite', 'embedded'],
  ['aws', 'sqs'],
];

describe.each(CASES)('SDK acks=1 on %s with the %s queue', (kind, queueKind) => {
  let stores: TestStores;
  let q: TestQueue;
  let server: Awaited<ReturnType<typeof startDevServer>>;
  let sluice: Sluice;
  beforeAll(async () => {
    stores = await makeStores(kind);
    q = await makeQueue(queueKind);
    server = await startDevServer({
      port: 0,
      context: createContext(stores, { inbox: q.queue, topicCacheTtlMs: 1000 }),
      inboxWindowMs: 100,
    });
    sluice = new Sluice({ endpoint: server.url, logLevel: logLevel.NOTHING });
  });
  afterAll(async () => {
    await server?.close();
    await q?.cleanup();
    await stores?.cleanup();
  });

  it('acknowledges from the inbox, then the batcher appends every event once, in producer order', async () => {
    const admin = sluice.admin();
    await admin.createTopics({ topics: [{ topic: 'small', numPartitions: 1 }] });
    // Three short-lived producers (a Lambda function's instances), each sending one at a time.
    const producers = [0, 1, 2].map(() => sluice.producer({ acks: 1 }));
    const acked: string[] = [];
    await Promise.all(
      producers.map(async (p, n) => {
        for (let i = 0; i < 4; i++) {
          const [meta] = await p.send({ topic: 'small', messages: [{ value: `p${n}-${i}` }] });
          expect(meta).toMatchObject({ topicName: 'small', partition: 0, baseOffset: '-1' });
          expect(meta!.inboxMessageId).toEqual(expect.any(String));
          acked.push(`p${n}-${i}`);
        }
      }),
    );
    // A non-idempotent producer: dedup by event id.
    const loose = sluice.producer({ acks: 1, idempotent: false });
    await loose.send({ topic: 'small', messages: [{ value: 'loose' }] });
    acked.push('loose');

    const ctx = server.context;
    const read = async () => {
      const r = await ctx.reader.fetchRecords('small', 0, 0, { maxBytes: 1 << 20 });
      return r.records.map((x) => Buffer.from(x.value!).toString());
    };
    await waitFor(async () => (await read()).length >= acked.length, 15_000, 'the batcher');
    const log = await read();
    expect([...log].sort()).toEqual([...acked].sort());
    for (const n of [0, 1, 2]) {
      expect(log.filter((v) => v.startsWith(`p${n}-`))).toEqual([0, 1, 2, 3].map((i) => `p${n}-${i}`));
    }
    for (const p of [...producers, loose]) await p.disconnect();
  });

  it('acks=0 resolves at once; flush ships the records; a failed background send is logged and counted', async () => {
    await sluice.admin().createTopics({ topics: [{ topic: 'fire', numPartitions: 1 }] });
    const producer = sluice.producer({ acks: 0 });
    for (let i = 0; i < 3; i++) {
      expect(await producer.send({ topic: 'fire', messages: [{ value: `f${i}` }] })).toEqual([]);
    }
    await producer.flush();
    expect(producer.backgroundFailures).toBe(0);
    const read = async () =>
      (await server.context.reader.fetchRecords('fire', 0, 0, { maxBytes: 1 << 20 })).records.map((x) =>
        Buffer.from(x.value!).toString(),
      );
    await waitFor(async () => (await read()).length >= 3, 15_000, 'the batcher');
    expect(await read()).toEqual(['f0', 'f1', 'f2']);

    const logs: { level: number; message: string }[] = [];
    const unreachable = new Sluice({
      endpoint: 'http://127.0.0.1:9',
      retry: { retries: 0 },
      logCreator:
        () =>
        ({ level, log }) => {
          logs.push({ level, message: String(log.message) });
        },
    });
    const lost = unreachable.producer({ acks: 0 });
    expect(await lost.send({ topic: 'fire', messages: [{ value: 'x' }, { value: 'y' }] })).toEqual([]);
    await lost.flush();
    expect(lost.backgroundFailures).toBe(2);
    expect(logs.some((l) => l.message.includes('acks=0 send failed'))).toBe(true);
    // The next send (the next invocation) warns about what was lost.
    await lost.send({ topic: 'fire', messages: [{ value: 'z' }] });
    expect(logs.some((l) => l.message.includes('were lost since the last send'))).toBe(true);
    await lost.flush();
  });

  it('splits a send over one inbox message (SQS 256 KiB) into several, in order; names a record no message holds', async () => {
    await sluice.admin().createTopics({ topics: [{ topic: 'bulk', numPartitions: 1 }] });
    const producer = sluice.producer({ acks: 1 });
    // 8 × 60 KB: 80 KB each in a message's base64 JSON, so three messages at least.
    const values = Array.from({ length: 8 }, (_, i) => String(i).repeat(60_000));
    const [meta] = await producer.send({
      topic: 'bulk',
      messages: values.map((value) => ({ value, headers: { dup: ['1', '2'], nul: null } })),
    });
    expect(meta).toMatchObject({ topicName: 'bulk', partition: 0, baseOffset: '-1' });
    const read = async () =>
      (await server.context.reader.fetchRecords('bulk', 0, 0, { maxBytes: 4 << 20 })).records;
    await waitFor(async () => (await read()).length >= 8, 15_000, 'the batcher');
    const log = await read();
    expect(log.map((r) => Buffer.from(r.value!).toString())).toEqual(values);
    // Headers as sent: repeated key kept, null not turned into empty.
    expect(log[0]!.headers.map((h) => [h.key, h.value && Buffer.from(h.value).toString()])).toEqual([
      ['dup', '1'],
      ['dup', '2'],
      ['nul', null],
    ]);
    const err = await producer
      .send({ topic: 'bulk', messages: [{ value: 'small' }, { value: 'x'.repeat(200_000) }] })
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'RecordTooLargeError', index: 1, topic: 'bulk' });
    expect((err as Error).message).toContain('inbox message');
    await producer.disconnect();
    expect(await read()).toHaveLength(8);
  });

  it('retries configured beyond the sender retry horizon are cut for inbox sends, with a warning', async () => {
    const warnings: { message: string; retries?: number }[] = [];
    const logCreator: LogCreator = () => (entry) => {
      if (entry.level === logLevel.WARN) warnings.push(entry.log);
    };
    const many = new Sluice({
      endpoint: server.url,
      retry: { retries: 20, maxRetryTime: 30_000 },
      requestTimeout: 30_000,
      logLevel: logLevel.WARN,
      logCreator,
    });
    await many.admin().createTopics({ topics: [{ topic: 'horizon', numPartitions: 1 }] });
    const p = many.producer({ acks: 1 });
    await p.send({ topic: 'horizon', messages: [{ value: 'h' }] });
    const cut = warnings.find((w) => w.message.includes('sender retry horizon'));
    // 30 s attempts, backoffs 0.36 s… up to 30 s: 7 retries take 285.7 s at worst, within
    // 4 min 55 s; 8 would take 345.7 s.
    expect(cut?.retries).toBe(7);
    await p.disconnect();
    // The defaults fit: no warning.
    warnings.length = 0;
    const plain = new Sluice({ endpoint: server.url, logLevel: logLevel.WARN, logCreator });
    const q = plain.producer({ acks: 1 });
    await q.send({ topic: 'horizon', messages: [{ value: 'i' }] });
    expect(warnings.filter((w) => w.message.includes('sender retry horizon'))).toEqual([]);
    await q.disconnect();
  });

  it('POST /v1/inbox refuses bad input with a 400 and enqueues nothing', async () => {
    const post = (json: unknown) =>
      fetch(`${server.url}/v1/inbox`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(json),
      });
    expect((await post({ topic: 'small', records: [] })).status).toBe(400);
    expect((await post({ topic: 'small', records: [{ value: 'x', partition: 9 }] })).status).toBe(404);
    const noSeq = await post({
      topic: 'small',
      records: [{ value: 'x' }],
      producer: { id: '1', epoch: 0, sequences: {} },
    });
    expect(noSeq.status).toBe(400);
    // A typo is a 400 naming the field, not an ignored field (closed bodies, issue 12).
    const typo = await post({ topic: 'small', records: [{ value: 'x', partiton: 0 }] });
    expect(typo.status).toBe(400);
    expect(JSON.stringify(await typo.json())).toContain('records.0.partiton');
    // The rules of the topic's configuration, as at produce: the batcher never meets a record
    // it cannot append (a compacted topic refuses a keyless record), nor one over the topic's limit.
    await sluice.admin().createTopics({
      topics: [
        {
          topic: 'compacted',
          configEntries: [
            { name: 'cleanup.policy', value: 'compact' },
            { name: 'max.message.bytes', value: '1024' },
          ],
        },
      ],
    });
    const keyless = await post({
      topic: 'compacted',
      records: [{ key: 'k', value: 'a' }, { value: 'keyless' }],
    });
    expect(keyless.status).toBe(400);
    expect(await keyless.json()).toMatchObject({ error: { code: 'INVALID_RECORD' } });
    const big = await post({ topic: 'compacted', records: [{ key: 'k', value: 'x'.repeat(2000) }] });
    expect(big.status).toBe(413);
    expect(JSON.stringify(await big.json())).toContain('records.0');
    const ok = await post({ topic: 'small', records: [{ value: 'x' }], eventId: 'e-1' });
    expect(ok.status).toBe(202);
    expect(await ok.json()).toMatchObject({
      topic: 'small',
      acks: 1,
      messages: [{ partition: 0, records: 1 }],
    });
  });
});
