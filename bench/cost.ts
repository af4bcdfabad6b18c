/**
 * `npm run bench -- cost`: what small writers and a busy producer cost, measured through
 * the metered adapters (S3, DynamoDB, the SQS inbox; a Kinesis inbox's PUT payload units from
 * the messages' sizes, its shard-hours and KMS requests from the rate) and priced from one dated table
 * (`bench/prices.ts`), beside Kinesis on-demand, Kinesis provisioned and MSK Serverless
 * for the same workload. Lambda invocations are counted; their GB-seconds are measured by
 * `npm run bench -- lambda-time` for produce and fetch, estimated for the inbox batcher.
 *
 * - W1: 1 KiB events, one per invocation, from 1,000 short-lived producers, at 1 M, 100 M
 *   and 10 B events a month, for acks=1 and acks=all;
 * - W2: one busy producer, 1 MiB requests, 10 MiB/s in, 7 days' retention, 3 consumer groups;
 * - W3: W1 with 3 consumer groups reading everything (each group fetching once a second
 *   at most, as often as there is something new).
 *
 * acks=1 is priced on each inbox backend — SQS standard and a provisioned Kinesis stream —
 * at its default batch window (1 s and 2 s) and at another (20 s and 1 s): the window
 * (`inboxBatchWindow`) is the lever that trades delay for fewer objects and transactions.
 *
 * Writes bench/results/cost.json (keys `<workload>.<path>.<volume>.usd…`).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Appender } from '../core/append.js';
import { ManualClock, seededRandom } from '../core/clock.js';
import { InboxBatcher } from '../core/inbox/batcher.js';
import { drainOnce } from '../core/inbox/drain.js';
import { encodeInboxMessage } from '../core/inbox/message.js';
import type { InboxDelivery } from '../core/inbox/queue.js';
import { encodeBatch, verifyBatch } from '../core/records/index.js';
import { Topics } from '../core/topics.js';
import { MemoryMetaStore, MemoryObjectStore } from '../storage/memory.js';
import { Meter, MeteredMetaStore, MeteredObjectStore, type StorageCounts } from '../storage/metered.js';
import { MeteredInboxQueue } from '../storage/metered-queue.js';
import { SqliteInboxQueue } from '../storage/sqlite-queue.js';
import { BATCHER_LARGE } from './lambda-time.js';
import { printTable, round, writeResults } from './lib.js';
import { GB, HOURS_PER_MONTH, PRICES, PRICES_AS_OF, SECONDS_PER_MONTH } from './prices.js';

const KIB = 1024;
const MIB = 1024 * KIB;
/**
 * Lambda time (GB-s) per invocation. Produce and fetch come from `npm run bench --
 * lambda-time` (bench/results/lambda-time.json: the handler's measured CPU time at the
 * function's default memory plus the modelled wait on S3 and DynamoDB); without that file,
 * and for the inbox batcher (not measured), the estimates below.
 */
const GBS_ESTIMATED = {
  produceSmall: 0.02 * 1, // 20 ms at 1 GB for one small event
  produce1MiB: 0.06 * 1.769, // 60 ms at 1,769 MB (one vCPU) for 1 MiB
  batcherBase: 0.1 * 1, // 100 ms at 1 GB per batch ...
  batcherPerEvent: 0.00005 * 1, // ... plus 50 µs per event
  fetch: 0.03 * 1, // 30 ms at 1 GB per fetch
  fetch1MiB: 0.03 * 1,
};
const LAMBDA_TIME_FILE = join(dirname(fileURLToPath(import.meta.url)), 'results', 'lambda-time.json');
const lambdaTime = existsSync(LAMBDA_TIME_FILE)
  ? (JSON.parse(readFileSync(LAMBDA_TIME_FILE, 'utf8')) as { metrics: Record<string, number> }).metrics
  : undefined;
/** Whether produce and fetch GB-s are measured (true) or estimated. */
const GBS_MEASURED = lambdaTime !== undefined;
/** The batcher's GB-s per batch: a base and a part per event, from its 1- and large-message batches. */
const batcherPerEvent = lambdaTime?.batcher_large_gb_s
  ? (lambdaTime.batcher_large_gb_s - lambdaTime.batcher_one_gb_s!) / (BATCHER_LARGE - 1)
  : undefined;
