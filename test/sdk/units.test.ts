/** The SDK's parts that need no cluster: errors, retry policy, signing, messages, in-process transport. */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { errorOf } from '../../sdk/api.js';
import { inProcessSluice } from '../../sdk/in-process.js';
import {
  AuthorizationFailedError,
  createHttpTransport,
  findCause,
  OffsetOutOfRangeError,
  Sluice,
  SluiceArgumentError,
  SluiceConnectionError,
  SluiceNumberOfRetriesExceededError,
  SluiceProtocolError,
  UnknownTopicOrPartitionError,
} from '../../sdk/index.js';
import { toRecord } from '../../sdk/messages.js';
import { backoff, DEFAULT_RETRY, withRetry } from '../../sdk/retry.js';
import { isFunctionUrl, regionOfUrl } from '../../sdk/transport/sigv4.js';
import { MemoryMetaStore, MemoryObjectStore } from '../../storage/memory.js';

const bytes = (s: string) => new TextEncoder().encode(s);
const answer = (status: number, body: string) => ({ status, headers: {}, body: bytes(body) });

describe('errors', () => {
  it('maps API error bodies to named classes with their retriable flag', () => {
    const e = errorOf(
      answer(416, '{"error":{"code":"OFFSET_OUT_OF_RANGE","message":"past the end","retriable":false}}'),
      'x',
    );
    expect(e).toBeInstanceOf(OffsetOutOfRangeError);
    expect(e).toBeInstanceOf(SluiceProtocolError);
    expect(e).toMatchObject({
      code: 'OFFSET_OUT_OF_RANGE',
      type: 'OFFSET_OUT_OF_RANGE',
      status: 416,
      retriable: false,
    });
    expect(e.name).toBe('OffsetOutOfRangeError');
    const t = errorOf(
      answer(429, '{"error":{"code":"THROTTLED","message":"slow down","retriable":true}}'),
      'x',
    );
    expect(t).toMatchObject({ code: 'THROTTLED', retriable: true });
  });

  it('treats answers that are not Sluice errors by their status', () => {
    expect(errorOf(answer(502, 'Internal Server Error'), 'POST /v1/produce')).toMatchObject({
      code: 'UNAVAILABLE',
      retriable: true,
    });
    const denied = errorOf(answer(403, '{"Message":"Forbidden"}'), 'GET /v1/metadata');
    expect(denied).toBeInstanceOf(AuthorizationFailedError);
    expect(denied.retriable).toBe(false);
  });

  it('findCause digs a connection error out of a retry error', () => {
    const conn = new SluiceConnectionError('refused', 'http://x');
    const wrapped = new SluiceNumberOfRetriesExceededError(conn, 5, 100);
    expect(findCause(wrapped, SluiceConnectionError)).toBe(conn);
    expect(findCause(wrapped, UnknownTopicOrPartitionError)).toBeUndefined();
  });
});

describe('retry', () => {
  it('backs off exponentially within the jitter factor, capped', () => {
    const opts = { ...DEFAULT_RETRY, initialRetryTime: 100, maxRetryTime: 1000, factor: 0.2 };
    for (const [attempt, base] of [
      [0, 100],
      [1, 200],
      [2, 400],
      [5, 1000],
    ] as const) {
      expect(backoff(opts, attempt, () => 0)).toBe(Math.min(1000, Math.round(base * 0.8)));
      expect(backoff(opts, attempt, () => 0.999999)).toBeLessThanOrEqual(1000);
      expect(backoff(opts, attempt, () => 0.999999)).toBeGreaterThanOrEqual(
        Math.min(1000, Math.round(base * 1.19)),
      );
    }
  });

  it('retries only retriable errors and wraps the last one when giving up', async () => {
    let calls = 0;
    const notRetriable = new UnknownTopicOrPartitionError('nope', { status: 404 });
    await expect(
      withRetry({ retries: 3, initialRetryTime: 1 }, async () => {
        calls++;
        throw notRetriable;
      }),
    ).rejects.toBe(notRetriable);
    expect(calls).toBe(1);
    calls = 0;
    const err = await withRetry({ retries: 3, initialRetryTime: 1, maxRetryTime: 2 }, async () => {
      calls++;
      throw new SluiceConnectionError('refused', 'http://x');
    }).catch((e) => e);
    expect(calls).toBe(4);
    expect(err).toBeInstanceOf(SluiceNumberOfRetriesExceededError);
    expect(err.retryCount).toBe(3);
    calls = 0;
    expect(
      await withRetry({ retries: 3, initialRetryTime: 1 }, async () => {
        if (++calls < 3) throw new SluiceConnectionError('refused', 'http://x');
        return 'ok';
      }),
    ).toBe('ok');
  });
});

