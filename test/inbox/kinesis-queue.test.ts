/**
 * The Kinesis inbox adapter (`storage/kinesis.ts`) on moto: PutRecords in calls of at most
 * 500 records, sequence numbers in order as message ids, partition keys per producer, topic
 * and partition; throttled calls and records refused for now put again (faults injected at
 * the HTTP layer, requests reaching moto unchanged) without losing or reordering any; the
 * environment's choice of it (`SLUICE_INBOX_STREAM`, `SLUICE_INBOX_BACKEND=kinesis` on the
 * emulator) and `POST /v1/inbox` through it.
 */
import { Readable } from 'node:stream';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevServer } from '../../bin/dev.js';
import { inboxMessageOf } from '../../core/inbox/build.js';
import { encodeInboxMessage } from '../../core/inbox/message.js';
import { inboxPartitionKey } from '../../core/inbox/partition-key.js';
import { createContext } from '../../lambdas/context.js';
import { logLevel, Sluice } from '../../sdk/index.js';
import { inboxFromEnv } from '../../storage/inbox-config.js';
import { KinesisInboxQueue, putRecordsChunks, type ShardRecord } from '../../storage/kinesis.js';
import { awsEndpoint, EMULATOR_CREDENTIALS, makeStores, type TestStores } from '../helpers/stores.js';
import { waitFor } from '../sdk/harness.js';
import { counting } from './counting.js';
import { readShard } from './events.js';
import { makeStream, type TestStream } from './queues.js';

/** Every record of every shard of `stream`, shard by shard. */
async function readEverything(stream: KinesisInboxQueue): Promise<ShardRecord[]> {
  const out: ShardRecord[] = [];
  for (const shard of await stream.shards()) out.push(...(await readShard(stream, shard)));
  return out;
}

const body = (producer: string, seq: number, partition = 0) =>
  encodeInboxMessage(
    inboxMessageOf({
      topic: 'events',
      partition,
      records: [{ value: Buffer.from(`${producer}-${seq}`) }],
      now: 1000,
      producer: { id: producer, epoch: 0, seq },
    }),
  );

/** Node's HTTP/1.1 handler with faults: PutRecords calls 1, 4, 7… throttled; 2, 5, 8… with their last record reported refused (it landed). */
function faultyHandler() {
  const inner = new NodeHttpHandler();
  const counts = { calls: 0, records: 0, throttled: 0, refused: 0 };
  const json = (statusCode: number, value: unknown) => ({
    response: {
      statusCode,
      headers: { 'content-type': 'application/x-amz-json-1.1' },
      body: Readable.from([Buffer.from(JSON.stringify(value))]),
    },
  });
  const handler = {
    metadata: { handlerProtocol: 'http/1.1' },
    destroy: () => inner.destroy(),
    async handle(request: Parameters<NodeHttpHandler['handle']>[0]) {
      if (request.headers['x-amz-target'] !== 'Kinesis_20131202.PutRecords') return inner.handle(request);
      const n = ++counts.calls;
      counts.records += (JSON.parse(String(request.body)) as { Records: unknown[] }).Records.length;
      if (n % 3 === 1) {
        counts.throttled++;
        return json(400, {
          __type: 'ProvisionedThroughputExceededException',
          message: 'Rate exceeded (injected)',
        });
      }
      const out = await inner.handle(request);
      if (n % 3 !== 2 || out.response.statusCode !== 200) return out;
      const chunks: Buffer[] = [];
      for await (const c of out.response.body as Readable) chunks.push(Buffer.from(c));
      const answer = JSON.parse(Buffer.concat(chunks).toString()) as {
        FailedRecordCount: number;
        Records: Record<string, string>[];
      };
      answer.Records[answer.Records.length - 1] = {
        ErrorCode: 'ProvisionedThroughputExceededException',
        ErrorMessage: 'injected',
      };
      answer.FailedRecordCount = 1;
      counts.refused++;
      return json(200, answer);
    },
    updateHttpClientConfig: () => undefined,
    httpHandlerConfigs: () => ({}),
  };
  return { handler, counts };
}