const GBS = lambdaTime
  ? {
      ...GBS_ESTIMATED,
      produceSmall: lambdaTime.produce_small_gb_s!,
      produce1MiB: lambdaTime.produce_mib_gb_s!,
      fetch: lambdaTime.fetch_small_gb_s!,
      fetch1MiB: lambdaTime.fetch_mib_gb_s!,
      ...(batcherPerEvent !== undefined && {
        batcherBase: lambdaTime.batcher_one_gb_s! - batcherPerEvent,
        batcherPerEvent,
      }),
    }
  : GBS_ESTIMATED;
/** Whether the batcher's GB-s are measured (`batcher_*` in lambda-time.json) or estimated. */
const BATCHER_GBS_MEASURED = batcherPerEvent !== undefined;
/** SQS event source mapping: ~5 pollers long-polling 20 s at rest (AWS's documented behaviour, approximate). */
const ESM_IDLE_RECEIVES_PER_MONTH = 5 * (SECONDS_PER_MONTH / 20);

interface Unit {
  s3Puts: number;
  s3Gets: number;
  wcu: number;
  rcu: number;
  sqsRequests: number;
  /** Kinesis PUT payload units (25 KB of a record each): the Kinesis inbox's per-event price. */
  kinesisPutUnits: number;
  /** Kinesis shard-hours (provisioned): the Kinesis inbox's price at rest. */
  kinesisShardHours: number;
  /** KMS requests Kinesis makes for its server-side encryption on the callers' behalf. */
  kmsRequests: number;
  invocations: number;
  gbSeconds: number;
}

const zero = (): Unit => ({
  s3Puts: 0,
  s3Gets: 0,
  wcu: 0,
  rcu: 0,
  sqsRequests: 0,
  kinesisPutUnits: 0,
  kinesisShardHours: 0,
  kmsRequests: 0,
  invocations: 0,
  gbSeconds: 0,
});

function usd(u: Unit): number {
  const p = PRICES;
  return (
    (u.s3Puts * p.s3.putPerThousand) / 1000 +
    (u.s3Gets * p.s3.getPerThousand) / 1000 +
    (u.wcu * p.dynamodb.perMillionWriteUnits) / 1e6 +
    (u.rcu * p.dynamodb.perMillionReadUnits) / 1e6 +
    (u.sqsRequests * p.sqs.standardPerMillionRequests) / 1e6 +
    (u.kinesisPutUnits * p.kinesisProvisioned.putUnitsPerMillion) / 1e6 +
    u.kinesisShardHours * p.kinesisProvisioned.shardHour +
    (u.kmsRequests * p.kms.perTenThousandRequests) / 1e4 +
    (u.invocations * p.lambda.perMillionRequests) / 1e6 +
    u.gbSeconds * p.lambda.arm64GbSecond
  );
}

/** The S3 and DynamoDB part of what the metered stores counted; the rest zero. */
function storageUnits(c: StorageCounts): Unit {
  return { ...zero(), s3Puts: c.s3.put, s3Gets: c.s3.get, wcu: c.dynamo.wcu, rcu: c.dynamo.rcu };
}

function scale(u: Unit, k: number): Unit {
  return Object.fromEntries(Object.entries(u).map(([key, v]) => [key, v * k])) as unknown as Unit;
}

function add(...us: Unit[]): Unit {
  const out = zero();
  for (const u of us) for (const k of Object.keys(out) as (keyof Unit)[]) out[k] += u[k];
  return out;
}

function engine() {
  const meter = new Meter();
  const meta = new MeteredMetaStore(new MemoryMetaStore(), meter);
  const objects = new MeteredObjectStore(new MemoryObjectStore(), meter);
  const clock = new ManualClock(1_700_000_000_000, { autoAdvance: true });
  const random = seededRandom(7);
  const topics = new Topics(meta, { clock, random });
  const appender = new Appender({ meta, objects, topics, clock, random });
  return { meter, meta, objects, clock, random, topics, appender };
}

const value = new Uint8Array(KIB).fill(120);