describe('HTTP transport', () => {
  async function echoServer() {
    const seen: IncomingHttpHeaders[] = [];
    const server = createServer((req, res) => {
      seen.push(req.headers);
      req.resume();
      req.on('end', () => res.end('{}'));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return { url, seen, close: () => new Promise((r) => server.close(r)) };
  }

  it('recognises Function URLs and their region', () => {
    expect(isFunctionUrl('https://abcdefg.lambda-url.eu-west-1.on.aws/')).toBe(true);
    expect(regionOfUrl('https://abcdefg.lambda-url.eu-west-1.on.aws')).toBe('eu-west-1');
    expect(isFunctionUrl('http://127.0.0.1:8092')).toBe(false);
  });

  it('signs with SigV4 for service lambda when credentials are given, and not for sluice dev', async () => {
    const s = await echoServer();
    try {
      const signed = createHttpTransport({
        endpoint: s.url,
        region: 'eu-west-1',
        credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      });
      await signed({
        method: 'POST',
        url: `${s.url}/v1/produce?x=1`,
        headers: { 'content-type': 'application/json' },
        body: bytes('{}'),
      });
      const auth = s.seen[0]!.authorization as string;
      expect(auth).toMatch(
        /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/lambda\/aws4_request, SignedHeaders=.*host.*, Signature=[0-9a-f]{64}$/,
      );
      expect(s.seen[0]!['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
      expect(s.seen[0]!['x-amz-content-sha256']).toBe(
        '44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
      );

      const plain = createHttpTransport({ endpoint: s.url });
      await plain({ method: 'GET', url: `${s.url}/v1/metadata`, headers: {} });
      expect(s.seen[1]!.authorization).toBeUndefined();
    } finally {
      await s.close();
    }
  });

  it('turns a refused connection into a retriable SluiceConnectionError', async () => {
    const s = await echoServer();
    await s.close();
    const t = createHttpTransport({ endpoint: s.url });
    const err = await t({ method: 'GET', url: `${s.url}/v1/metadata`, headers: {} }).catch((e) => e);
    expect(err).toBeInstanceOf(SluiceConnectionError);
    expect(err.retriable).toBe(true);
    expect(err.message).toContain('connection refused');
  });
});

describe('messages', () => {
  it('accepts strings, Buffers, Uint8Arrays and null; refuses other values with a typed error', () => {
    const r = toRecord(
      { key: 'k', value: Buffer.from('v'), headers: { h: ['a', new Uint8Array([1])] } },
      't',
      {},
      5,
      'm',
    );
    expect(r.key).toEqual(bytes('k'));
    expect(r.headers).toEqual([
      { key: 'h', value: bytes('a') },
      { key: 'h', value: new Uint8Array([1]) },
    ]);
    expect(r.timestamp).toBe(5);
    expect(toRecord({ value: null }, 't', {}, 5, 'm').value).toBeNull();
    expect(() => toRecord({ value: 42 as unknown as string }, 't', {}, 5, 'messages[3]')).toThrow(
      SluiceArgumentError,
    );
    expect(() => toRecord({ value: 42 as unknown as string }, 't', {}, 5, 'messages[3]')).toThrow(
      /messages\[3\]\.value/,
    );
    expect(() => toRecord({ value: 'x', timestamp: 'yesterday' }, 't', {}, 5, 'm')).toThrow(/timestamp/);
  });

  it('refuses a bad endpoint at construction', () => {
    expect(() => new Sluice({ endpoint: 'not a url' })).toThrow(SluiceArgumentError);
    expect(() => new Sluice({ endpoint: 'ftp://x' })).toThrow(/http/);
  });
});

describe('in-process transport', () => {
  it('runs producer, consumer and admin over stores with no server', async () => {
    const sluice = inProcessSluice({ meta: new MemoryMetaStore(), objects: new MemoryObjectStore() });
    const admin = sluice.admin();
    await admin.createTopics({ topics: [{ topic: 'embedded', numPartitions: 2 }] });
    expect(await admin.listTopics()).toEqual(['embedded']);
    const producer = sluice.producer();
    await producer.send({
      topic: 'embedded',
      messages: [
        { key: 'a', value: '1' },
        { key: 'b', value: '2' },
      ],
    });
    const consumer = sluice.consumer({
      groupId: 'g',
      maxWaitTimeInMs: 50,
      heartbeatInterval: 100,
      sessionTimeout: 6000,
    });
    const values: string[] = [];
    await consumer.subscribe({ topics: ['embedded'], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void values.push(message.value!.toString()) });
    const deadline = Date.now() + 5000;
    while (values.length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await consumer.disconnect();
    expect(values.sort()).toEqual(['1', '2']);
    const [offsets] = await admin.fetchOffsets({ groupId: 'g', topics: ['embedded'] });
    // Committed offsets are next-to-read; a partition that got nothing reads '-1'.
    const committed = offsets!.partitions.map((p) => Math.max(0, Number(p.offset)));
    expect(committed.reduce((a, b) => a + b, 0)).toBe(2);
  });
});

describe('kafkajs options', () => {
  it('type-check as kafkajs code writes them', () => {
    // Compiles (npm run typecheck): the options the migration guide calls accepted and ignored.
    const sluice = new Sluice({ endpoint: 'http://127.0.0.1:1', clientId: 'shop' });
    const consumer = sluice.consumer({
      groupId: 'g',
      rebalanceTimeout: 60_000,
      partitionAssigners: [],
      minBytes: 1,
      maxBytesPerPartition: 1_048_576,
      readUncommitted: false,
      rackId: 'az-1',
      allowAutoTopicCreation: false,
      maxInFlightRequests: null,
      retry: { retries: 3, restartOnFailure: async () => true },
    });
    expect(consumer).toBeDefined();
    expect(
      sluice.producer({ allowAutoTopicCreation: false, maxInFlightRequests: 1, idempotent: true }),
    ).toBeDefined();
  });
});