describe('the Kinesis inbox adapter (moto)', () => {
  let s: TestStream;
  beforeAll(async () => {
    s = await makeStream({ shards: 2 });
  });
  afterAll(async () => {
    await s?.cleanup();
  });

  it('puts 1,200 messages in calls of 500 at most; ids are the sequence numbers, a producer-partition in one shard, in order', async () => {
    const bodies = Array.from({ length: 1200 }, (_, i) =>
      body(String(1 + (i % 3)), Math.floor(i / 3), i % 2),
    );
    const ids = await s.stream.send(bodies);
    expect(ids).toHaveLength(1200);
    const calls = putRecordsChunks(bodies.map((b) => ({ Data: Buffer.from(b), PartitionKey: 'k' })));
    expect(calls.map((c) => c.length)).toEqual([500, 500, 200]);
    // 5 MiB per call: 12 records of 1 MiB go in three calls.
    const big = Array.from({ length: 12 }, () => ({
      Data: new Uint8Array(1024 * 1024 - 10),
      PartitionKey: 'k',
    }));
    expect(putRecordsChunks(big).map((c) => c.length)).toEqual([5, 5, 2]);
    const records = await readEverything(s.stream);
    expect(records).toHaveLength(1200);
    // Sequence numbers are unique per shard (moto numbers each shard from 1): match by body.
    const byBody = new Map(records.map((r) => [Buffer.from(r.data).toString(), r]));
    expect(byBody.size).toBe(1200);
    bodies.forEach((b, i) => {
      const r = byBody.get(b)!;
      expect(r.sequenceNumber).toBe(ids[i]);
      const m = JSON.parse(b) as Parameters<typeof inboxPartitionKey>[0];
      expect(r.partitionKey).toBe(inboxPartitionKey(m));
      expect(r.partitionKey).toBe(`${m.producer!.id}:events:${m.partition}`);
    });
    // Each producer-partition's messages are in sequence order in the stream.
    const keys = new Map<string, number[]>();
    for (const r of records) {
      const m = JSON.parse(Buffer.from(r.data).toString()) as { producer: { seq: number } };
      keys.set(r.partitionKey, [...(keys.get(r.partitionKey) ?? []), m.producer.seq]);
    }
    for (const seqs of keys.values()) expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  });

  it('puts throttled calls again whole and refused records again alone: every message once, ids in order', async () => {
    const { createKinesisClient } = await import('../../storage/kinesis.js');
    const faulty = faultyHandler();
    const client = await createKinesisClient({
      endpoint: awsEndpoint(),
      region: 'us-east-1',
      credentials: EMULATOR_CREDENTIALS,
      requestHandler: faulty.handler,
      maxAttempts: 1, // the adapter's own retries, not the client's
    });
    const other = await makeStream();
    try {
      const stream = new KinesisInboxQueue(other.stream.streamArn, client, { backoffMs: 1 });
      const bodies = Array.from({ length: 30 }, (_, i) => body('9', i));
      const ids: string[] = [];
      for (let i = 0; i < bodies.length; i += 10) ids.push(...(await stream.send(bodies.slice(i, i + 10))));
      expect(faulty.counts.throttled).toBeGreaterThan(0);
      expect(faulty.counts.refused).toBeGreaterThan(0);
      const records = await readEverything(other.stream);
      // The refused records landed the first time and were put again: duplicates, for the batcher's ledger.
      expect(records).toHaveLength(30 + faulty.counts.refused);
      const firsts = new Map<string, string>();
      for (const r of records) {
        const b = Buffer.from(r.data).toString();
        if (!firsts.has(b)) firsts.set(b, r.sequenceNumber);
      }
      expect([...firsts.keys()].sort()).toEqual([...bodies].sort());
      // Calls: 3 sends, each throttled or refused at most once per call of the schedule.
      expect(faulty.counts.calls).toBeLessThanOrEqual(3 * 3);
      expect(ids.every((id) => /^\d+$/.test(id))).toBe(true);
    } finally {
      client.destroy();
      await other.cleanup();
    }
  });

  it('a non-retriable refusal fails the send (a stream that does not exist)', async () => {
    const missing = new KinesisInboxQueue(`${s.stream.streamArn}-gone`, s.stream.client, { backoffMs: 1 });
    await expect(missing.send([body('1', 0)])).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});

describe('SLUICE_INBOX_BACKEND=kinesis on the emulator; POST /v1/inbox through the stream', () => {
  let stores: TestStores;
  let server: Awaited<ReturnType<typeof startDevServer>>;
  const env = () => ({
    SLUICE_STORAGE: 'aws',
    AWS_ENDPOINT_URL: awsEndpoint(),
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
    SLUICE_INBOX_BACKEND: 'kinesis',
  });
  beforeAll(async () => {
    stores = await makeStores('aws');
  });
  afterAll(async () => {
    await server?.close();
    await stores?.cleanup();
  });

  it('creates a stream sluice-inbox of one shard (once) and its dead-letter queue; the metadata names the stream', async () => {
    const a = await inboxFromEnv(env());
    const b = await inboxFromEnv(env());
    try {
      expect(a!.queue).toBeInstanceOf(KinesisInboxQueue);
      const stream = a!.queue as KinesisInboxQueue;
      expect(stream.address).toEqual({
        type: 'kinesis',
        streamArn: expect.stringMatching(/^arn:aws:kinesis:us-east-1:\d+:stream\/sluice-inbox$/),
        region: 'us-east-1',
      });
      expect(b!.queue.address).toEqual(stream.address);
      expect(await stream.shards()).toHaveLength(1);
      // Functions that only answer the metadata read the ARN from the environment.
      const ctx = createContext(stores, { env: { SLUICE_INBOX_STREAM: stream.streamArn } });
      expect(await ctx.inboxAddress()).toEqual(stream.address);
      const emulated = createContext(stores, { env: env() });
      expect(await emulated.inboxDeadLetters()).toMatchObject({
        address: { type: 'sqs', queueUrl: expect.stringMatching(/sluice-inbox-dlq$/) },
      });
    } finally {
      await a?.close();
      await b?.close();
    }
  });

  it("POST /v1/inbox (the SDK's inbox: { mode: 'http' }) puts to the stream; sluice dev's poller appends", async () => {
    const ctx = createContext(stores, { env: env(), topicCacheTtlMs: 1000 });
    server = await startDevServer({ port: 0, context: ctx, inboxWindowMs: 100 });
    const api = counting(server.url);
    const sluice = new Sluice({
      endpoint: server.url,
      transport: api.transport,
      inbox: { mode: 'http' },
      logLevel: logLevel.NOTHING,
    });
    await sluice.admin().createTopics({ topics: [{ topic: 'viahttp', numPartitions: 2 }] });
    const p = sluice.producer({ acks: 1 });
    const values: string[] = [];
    for (let i = 0; i < 3; i++) {
      const metas = await p.send({
        topic: 'viahttp',
        messages: [0, 1].map((partition) => ({ partition, value: `h${partition}-${i}` })),
      });
      expect(metas.map((m) => m.inboxMessageId)).toEqual([
        expect.stringMatching(/^\d+$/),
        expect.stringMatching(/^\d+$/),
      ]);
      values.push(`h0-${i}`, `h1-${i}`);
    }
    expect(api.paths.get('POST /v1/inbox')).toBe(3);
    const read = async (partition: number) =>
      (await ctx.reader.fetchRecords('viahttp', partition, 0, { maxBytes: 1 << 20 })).records.map((r) =>
        Buffer.from(r.value!).toString(),
      );
    await waitFor(async () => (await read(0)).length + (await read(1)).length >= 6, 30_000, 'the batcher');
    expect(await read(0)).toEqual(['h0-0', 'h0-1', 'h0-2']);
    expect(await read(1)).toEqual(['h1-0', 'h1-1', 'h1-2']);
    await p.disconnect();
  }, 60_000);
});