/** acks=all, one 1 KiB event per request, each from its own producer (1,000 of them, round robin). */
async function measureAcksAllSmall(events: number): Promise<Unit> {
  const e = engine();
  await e.topics.create('w1', 1);
  const seqs = new Map<number, number>();
  for (let i = 0; i < 1000; i++) {
    // warm-up: every producer has written once, so each has dedup state
    const id = i + 1;
    const bytes = encodeBatch([{ value }], {
      now: 1,
      producerId: BigInt(id),
      producerEpoch: 0,
      baseSequence: 0,
    });
    await e.appender.append([{ topic: 'w1', partition: 0, batches: [verifyBatch(bytes)] }]);
    seqs.set(id, 1);
  }
  e.meter.reset();
  for (let i = 0; i < events; i++) {
    const id = (i % 1000) + 1;
    const seq = seqs.get(id)!;
    const bytes = encodeBatch([{ value }], {
      now: 1,
      producerId: BigInt(id),
      producerEpoch: 0,
      baseSequence: seq,
    });
    await e.appender.append([{ topic: 'w1', partition: 0, batches: [verifyBatch(bytes)] }]);
    seqs.set(id, seq + 1);
  }
  const c = e.meter.snapshot();
  return scale(
    {
      ...storageUnits(c),
      invocations: events,
      gbSeconds: events * GBS.produceSmall,
    },
    1 / events,
  );
}

/** acks=1: `batch` events sent one per SendMessage (as one per invocation), drained as one batch. Per event. */
async function measureAcksOne(batch: number): Promise<Unit> {
  const e = engine();
  await e.topics.create('w1', 1);
  // The queue on the engine's clock, so that its receive times and the ledger's are comparable.
  const inner = new SqliteInboxQueue(':memory:', { clock: e.clock });
  const queue = new MeteredInboxQueue(inner);
  const batcher = new InboxBatcher(e);
  // Warm: one batch so the ledger tail exists, as in steady state.
  await queue.send([encodeInboxMessage(msg(0, e.clock.now()))]);
  await drainOnce(queue, batcher, { windowMs: 0 });
  e.meter.reset();
  Object.assign(queue.counts, { send: 0, receive: 0, delete: 0, release: 0, requests: 0 });
  for (let i = 0; i < batch; i++) await queue.send([encodeInboxMessage(msg(i + 1, e.clock.now()))]);
  const out = await drainOnce(queue, batcher, { windowMs: 60_000, maxMessages: batch });
  if (out?.committed.length !== batch)
    throw new Error(`batch of ${batch} committed ${out?.committed.length}`);
  const c = e.meter.snapshot();
  inner.close();
  return scale(
    {
      ...storageUnits(c),
      // The event source mapping receives up to 10 per ReceiveMessage and deletes 10 per call.
      sqsRequests: queue.counts.requests,
      invocations: 1,
      gbSeconds: GBS.batcherBase + batch * GBS.batcherPerEvent,
    },
    1 / batch,
  );
}

/**
 * The batcher's ledger read in steady state, RCU per batch, with and without `at` on the
 * messages (docs/design.md §12, "A sender's retry"): batches of `batch` messages every
 * `windowMs`, arrivals spread over the window, each first attempt 20–80 ms before its
 * arrival, each first receive 20–100 ms after it (SQS long polling; 0 on Kinesis), each
 * commit 100–400 ms after its window (seeded). `at` starts the read at the oldest first
 * attempt instead of the oldest first receive: earlier by that lag, which holds one more
 * ledger item about lag/window of the time.
 */
async function measureLedgerRead(batch: number, windowMs: number, withAt: boolean): Promise<number> {
  const e = engine();
  await e.topics.create('w1', 1);
  const batcher = new InboxBatcher(e);
  const random = seededRandom(11);
  const between = (lo: number, hi: number) => Math.round(lo + random() * (hi - lo));
  const rounds = 30;
  const metered = 20;
  let n = 0;
  for (let k = 0; k < rounds; k++) {
    const start = e.clock.now();
    const deliveries: InboxDelivery[] = Array.from({ length: batch }, (_, i) => {
      const sentAt = start + Math.floor((i * windowMs) / batch);
      const firstAttempt = sentAt - between(20, 80); // drawn either way: the same schedule
      n++;
      return {
        messageId: `m${n}`,
        receipt: `r${n}`,
        body: encodeInboxMessage(msg(n, withAt ? firstAttempt : undefined)),
        sentAt,
        firstReceivedAt: sentAt + between(20, 100),
        receiveCount: 1,
      };
    });
    e.clock.advance(windowMs + between(100, 400));
    if (k === rounds - metered) e.meter.reset();
    await batcher.commit(deliveries);
  }
  return e.meter.snapshot().dynamo.rcu / metered;
}

