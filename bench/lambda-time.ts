/**
 * `npm run bench -- lambda-time [--requests=N]`: the Lambda time each kind of request bills
 * (issue 17 §3), so `npm run bench -- cost` prices measured time, not an estimate.
 *
 * Each request goes through the function's real handler (`lambdaHandler` over the routes of
 * lambdas/produce.ts, fetch.ts, groups.ts, a Lambda Function URL event in and out) over the
 * memory store, so the process CPU time per request (`process.cpuUsage`, the median of
 * rounds) is the handler's own work: parsing, CRC checks, encoding, JSON, engine logic.
 *
 * Billed duration = CPU time stretched by the function's CPU share (Lambda gives a full
 * vCPU at 1,769 MB and proportionally less below, AWS Lambda docs "Memory and computing
 * power") + the wait on S3 and DynamoDB, taken from the modelled store's p50s
 * (`storage/modelled.ts`, published figures): produce = one PUT (first byte + transfer) and
 * one transaction; fetch = a head read, an index query and a ranged GET (the GET modelled as
 * a PUT of the same size: first byte + transfer); heartbeat = one read and one transaction.
 * Small = 10 records of 100 B (JSON produce); 1 MiB = 1,024 records of 1 KiB (binary
 * frames, as the SDK sends); fetches are binary and read the batch just written. GB-seconds = billed seconds × the function's default memory
 * (lib/sluice-cluster.ts: produce 1,024 MB, fetch and the inbox batcher 512 MB, groups 256 MB).
 * The batcher: one SQS event of 1 and of 100 messages (1 KiB events from distinct producers),
 * a batch a second on a manual clock, the wait one ledger read, a topic read, a PUT and a transaction.
 *
 * Writes bench/results/lambda-time.json; bench/cost.ts reads it.
 */
import type { LambdaFunctionURLEvent, SQSEvent } from 'aws-lambda';
import { ManualClock } from '../core/clock.js';
import { encodeInboxMessage } from '../core/inbox/message.js';
import { encodeBatch } from '../core/records/index.js';
import { BATCHES_CONTENT_TYPE, encodeProduceFrames } from '../core/wire.js';
import { createBatcherHandler } from '../lambdas/batcher.js';
import { createContext } from '../lambdas/context.js';
import { fetchRoutes } from '../lambdas/fetch.js';
import { coordinatorFor, groupRoutes } from '../lambdas/groups.js';
import { lambdaHandler, toEvent } from '../lambdas/http.js';
import { produceRoutes } from '../lambdas/produce.js';
import { MemoryMetaStore, MemoryObjectStore } from '../storage/memory.js';
import { DYNAMODB_MODEL, S3_MODEL } from '../storage/modelled.js';
import { median, numberArg, printTable, round, sample, writeResults } from './lib.js';

const MIB = 1024 * 1024;
/** Memory at which Lambda gives one full vCPU (AWS Lambda docs, "Memory and computing power"). */
export const FULL_VCPU_MB = 1769;
/** The functions' default memory sizes (lib/sluice-cluster.ts). */
export const MEMORY_MB = { produce: 1024, fetch: 512, groups: 256, batcher: 512 } as const;
/** Messages in the large inbox batch measured (1 KiB events, one per message, as W1 sends). */
export const BATCHER_LARGE = 100;

const TOPIC = 'lambda-time';

