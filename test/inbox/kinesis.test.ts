/**
 * acks=1 and acks=0 over a Kinesis inbox (moto): `GET /v1/metadata` names the stream, the
 * SDK puts PutRecords itself (no produce invocation per send), and `sluice dev`'s poller
 * hands the shard's records to the batcher function's handler, as Lambda's Kinesis event
 * source mapping does. On files + SQLite and on moto (S3, DynamoDB).
 *
 * The fault run: the SDK's puts are throttled, lose their answers after landing, and have
 * records reported refused that the stream took (so the stream holds duplicates); the
 * batcher function crashes before and after its commit (the poller then redelivers the
 * whole batch), and the dead-letter queue refuses its first send, so an invalid record is
 * reported as a batch item failure and the shard is read again from it — past records
 * committed after it. Every acked event is in the log exactly once, in producer order.
 */
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevServer } from '../../bin/dev.js';
import { startKinesisPoller } from '../../bin/kinesis-inbox.js';
import { ThrottledError } from '../../core/errors.js';
import type { InboxSender } from '../../core/inbox/queue.js';
import { createBatcherHandler } from '../../lambdas/batcher.js';
import { createContext, type SluiceContext } from '../../lambdas/context.js';
import { logLevel, Sluice } from '../../sdk/index.js';
import { createHttpTransport } from '../../sdk/transport/http.js';
import {
  awsEndpoint,
  EMULATOR_CREDENTIALS,
  makeStores,
  type StoreKind,
  type TestStores,
} from '../helpers/stores.js';
import { waitFor } from '../sdk/harness.js';
import { counting } from './counting.js';
import { expectDeniedFallsBackToHttp, FAST_RETRY } from './denied.js';
import { kinesisFaults } from './faults.js';
import { makeQueue, makeStream, type TestQueue, type TestStream } from './queues.js';

/** A dead-letter queue whose first `failures` sends are throttled. */
class FlakySender implements InboxSender {
  calls = 0;
  constructor(
    readonly inner: InboxSender,
    private failures: number,
  ) {}
  async send(bodies: readonly string[]): Promise<string[]> {
    this.calls++;
    if (this.failures > 0) {
      this.failures--;
      throw new ThrottledError('dead-letter queue throttled (injected)');
    }
    return this.inner.send(bodies);
  }
}

async function readAll(ctx: SluiceContext, topic: string, partitions: number): Promise<string[][]> {
  return Promise.all(
    Array.from({ length: partitions }, async (_, p) =>
      (await ctx.reader.fetchRecords(topic, p, 0, { maxBytes: 4 << 20 })).records.map((r) =>
        Buffer.from(r.value!).toString(),
      ),
    ),
  );
}