/**
 * acks=1 on a Kinesis inbox: `batch` events put one per PutRecord (as one per invocation),
 * handed to the batcher as the Kinesis event source mapping does (it reads the shard; no
 * per-record request is billed for a shared-throughput consumer). Per event, without the
 * shard-hours (a fixed price per month, added per volume).
 */
async function measureAcksOneKinesis(batch: number): Promise<Unit> {
  const e = engine();
  await e.topics.create('w1', 1);
  const batcher = new InboxBatcher(e);
  const delivery = (i: number): InboxDelivery => {
    const at = e.clock.now();
    return {
      messageId: `shardId-000000000000:${i}`,
      receipt: String(i),
      body: encodeInboxMessage(msg(i, at)),
      sentAt: at,
      firstReceivedAt: at,
      receiveCount: 1,
    };
  };
  await batcher.commit([delivery(0)]); // warm: the ledger tail exists, as in steady state
  e.meter.reset();
  const deliveries = Array.from({ length: batch }, (_, i) => delivery(i + 1));
  const out = await batcher.commit(deliveries);
  if (out.committed.length !== batch) throw new Error(`batch of ${batch} committed ${out.committed.length}`);
  const c = e.meter.snapshot();
  // A PUT payload unit is 25 KB of a record (its data and partition key).
  const putUnits = deliveries.reduce(
    (n, d) => n + Math.ceil((Buffer.byteLength(d.body) + KINESIS_PARTITION_KEY_BYTES) / 25_000),
    0,
  );
  return scale(
    {
      ...storageUnits(c),
      kinesisPutUnits: putUnits,
      invocations: 1,
      gbSeconds: GBS.batcherBase + batch * GBS.batcherPerEvent,
    },
    1 / batch,
  );
}

/**
 * KMS requests a month of a Kinesis inbox encrypted with `aws/kinesis`: Kinesis asks KMS for a
 * data key about every 5 minutes per distinct caller credential (AWS, "Kinesis Data Streams:
 * costs, Regions, and performance considerations"), and each Lambda execution environment has
 * its own. Producers: the environments a rate of one-event invocations keeps busy, each taken
 * to last {@link PRODUCER_INVOCATION_S}; the batcher: one environment per shard. No free tier.
 */
function inboxKmsRequests(eventsPerMonth: number, shards: number): number {
  const producers = Math.max(1, Math.ceil((eventsPerMonth / SECONDS_PER_MONTH) * PRODUCER_INVOCATION_S));
  return (producers + shards) * (SECONDS_PER_MONTH / 300);
}
/** How long a W1 producer's invocation holds its environment, s (a small function's). */
const PRODUCER_INVOCATION_S = 0.1;

/** `<producerId>:<topic>:<partition>`, about this long. */
const KINESIS_PARTITION_KEY_BYTES = 24;
/** A W1 inbox message's size (JSON, the 1 KiB value in base64). */
const INBOX_MESSAGE_BYTES = Buffer.byteLength(encodeInboxMessage(msg(999, 1_700_000_000_000)));

/**
 * Shards of a provisioned Kinesis inbox for `eventsPerMonth` messages of `bytes`: each takes
 * 1,000 records/s and 1 MB/s in (Kinesis Data Streams quotas), at least one.
 */
function inboxShards(eventsPerMonth: number, bytes: number): number {
  const perSec = eventsPerMonth / SECONDS_PER_MONTH;
  return Math.max(1, Math.ceil(perSec / 1000), Math.ceil((perSec * bytes) / 1e6));
}

/** One short-lived producer's only event (sequence 0). */
/** A W1 inbox message: a producer's first, sent at `at` (as the SDK stamps its first attempt). */
function msg(producer: number, at?: number) {
  return {
    v: 1 as const,
    topic: 'w1',
    partition: 0,
    records: [{ v: Buffer.from(value).toString('base64'), ts: 1 }],
    producer: { id: String(producer + 1), epoch: 0, seq: 0 },
    ...(at !== undefined && { at }),
  };
}