export async function run(args: string[]): Promise<void> {
  const requests = numberArg(args, 'requests', 40);
  const rounds = 7;
  const ctx = createContext(
    { meta: new MemoryMetaStore(), objects: new MemoryObjectStore() },
    { env: {}, topicCacheTtlMs: 60_000, endpoints: { produce: '', fetch: '', admin: '', groups: '' } },
  );
  // A 1 MiB batch is a little over Kafka's default max.message.bytes (1 MiB + 12 B).
  await ctx.topics.create(TOPIC, 1, { 'max.message.bytes': String(2 * MIB) });
  const produce = lambdaHandler(produceRoutes(ctx));
  const fetch = lambdaHandler(fetchRoutes(ctx));
  const groups = lambdaHandler(groupRoutes(coordinatorFor(ctx, {})));

  const call = async (
    handler: (e: LambdaFunctionURLEvent) => Promise<{ statusCode?: number; body?: string }>,
    event: LambdaFunctionURLEvent,
  ) => {
    const out = await handler(event);
    if (out.statusCode !== 200) throw new Error(`status ${out.statusCode}: ${JSON.stringify(out)}`);
    return out;
  };

  // Small produce: 10 records of 100 B, JSON (what a small client sends).
  const smallBody = new TextEncoder().encode(
    JSON.stringify({ topic: TOPIC, records: Array.from({ length: 10 }, () => ({ value: 'x'.repeat(100) })) }),
  );
  const smallEvent = toEvent({
    method: 'POST',
    url: '/v1/produce',
    headers: { 'content-type': 'application/json' },
    body: smallBody,
  });
  // 1 MiB produce: one batch of 1,024 records of 1 KiB, binary frames (what the SDK sends).
  const value = new Uint8Array(1024).fill(7);
  const mibBatch = encodeBatch(
    Array.from({ length: 1024 }, () => ({ value })),
    { now: Date.now() },
  );
  const mibEvent = toEvent({
    method: 'POST',
    url: '/v1/produce',
    headers: { 'content-type': BATCHES_CONTENT_TYPE },
    body: encodeProduceFrames([{ topic: TOPIC, partition: 0, batch: mibBatch }]),
  });
  await call(produce, mibEvent);
  // 1 MiB fetch: binary, from the start of the 1 MiB batch just written (the newest data).
  let fetchOffset = 0;
  let smallOffset = 0;
  const fetchEvent = (offset: number) =>
    toEvent({
      method: 'POST',
      url: '/v1/fetch',
      headers: { 'content-type': 'application/json', accept: BATCHES_CONTENT_TYPE },
      body: new TextEncoder().encode(
        JSON.stringify({ partitions: [{ topic: TOPIC, partition: 0, offset }], maxBytes: MIB }),
      ),
    });
  // Group heartbeat of a joined member (one member, stable).
  const joined = JSON.parse(
    (
      await call(
        groups,
        toEvent({
          method: 'POST',
          url: '/v1/groups/g/heartbeat',
          headers: { 'content-type': 'application/json' },
          body: new TextEncoder().encode(JSON.stringify({ memberEpoch: 0, topics: [TOPIC] })),
        }),
      )
    ).body as string,
  ) as { memberId: string; memberEpoch: number };
  const heartbeatEvent = toEvent({
    method: 'POST',
    url: '/v1/groups/g/heartbeat',
    headers: { 'content-type': 'application/json' },
    body: new TextEncoder().encode(
      JSON.stringify({
        memberId: joined.memberId,
        memberEpoch: joined.memberEpoch,
        ownedPartitions: [{ topic: TOPIC, partitions: [0] }],
      }),
    ),
  });

  // Inbox batches (acks=1) as the SQS event source mapping delivers them: 1 KiB events, each
  // from its own short-lived producer, built before the clock starts (one batch per call).
  // Its own context on a manual clock, one batch a second as in steady state: the ledger read
  // before each commit then holds the few items of the last seconds, not every batch so far.
  const batcherClock = new ManualClock(Date.now());
  const batcherCtx = createContext(
    { meta: new MemoryMetaStore(), objects: new MemoryObjectStore() },
    {
      env: {},
      clock: batcherClock,
      topicCacheTtlMs: 3_600_000,
      endpoints: { produce: '', fetch: '', admin: '', groups: '' },
    },
  );
  await batcherCtx.topics.create(TOPIC, 1);
  const batcher = createBatcherHandler(async () => batcherCtx);
  const inboxValue = Buffer.from(value).toString('base64');
  let nextProducer = 0;
  const inboxBody = () => {
    const id = ++nextProducer;
    return {
      id,
      body: encodeInboxMessage({
        v: 1,
        topic: TOPIC,
        partition: 0,
        records: [{ v: inboxValue, ts: 1 }],
        producer: { id: String(id), epoch: 0, seq: 0 },
      }),
    };
  };
  // The event as the mapping hands it over: received now (the ledger is read from there).
  const inboxEvent = (bodies: { id: number; body: string }[]): SQSEvent => {
    const now = String(batcherClock.now());
    return {
      Records: bodies.map(
        ({ id, body }) =>
          ({
            messageId: `m-${id}`,
            receiptHandle: `r-${id}`,
            body,
            attributes: {
              SentTimestamp: now,
              ApproximateFirstReceiveTimestamp: now,
              ApproximateReceiveCount: '1',
            },
            eventSource: 'aws:sqs',
          }) as unknown as SQSEvent['Records'][number],
      ),
    };
  };
  const inboxPool = (messages: number) => {
    const pool = Array.from({ length: (rounds + 1) * requests }, () =>
      Array.from({ length: messages }, inboxBody),
    );
    return async () => {
      batcherClock.advance(1000);
      const out = await batcher(inboxEvent(pool.pop()!));
      if (out.batchItemFailures.length > 0) throw new Error(`batcher: ${JSON.stringify(out)}`);
    };
  };

  const baseOffset = (out: { body?: string }) =>
    (JSON.parse(out.body as string) as { partitions: { baseOffset: number }[] }).partitions[0]!.baseOffset;
  // Each fetch reads the newest batch, written just before by the produce of its size.
  const kinds = {
    produce_mib: {
      fn: async () => {
        fetchOffset = baseOffset(await call(produce, mibEvent));
      },
      memory: MEMORY_MB.produce,
    },
    fetch_mib: { fn: () => call(fetch, fetchEvent(fetchOffset)), memory: MEMORY_MB.fetch },
    produce_small: {
      fn: async () => {
        smallOffset = baseOffset(await call(produce, smallEvent));
      },
      memory: MEMORY_MB.produce,
    },
    fetch_small: { fn: () => call(fetch, fetchEvent(smallOffset)), memory: MEMORY_MB.fetch },
    heartbeat: { fn: () => call(groups, heartbeatEvent), memory: MEMORY_MB.groups },
    batcher_one: { fn: inboxPool(1), memory: MEMORY_MB.batcher },
    batcher_large: { fn: inboxPool(BATCHER_LARGE), memory: MEMORY_MB.batcher },
  };
  const cpu: Record<string, number[]> = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
  for (let r = 0; r < rounds + 1; r++) {
    for (const [name, kind] of Object.entries(kinds)) {
      const { cpuMs } = await sample(kind.fn, requests);
      if (r > 0) cpu[name]!.push(cpuMs); // round 0 warms the JIT
    }
  }

  // The wait on the stores, p50 (storage/modelled.ts).
  const put = (bytes: number) => S3_MODEL.firstByte.p50Ms + bytes / S3_MODEL.bytesPerMs;
  const ioMs: Record<keyof typeof kinds, number> = {
    produce_small: put(1300) + DYNAMODB_MODEL.transact.p50Ms,
    produce_mib: put(MIB) + DYNAMODB_MODEL.transact.p50Ms,
    fetch_mib: 2 * DYNAMODB_MODEL.read.p50Ms + put(MIB),
    fetch_small: 2 * DYNAMODB_MODEL.read.p50Ms + put(1300),
    heartbeat: DYNAMODB_MODEL.read.p50Ms + DYNAMODB_MODEL.transact.p50Ms,
    // The ledger's tail and items since the oldest message, the topic, then one PUT and one transaction.
    batcher_one: 2 * DYNAMODB_MODEL.read.p50Ms + put(1100) + DYNAMODB_MODEL.transact.p50Ms,
    batcher_large: 2 * DYNAMODB_MODEL.read.p50Ms + put(BATCHER_LARGE * 1100) + DYNAMODB_MODEL.transact.p50Ms,
  };
  const metrics: Record<string, number> = { requests_per_round: requests, rounds };
  const rows: (string | number)[][] = [
    [
      'request',
      'CPU ms',
      'memory MB',
      'CPU ms at that share',
      'store wait ms',
      'billed ms',
      'GB-s',
      'CPU-only GB-s',
    ],
  ];
  for (const [name, kind] of Object.entries(kinds) as [
    keyof typeof kinds,
    (typeof kinds)[keyof typeof kinds],
  ][]) {
    const cpuMs = median(cpu[name]!);
    const stretched = cpuMs * Math.max(1, FULL_VCPU_MB / kind.memory);
    const billed = stretched + ioMs[name];
    const gbs = (billed / 1000) * (kind.memory / 1024);
    const cpuGbs = (stretched / 1000) * (kind.memory / 1024);
    metrics[`${name}_cpu_ms`] = round(cpuMs, 3);
    metrics[`${name}_memory_mb`] = kind.memory;
    metrics[`${name}_io_ms`] = round(ioMs[name], 1);
    metrics[`${name}_billed_ms`] = round(billed, 1);
    metrics[`${name}_gb_s`] = round(gbs, 6);
    metrics[`${name}_cpu_gb_s`] = round(cpuGbs, 6);
    rows.push([
      name,
      round(cpuMs, 2),
      kind.memory,
      round(stretched, 2),
      round(ioMs[name], 1),
      round(billed, 1),
      round(gbs, 5),
      round(cpuGbs, 5),
    ]);
  }
  printTable(rows);
  console.log(`wrote ${writeResults('lambda-time', metrics)}`);
}
