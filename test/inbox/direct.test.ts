/**
 * acks=1 and acks=0 straight to SQS (moto): `GET /v1/metadata` names the queue, the SDK
 * sends SendMessageBatch itself (no produce invocation per send), the dev server's batcher
 * drains the same queue. Under throttling on both sides — the SDK's sends (throttled, lost
 * answers, partial batch failures) and the batcher's receives and deletes — every acked
 * event is in the log exactly once and in producer order; request counts come from the
 * metered queue and the counting transports.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevServer } from '../../bin/dev.js';
import { createContext } from '../../lambdas/context.js';
import { logLevel, Sluice } from '../../sdk/index.js';
import { createHttpTransport } from '../../sdk/transport/http.js';
import { MeteredInboxQueue } from '../../storage/metered-queue.js';
import { EMULATOR_CREDENTIALS, makeStores, type TestStores } from '../helpers/stores.js';
import { waitFor } from '../sdk/harness.js';
import { counting } from './counting.js';
import { expectDeniedFallsBackToHttp, FAST_RETRY } from './denied.js';
import { sqsFaults, ThrottlingInboxQueue } from './faults.js';
import { makeQueue, type TestQueue } from './queues.js';

describe('acks=1 and acks=0 straight to SQS (moto), with throttling', () => {
  let stores: TestStores;
  let q: TestQueue;
  let metered: MeteredInboxQueue;
  let throttling: ThrottlingInboxQueue;
  let server: Awaited<ReturnType<typeof startDevServer>>;
  beforeAll(async () => {
    stores = await makeStores('aws');
    // A short visibility timeout: a throttled delete's messages come back (and are found in the ledger) soon.
    q = await makeQueue('sqs', { visibilityTimeoutSec: 2 });
    // The first delete is throttled, so its messages come back and are deleted again: a fault
    // on the delete side whatever the timing makes of the batches (they vary with the load).
    throttling = new ThrottlingInboxQueue(q.queue, { receive: 7, delete: 4 }, { delete: 1 });
    metered = new MeteredInboxQueue(throttling);
    server = await startDevServer({
      port: 0,
      context: createContext(stores, { inbox: metered, topicCacheTtlMs: 1000 }),
      inboxWindowMs: 100,
    });
  });
  afterAll(async () => {
    await server?.close();
    await q?.cleanup();
    await stores?.cleanup();
  });

  it('GET /v1/metadata names the queue', async () => {
    const meta = (await (await fetch(`${server.url}/v1/metadata`)).json()) as { inbox: unknown };
    expect(meta.inbox).toEqual(q.queue.address);
    expect(meta.inbox).toMatchObject({ type: 'sqs', region: 'us-east-1' });
  });

  it('every acks level end to end; each acked event once, in producer order; no produce invocation per acks=1 send', async () => {
    const api = counting(server.url);
    const sqs = sqsFaults(createHttpTransport({ endpoint: 'http://sqs', sign: false }));
    const sluice = new Sluice({
      endpoint: server.url,
      region: 'us-east-1',
      credentials: EMULATOR_CREDENTIALS,
      transport: api.transport,
      inbox: { transport: sqs.transport },
      retry: FAST_RETRY,
      logLevel: logLevel.NOTHING,
    });
    await sluice.admin().createTopics({ topics: [{ topic: 'direct', numPartitions: 3 }] });
    metered.counts.send = 0;

    // Three acks=1 producers, each send writing all three partitions (three messages, one SendMessageBatch).
    const acked: string[] = [];
    const producers = [0, 1, 2].map(() => sluice.producer({ acks: 1 }));
    await Promise.all(
      producers.map(async (p, n) => {
        for (let i = 0; i < 6; i++) {
          const metas = await p.send({
            topic: 'direct',
            messages: [0, 1, 2].map((partition) => ({ partition, value: `a${n}-${partition}-${i}` })),
          });
          expect(metas).toHaveLength(3);
          for (const m of metas)
            expect(m).toMatchObject({ baseOffset: '-1', inboxMessageId: expect.any(String) });
          for (const partition of [0, 1, 2]) acked.push(`a${n}-${partition}-${i}`);
        }
      }),
    );
    // acks=0: resolves at once, flush ships.
    const fire = sluice.producer({ acks: 0 });
    for (let i = 0; i < 5; i++) {
      expect(await fire.send({ topic: 'direct', messages: [{ partition: 0, value: `z-0-${i}` }] })).toEqual(
        [],
      );
      acked.push(`z-0-${i}`);
    }
    await fire.flush();
    expect(fire.backgroundFailures).toBe(0);
    // acks=all: offsets at once, through the produce function.
    const all = sluice.producer();
    const [m] = await all.send({ topic: 'direct', messages: [{ partition: 1, value: 'all-1-0' }] });
    expect(Number(m!.baseOffset)).toBeGreaterThanOrEqual(0);
    acked.push('all-1-0');

    const read = async (partition: number) =>
      (await server.context.reader.fetchRecords('direct', partition, 0, { maxBytes: 1 << 20 })).records.map(
        (r) => Buffer.from(r.value!).toString(),
      );
    const log = async () => (await Promise.all([0, 1, 2].map(read))).flat();
    await waitFor(async () => (await log()).length >= acked.length, 30_000, 'the batcher');
    // Let redeliveries of throttled deletes come back and be recognised as duplicates.
    await new Promise((r) => setTimeout(r, 2500));
    const everything = await log();
    expect([...everything].sort()).toEqual([...acked].sort());
    for (const partition of [0, 1, 2]) {
      const values = await read(partition);
      for (const n of [0, 1, 2]) {
        expect(values.filter((v) => v.startsWith(`a${n}-`))).toEqual(
          [0, 1, 2, 3, 4, 5].map((i) => `a${n}-${partition}-${i}`),
        );
      }
      if (partition === 0)
        expect(values.filter((v) => v.startsWith('z-'))).toEqual([0, 1, 2, 3, 4].map((i) => `z-0-${i}`));
    }

    // The faults happened on both sides.
    expect(sqs.counts.throttled).toBeGreaterThan(0);
    expect(sqs.counts.partialFailures).toBeGreaterThan(0);
    expect(sqs.counts.lostAnswers).toBeGreaterThan(0);
    expect(throttling.throttled.receive).toBeGreaterThan(0);
    expect(throttling.throttled.delete).toBeGreaterThan(0);
    // acks=1/0 never went through the produce function: no POST /v1/inbox, and the server's
    // queue port sent nothing; the SDK's SendMessageBatch requests were one per send plus retries.
    expect(api.paths.get('POST /v1/inbox') ?? 0).toBe(0);
    expect(metered.counts.send).toBe(0);
    const sends = 3 * 6 + 5;
    expect(sqs.counts.requests).toBeGreaterThanOrEqual(sends + sqs.counts.throttled + sqs.counts.lostAnswers);
    expect(sqs.counts.requests).toBeLessThanOrEqual(sends * 3);
    // One producer id per producer (acks=1/0: the inbox's; none failed for good), one acks=all produce.
    expect(api.paths.get('POST /v1/producers')).toBe(5);
    expect(api.paths.get('POST /v1/produce')).toBe(1);
    // The batcher received at most 10 per request and deleted in batches of 10.
    expect(metered.counts.receive).toBeGreaterThan(0);
    expect(metered.counts.delete).toBeGreaterThan(0);
    for (const p of [...producers, fire, all]) await p.disconnect();
  }, 60_000);

  it("inbox: { mode: 'http' } goes through POST /v1/inbox instead", async () => {
    const api = counting(server.url);
    const sluice = new Sluice({
      endpoint: server.url,
      transport: api.transport,
      inbox: { mode: 'http' },
      retry: FAST_RETRY,
      logLevel: logLevel.NOTHING,
    });
    await sluice.admin().createTopics({ topics: [{ topic: 'viahttp', numPartitions: 2 }] });
    const before = metered.counts.send;
    const p = sluice.producer({ acks: 1 });
    const metas = await p.send({
      topic: 'viahttp',
      messages: [
        { partition: 0, value: 'h0' },
        { partition: 1, value: 'h1' },
      ],
    });
    expect(metas.map((m) => m.partition).sort()).toEqual([0, 1]);
    // One request for both partitions; the server sent both messages in one batch.
    expect(api.paths.get('POST /v1/inbox')).toBe(1);
    expect(metered.counts.send - before).toBe(1);
    const read = async (partition: number) =>
      (await server.context.reader.fetchRecords('viahttp', partition, 0, { maxBytes: 1 << 20 })).records
        .length;
    await waitFor(async () => (await read(0)) + (await read(1)) >= 2, 30_000, 'the batcher');
    await p.disconnect();
  }, 60_000);

  it('a send over 256 KiB per partition goes straight to SQS in rounds of messages, each partition in order', async () => {
    const sqs = sqsFaults(createHttpTransport({ endpoint: 'http://sqs', sign: false }));
    const api = counting(server.url);
    const sluice = new Sluice({
      endpoint: server.url,
      region: 'us-east-1',
      credentials: EMULATOR_CREDENTIALS,
      transport: api.transport,
      inbox: { transport: sqs.transport },
      retry: FAST_RETRY,
      logLevel: logLevel.NOTHING,
    });
    await sluice.admin().createTopics({ topics: [{ topic: 'rounds', numPartitions: 2 }] });
    const p = sluice.producer({ acks: 1 });
    // 5 × 60 KB per partition: 80 KB each as base64 JSON, so at least two messages each.
    const values = (partition: number) =>
      Array.from({ length: 5 }, (_, i) => `${partition}${i}`.repeat(30_000));
    const metas = await p.send({
      topic: 'rounds',
      messages: [0, 1].flatMap((partition) => values(partition).map((value) => ({ partition, value }))),
    });
    expect(metas.map((m) => m.partition).sort()).toEqual([0, 1]);
    expect(api.paths.get('POST /v1/inbox') ?? 0).toBe(0);
    const read = async (partition: number) =>
      (await server.context.reader.fetchRecords('rounds', partition, 0, { maxBytes: 4 << 20 })).records.map(
        (r) => Buffer.from(r.value!).toString(),
      );
    await waitFor(async () => (await read(0)).length + (await read(1)).length >= 10, 30_000, 'the batcher');
    expect(await read(0)).toEqual(values(0));
    expect(await read(1)).toEqual(values(1));
    await p.disconnect();
  }, 60_000);

  it('credentials denied by SQS (no sqs:SendMessage): the sends go through POST /v1/inbox, once each, in order', async () => {
    // SQS's answer to a principal without sqs:SendMessage on the queue.
    await expectDeniedFallsBackToHttp(server, 'denied', {
      contentType: 'application/x-amz-json-1.0',
      type: 'com.amazonaws.sqs#AccessDenied',
    });
  }, 60_000);
});