describe.each(['sqlite', 'aws'] as StoreKind[])('acks=1 over a Kinesis inbox (moto) on %s', (kind) => {
  let stores: TestStores;
  let s: TestStream;
  let dlq: TestQueue;
  let server: Awaited<ReturnType<typeof startDevServer>>;
  const saved = process.env.AWS_ENDPOINT_URL;
  beforeAll(async () => {
    // The SDK finds the emulator as the AWS SDKs do.
    process.env.AWS_ENDPOINT_URL = awsEndpoint();
    stores = await makeStores(kind);
    s = await makeStream();
    dlq = await makeQueue('sqs');
    server = await startDevServer({
      port: 0,
      context: createContext(stores, { inbox: s.stream, inboxDeadLetters: dlq.queue, topicCacheTtlMs: 1000 }),
      inboxWindowMs: 100,
    });
  });
  afterAll(async () => {
    await server?.close();
    await dlq?.cleanup();
    await s?.cleanup();
    await stores?.cleanup();
    if (saved === undefined) delete process.env.AWS_ENDPOINT_URL;
    else process.env.AWS_ENDPOINT_URL = saved;
  });

  it('GET /v1/metadata names the stream', async () => {
    const meta = (await (await fetch(`${server.url}/v1/metadata`)).json()) as { inbox: unknown };
    expect(meta.inbox).toEqual({ type: 'kinesis', streamArn: s.stream.streamArn, region: 'us-east-1' });
  });

  it('acks=1 and acks=0 straight to the stream; sluice dev appends each event once, in producer order', async () => {
    const api = counting(server.url);
    const puts = { count: 0 };
    const inner = createHttpTransport({ endpoint: awsEndpoint(), sign: false });
    const sluice = new Sluice({
      endpoint: server.url,
      region: 'us-east-1',
      credentials: EMULATOR_CREDENTIALS,
      transport: api.transport,
      inbox: {
        transport: async (req) => {
          if (req.headers['x-amz-target'] === 'Kinesis_20131202.PutRecords') puts.count++;
          expect(req.url).toBe(`${awsEndpoint().replace(/\/$/, '')}/`);
          expect(req.headers.authorization).toMatch(
            /Credential=testing\/\d+\/us-east-1\/kinesis\/aws4_request/,
          );
          return inner(req);
        },
      },
      retry: FAST_RETRY,
      logLevel: logLevel.NOTHING,
    });
    await sluice.admin().createTopics({ topics: [{ topic: 'small', numPartitions: 2 }] });
    const producers = [0, 1, 2].map(() => sluice.producer({ acks: 1 }));
    const acked: string[] = [];
    await Promise.all(
      producers.map(async (p, n) => {
        for (let i = 0; i < 4; i++) {
          const metas = await p.send({
            topic: 'small',
            messages: [0, 1].map((partition) => ({ partition, value: `p${n}-${partition}-${i}` })),
          });
          for (const m of metas) {
            // The receipt: the record's sequence number.
            expect(m).toMatchObject({ baseOffset: '-1', inboxMessageId: expect.stringMatching(/^\d+$/) });
          }
          acked.push(`p${n}-0-${i}`, `p${n}-1-${i}`);
        }
      }),
    );
    const loose = sluice.producer({ acks: 1, idempotent: false });
    await loose.send({ topic: 'small', messages: [{ partition: 0, value: 'loose' }] });
    acked.push('loose');
    const fire = sluice.producer({ acks: 0 });
    for (let i = 0; i < 3; i++) {
      expect(await fire.send({ topic: 'small', messages: [{ partition: 1, value: `f${i}` }] })).toEqual([]);
      acked.push(`f${i}`);
    }
    await fire.flush();
    expect(fire.backgroundFailures).toBe(0);

    await waitFor(
      async () => (await readAll(server.context, 'small', 2)).flat().length >= acked.length,
      30_000,
      'the batcher',
    );
    const [p0, p1] = await readAll(server.context, 'small', 2);
    expect([...p0!, ...p1!].sort()).toEqual([...acked].sort());
    for (const n of [0, 1, 2]) {
      expect(p0!.filter((v) => v.startsWith(`p${n}-`))).toEqual([0, 1, 2, 3].map((i) => `p${n}-0-${i}`));
      expect(p1!.filter((v) => v.startsWith(`p${n}-`))).toEqual([0, 1, 2, 3].map((i) => `p${n}-1-${i}`));
    }
    expect(p1!.filter((v) => v.startsWith('f'))).toEqual(['f0', 'f1', 'f2']);
    // No produce invocation per acks=1/0 send; one PutRecords per send (both partitions in one).
    expect(api.paths.get('POST /v1/inbox') ?? 0).toBe(0);
    expect(api.paths.get('POST /v1/produce') ?? 0).toBe(0);
    expect(puts.count).toBe(3 * 4 + 1 + 3);
    for (const p of [...producers, loose, fire]) await p.disconnect();
  }, 60_000);

  it('credentials denied by Kinesis (no kinesis:PutRecords): the sends go through POST /v1/inbox, once each, in order', async () => {
    // Kinesis' answer to a principal without kinesis:PutRecords on the stream.
    await expectDeniedFallsBackToHttp(server, 'denied', {
      contentType: 'application/x-amz-json-1.1',
      type: 'AccessDeniedException',
    });
  }, 60_000);

  it('faults on both sides: every acked event once, in producer order', async () => {
    // This test drives its own poller over the stream with a crashing handler; the dev
    // server's poller reads the same shard, and the ledger keeps the two from committing
    // anything twice — as two overlapping mappings would.
    const flakyDlq = new FlakySender(dlq.queue, 1);
    const ctx = createContext(stores, { inbox: s.stream, inboxDeadLetters: flakyDlq, topicCacheTtlMs: 1000 });
    const real = createBatcherHandler(async () => ctx);
    const crashes = { before: 0, after: 0 };
    let invocations = 0;
    const failures: string[] = [];
    const handler = async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => {
      const n = ++invocations;
      if (n === 2) {
        crashes.before++;
        throw new Error('batcher crashed before its commit (injected)');
      }
      const out = await real(event);
      failures.push(...out.batchItemFailures.map((f) => f.itemIdentifier));
      // The retry of the batch that crashed before its commit: it always comes (however the
      // records fell into batches), commits, then crashes, so its own retry finds it all done.
      if (n === 3) {
        crashes.after++;
        throw new Error('batcher crashed after its commit (injected)');
      }
      return out;
    };

    const sdkFaults = kinesisFaults(createHttpTransport({ endpoint: awsEndpoint(), sign: false }));
    const sluice = new Sluice({
      endpoint: server.url,
      region: 'us-east-1',
      credentials: EMULATOR_CREDENTIALS,
      inbox: { transport: sdkFaults.transport },
      retry: FAST_RETRY,
      logLevel: logLevel.NOTHING,
    });
    await sluice.admin().createTopics({ topics: [{ topic: 'faulty', numPartitions: 3 }] });
    const poller = await startKinesisPoller(s.stream, handler, { windowMs: 100, pollMs: 100, retryMs: 100 });
    try {
      const acked: string[] = [];
      const invalid: string[] = [];
      const producers = [0, 1, 2].map(() => sluice.producer({ acks: 1 }));
      await Promise.all(
        producers.map(async (p, n) => {
          for (let i = 0; i < 6; i++) {
            await p.send({
              topic: 'faulty',
              messages: [0, 1, 2].map((partition) => ({ partition, value: `a${n}-${partition}-${i}` })),
            });
            for (const partition of [0, 1, 2]) acked.push(`a${n}-${partition}-${i}`);
            // A record no batcher can commit, in the middle of the stream.
            if (n === 0 && i === 2) invalid.push(...(await s.stream.send(['not an inbox message'])));
          }
        }),
      );
      await waitFor(
        async () => (await readAll(ctx, 'faulty', 3)).flat().length >= acked.length && invocations > 3,
        30_000,
        'the batcher',
      );
      // Let the redeliveries come and be recognised.
      await new Promise((r) => setTimeout(r, 1500));
      const partitions = await readAll(ctx, 'faulty', 3);
      expect(partitions.flat().sort()).toEqual([...acked].sort());
      partitions.forEach((values, partition) => {
        for (const n of [0, 1, 2]) {
          expect(values.filter((v) => v.startsWith(`a${n}-`))).toEqual(
            [0, 1, 2, 3, 4, 5].map((i) => `a${n}-${partition}-${i}`),
          );
        }
      });
      // The faults happened.
      expect(sdkFaults.counts.throttled).toBeGreaterThan(0);
      expect(sdkFaults.counts.partialFailures + sdkFaults.counts.lostAnswers).toBeGreaterThan(0);
      expect(crashes).toEqual({ before: 1, after: 1 });
      // The invalid record was reported once (the dead-letter queue refused it), then dead-lettered.
      expect(flakyDlq.calls).toBeGreaterThanOrEqual(2);
      expect(failures).toContain(invalid[0]);
      // One PutRecords per send (three partitions in one), plus the retries the faults caused.
      const sends = 3 * 6;
      expect(sdkFaults.counts.requests).toBeGreaterThanOrEqual(sends + sdkFaults.counts.throttled);
      expect(sdkFaults.counts.requests).toBeLessThanOrEqual(sends * 3);
      for (const p of producers) await p.disconnect();
    } finally {
      await poller.stop();
    }
  }, 90_000);
});