/** acks=all, one busy producer, 1 MiB requests. Per request. */
async function measureBusy(requests: number): Promise<Unit> {
  const e = engine();
  await e.topics.create('w2', 1);
  // Two batches of 512 × 1 KiB: 1 MiB of records in one request (a batch stays under max.message.bytes).
  const records = Array.from({ length: 512 }, () => ({ value }));
  let seq = 0;
  e.meter.reset();
  for (let i = 0; i < requests; i++) {
    const batches = [0, 1].map((k) =>
      verifyBatch(
        encodeBatch(records, {
          now: 1,
          producerId: 1n,
          producerEpoch: 0,
          baseSequence: seq + k * records.length,
        }),
      ),
    );
    seq += 2 * records.length;
    await e.appender.append([{ topic: 'w2', partition: 0, batches }]);
  }
  const c = e.meter.snapshot();
  return scale(
    {
      ...storageUnits(c),
      s3Gets: 0,
      invocations: requests,
      gbSeconds: requests * GBS.produce1MiB,
    },
    1 / requests,
  );
}

/** A fetch that finds new data: one invocation, the head read and index query, one ranged GET. */
const FETCH: Unit = {
  ...zero(),
  s3Puts: 0,
  s3Gets: 1,
  wcu: 0,
  rcu: 2,
  sqsRequests: 0,
  invocations: 1,
  gbSeconds: GBS.fetch,
};
/** The same, reading 1 MiB (W2's groups). */
const FETCH_MIB: Unit = { ...FETCH, gbSeconds: GBS.fetch1MiB };

function kinesisOnDemand(
  bytesPerMonth: number,
  recordsPerMonth: number,
  readers: number,
  retentionDays: number,
) {
  const p = PRICES.kinesisOnDemand;
  const ingestGb = Math.max(bytesPerMonth, recordsPerMonth * 1000) / GB;
  const storedGb =
    retentionDays > 1 ? ((bytesPerMonth / SECONDS_PER_MONTH) * (retentionDays * 86400)) / GB : 0;
  return (
    p.streamHour * HOURS_PER_MONTH +
    ingestGb * p.ingestGb +
    (readers * bytesPerMonth * p.retrievalGb) / GB +
    storedGb * p.extendedRetentionGbMonth
  );
}

function kinesisProvisioned(
  bytesPerMonth: number,
  recordsPerMonth: number,
  readers: number,
  retentionDays: number,
) {
  const p = PRICES.kinesisProvisioned;
  const inMBps = bytesPerMonth / SECONDS_PER_MONTH / 1e6;
  const recPerSec = recordsPerMonth / SECONDS_PER_MONTH;
  const shards = Math.max(
    1,
    Math.ceil(inMBps / 1),
    Math.ceil(recPerSec / 1000),
    Math.ceil((inMBps * readers) / 2),
  );
  const recordBytes = bytesPerMonth / Math.max(1, recordsPerMonth);
  const putUnits = recordsPerMonth * Math.ceil(recordBytes / 25_000);
  return (
    shards * HOURS_PER_MONTH * p.shardHour +
    (putUnits * p.putUnitsPerMillion) / 1e6 +
    (retentionDays > 1 ? shards * HOURS_PER_MONTH * p.extendedRetentionShardHour : 0)
  );
}

function mskServerless(bytesPerMonth: number, readers: number, retentionDays: number, partitions: number) {
  const p = PRICES.mskServerless;
  const storedGb = ((bytesPerMonth / SECONDS_PER_MONTH) * (retentionDays * 86400)) / GB;
  return (
    p.clusterHour * HOURS_PER_MONTH +
    partitions * p.partitionHour * HOURS_PER_MONTH +
    (bytesPerMonth / GB) * p.inGb +
    ((readers * bytesPerMonth) / GB) * p.outGb +
    storedGb * p.storageGbMonth
  );
}

/** S3 storage of `retentionDays` of a month's bytes. */
function storageUsd(bytesPerMonth: number, retentionDays: number): number {
  return (((bytesPerMonth / SECONDS_PER_MONTH) * retentionDays * 86400) / GB) * PRICES.s3.storageGbMonth;
}

export async function run(): Promise<void> {
  const metrics: Record<string, number> = {};
  const rows: (string | number)[][] = [
    [
      'workload',
      'events/month',
      'path',
      'Sluice $/month',
      'Sluice $/M events',
      'Kinesis on-demand',
      'Kinesis provisioned',
      'MSK Serverless',
    ],
  ];
  const acksAll = await measureAcksAllSmall(2000);
  metrics['w1.acksAll.wcuPerEvent'] = round(acksAll.wcu, 2);
  metrics['w1.acksAll.s3PutsPerEvent'] = acksAll.s3Puts;
  const volumes = [1e6, 1e8, 1e10];
  // Per-event units of one batch size, measured once per (backend, size); batches are measured
  // up to 4,000 messages, about what Lambda's 6 MB payload lets through for 1 KiB events.
  const measured = new Map<string, Unit>();
  const perEvent = async (backend: 'sqs' | 'kinesis', batch: number) => {
    const key = `${backend}:${batch}`;
    if (!measured.has(key)) {
      const size = Math.min(batch, 4000);
      measured.set(key, await (backend === 'sqs' ? measureAcksOne(size) : measureAcksOneKinesis(size)));
    }
    return measured.get(key)!;
  };
  /**
   * acks=1 through one inbox backend at a batch window: the month's units and the events per
   * batch. SQS: one mapping gathers the whole rate for the window (plus its pollers' receives at
   * rest). Kinesis: the mapping reads each shard apart, so a batch is a shard's share of the window.
   */
  const acks1 = async (backend: 'sqs' | 'kinesis', v: number, windowSec: number) => {
    const shards = backend === 'kinesis' ? inboxShards(v, INBOX_MESSAGE_BYTES) : 1;
    const rate = v / SECONDS_PER_MONTH / shards;
    const batch = Math.min(10_000, Math.max(1, Math.round(rate * windowSec)));
    const fixed: Unit =
      backend === 'sqs'
        ? { ...zero(), sqsRequests: ESM_IDLE_RECEIVES_PER_MONTH }
        : {
            ...zero(),
            kinesisShardHours: shards * HOURS_PER_MONTH,
            kmsRequests: inboxKmsRequests(v, shards),
          };
    return { units: add(scale(await perEvent(backend, batch), v), fixed), batch, shards };
  };
  const acks1Paths = [
    // Each backend at its default window (lib/inbox-backend.ts defaultInboxBatchWindow), and another.
    { key: 'acks1', label: 'acks1 SQS, 1 s window (default)', backend: 'sqs', windowSec: 1 },
    { key: 'acks1Window20s', label: 'acks1 SQS, 20 s window', backend: 'sqs', windowSec: 20 },
    { key: 'acks1Kinesis', label: 'acks1 Kinesis, 2 s window (default)', backend: 'kinesis', windowSec: 2 },
    { key: 'acks1KinesisWindow1s', label: 'acks1 Kinesis, 1 s window', backend: 'kinesis', windowSec: 1 },
  ] as const;
  for (const readers of [0, 3]) {
    const w = readers === 0 ? 'w1' : 'w3';
    for (const v of volumes) {
      const bytes = v * KIB;
      const storage = storageUsd(bytes, 1);
      const kod = kinesisOnDemand(bytes, v, readers, 1);
      const kp = kinesisProvisioned(bytes, v, readers, 1);
      const msk = mskServerless(bytes, readers, 1, 1);
      const row = (path: string, total: number) =>
        rows.push([
          w,
          v.toExponential(0),
          path,
          round(total, 2),
          round(total / (v / 1e6), 3),
          round(kod, 2),
          round(kp, 2),
          round(msk, 2),
        ]);
      // Consumers: each group fetches once per commit that brought something new, at most once a second.
      const fetches = (commits: number) => scale(FETCH, readers * Math.min(commits, SECONDS_PER_MONTH));
      for (const path of acks1Paths) {
        const { units, batch, shards } = await acks1(path.backend, v, path.windowSec);
        const total = usd(add(units, fetches((v / batch) * shards))) + storage;
        const key = `${w}.${path.key}.${v}`;
        metrics[`${key}.usdPerMonth`] = round(total, 2);
        metrics[`${key}.usdPerMillionEvents`] = round(total / (v / 1e6), 3);
        metrics[`${key}.eventsPerBatch`] = batch;
        if (path.backend === 'kinesis') metrics[`${key}.shards`] = shards;
        if (readers === 0 && path.key === 'acks1') {
          const one = await perEvent('sqs', batch);
          metrics[`w1.acks1.${v}.wcuPerEvent`] = round(one.wcu, 3);
          metrics[`w1.acks1.${v}.sqsRequestsPerEvent`] = round(one.sqsRequests, 3);
        }
        if (readers === 0) {
          // The ledger read per batch (the batcher's dedup query and tail): RCU of one batch.
          const one = await perEvent(path.backend, batch);
          metrics[`w1.${path.key}.${v}.rcuPerBatch`] = round(one.rcu * Math.min(batch, 4000), 2);
        }
        if (readers === 0 && path.key === 'acks1') {
          // Steady state over many batches: the ledger read with `at` on the messages and without.
          const size = Math.min(batch, 4000);
          const withAt = await measureLedgerRead(size, path.windowSec * 1000, true);
          const without = await measureLedgerRead(size, path.windowSec * 1000, false);
          metrics[`w1.acks1.${v}.steadyLedgerRcuPerBatch.withAt`] = round(withAt, 2);
          metrics[`w1.acks1.${v}.steadyLedgerRcuPerBatch.withoutAt`] = round(without, 2);
        }
        row(path.label, total);
      }
      const all = usd(add(scale(acksAll, v), fetches(v))) + storage;
      metrics[`${w}.acksAll.${v}.usdPerMonth`] = round(all, 2);
      metrics[`${w}.acksAll.${v}.usdPerMillionEvents`] = round(all / (v / 1e6), 3);
      row('acksAll', all);
      metrics[`${w}.kinesisOnDemand.${v}.usdPerMonth`] = round(kod, 2);
      metrics[`${w}.kinesisProvisioned.${v}.usdPerMonth`] = round(kp, 2);
      metrics[`${w}.mskServerless.${v}.usdPerMonth`] = round(msk, 2);
    }
  }
  // W2: 10 MiB/s of 1 MiB requests (1 KiB records), 7 days, 3 groups reading 1 MiB per fetch.
  const busy = await measureBusy(20);
  const requests = 10 * SECONDS_PER_MONTH;
  const bytes = requests * MIB;
  const records = requests * 1024;
  const w2 = add(scale(busy, requests), scale(FETCH_MIB, 3 * requests));
  const w2Total = usd(w2) + storageUsd(bytes, 7);
  const w2Kod = kinesisOnDemand(bytes, records, 3, 7);
  const w2Kp = kinesisProvisioned(bytes, records, 3, 7);
  const w2Msk = mskServerless(bytes, 3, 7, 16);
  metrics['w2.acksAll.wcuPerRequest'] = round(busy.wcu, 2);
  metrics['w2.acksAll.usdPerMonth'] = round(w2Total, 0);
  metrics['w2.kinesisOnDemand.usdPerMonth'] = round(w2Kod, 0);
  metrics['w2.kinesisProvisioned.usdPerMonth'] = round(w2Kp, 0);
  metrics['w2.mskServerless.usdPerMonth'] = round(w2Msk, 0);
  metrics['w2.kinesisOnDemandOverSluice.ratio'] = round(w2Kod / w2Total, 1);
  rows.push([
    'w2',
    records.toExponential(1),
    'acksAll',
    round(w2Total, 0),
    round(w2Total / (records / 1e6), 3),
    round(w2Kod, 0),
    round(w2Kp, 0),
    round(w2Msk, 0),
  ]);
  console.log(
    `prices: us-east-1 list prices as of ${PRICES_AS_OF} (bench/prices.ts); Lambda GB-s of produce and fetch ${
      GBS_MEASURED
        ? 'measured (bench/results/lambda-time.json)'
        : 'estimated (run `npm run bench -- lambda-time` first)'
    }, of the inbox batcher ${BATCHER_GBS_MEASURED ? 'measured' : 'estimated'}`,
  );
  metrics['lambda.gbSecondsMeasured'] = GBS_MEASURED ? 1 : 0;
  metrics['lambda.produceSmall.gbSeconds'] = GBS.produceSmall;
  metrics['lambda.produce1MiB.gbSeconds'] = GBS.produce1MiB;
  metrics['lambda.fetch.gbSeconds'] = GBS.fetch;
  metrics['lambda.fetch1MiB.gbSeconds'] = GBS.fetch1MiB;
  metrics['lambda.batcherBase.gbSeconds'] = round(GBS.batcherBase, 6);
  metrics['lambda.batcherPerEvent.gbSeconds'] = round(GBS.batcherPerEvent, 8);
  printTable(rows);
  console.log(
    `W1 acks=all: ${acksAll.wcu} WCU and ${acksAll.s3Puts} PUT per event; W2: ${round(busy.wcu, 2)} WCU per 1 MiB request`,
  );
  console.log(`wrote ${writeResults('cost', metrics)}`);
}
