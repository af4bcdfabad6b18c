/**
 * Subscriptions on the local store (files + SQLite in a temp dir, real clock), the way
 * `sluice dev` runs them: the notifying MetaStore triggers the scheduler, the dispatcher
 * invokes an in-process function that returns at once.
 *
 * - Delivery latency: one record produced every `--gap` ms (sequentially); latency = the
 *   moment the function receives the record − the moment the produce was acknowledged.
 *   Baseline: the produce's own latency (request to ack) in the same run.
 * - Throughput per partition: `--mib` MiB of 1 KiB records already in one partition, delivered
 *   from offset 0 (batchSize 10,000, 4 MiB per invocation). Baseline (the floor): reading and
 *   decoding the same records with the fetch path alone, no event, no invocation, no commit.
 *   Then `--partitions` partitions of the same size dispatched in parallel.
 *
 * Writes bench/results/subscriptions.json.
 *
 *   npm run bench -- subscriptions [--records=300] [--gap=5] [--mib=32] [--partitions=4]
 */
import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Appender } from '../core/append.js';
import { seededRandom } from '../core/clock.js';
import { Reader } from '../core/fetch.js';
import { encodeBatch, type RecordInput, verifyBatch } from '../core/records/index.js';
import {
  Dispatcher,
  type InvokeOutcome,
  type SubscriptionEvent,
  SubscriptionScheduler,
  SubscriptionStore,
} from '../core/subscriptions/index.js';
import { Topics } from '../core/topics.js';
import { systemClock } from '../lambdas/context.js';
import { FsObjectStore } from '../storage/fs.js';
import { NotifyingMetaStore } from '../storage/notifying.js';
import { SqliteMetaStore } from '../storage/sqlite.js';
import { median, numberArg, printTable, round, writeResults } from './lib.js';

const MIB = 1024 * 1024;

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function world(dir: string) {
  await mkdir(dir, { recursive: true });
  const sqlite = new SqliteMetaStore(join(dir, 'meta.sqlite'));
  const meta = new NotifyingMetaStore(sqlite);
  const objects = new FsObjectStore(join(dir, 'objects'));
  const clock = systemClock;
  const random = seededRandom(1);
  const topics = new Topics(meta, { clock, random });
  const appender = new Appender({ meta, objects, topics, clock, random });
  const reader = new Reader({ meta, objects, topics, clock });
  const subs = new SubscriptionStore({ meta, topics, reader, clock, random });
  let onEvent: (event: SubscriptionEvent) => void = () => {};
  const dispatcher = new Dispatcher({
    meta,
    reader,
    topics,
    clock,
    random,
    invoker: {
      async invoke(_t: string, event: SubscriptionEvent): Promise<InvokeOutcome> {
        onEvent(event);
        return { ok: true, response: null };
      },
    },
    failures: { send: async () => {} },
    subscription: (name) => subs.find(name),
    owner: randomUUID(),
    cluster: 'bench',
  });
  const scheduler = new SubscriptionScheduler({
    dispatcher,
    topics,
    clock,
    listSubscriptions: () => subs.list(),
    onError: (e) => console.error(e),
  });
  return {
    meta,
    sqlite,
    topics,
    appender,
    reader,
    subs,
    dispatcher,
    scheduler,
    setOnEvent(f: (event: SubscriptionEvent) => void) {
      onEvent = f;
    },
  };
}

async function latency(dir: string, n: number, gapMs: number) {
  const w = await world(dir);
  await w.topics.create('lat', 1);
  await w.subs.create({ name: 'lat', topic: 'lat', target: 'fn' });
  const off = w.meta.onChange((changed) => void w.scheduler.changed(changed));
  const acked = new Map<number, number>();
  const received = new Map<number, number>();
  w.setOnEvent((event) => {
    const now = performance.now();
    for (const r of Object.values(event.records)[0]!) received.set(r.offset, now);
  });
  const produceMs: number[] = [];
  const value = new Uint8Array(100);
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    const [res] = await w.appender.append([
      { topic: 'lat', partition: 0, batches: [verifyBatch(encodeBatch([{ value }], { now: Date.now() }))] },
    ]);
    const ack = performance.now();
    produceMs.push(ack - start);
    acked.set(res!.baseOffset, ack);
    await new Promise((r) => setTimeout(r, gapMs));
  }
  await w.scheduler.idle();
  off();
  const lat = [...acked].map(([offset, at]) => received.get(offset)! - at);
  w.sqlite.close();
  return {
    p50: percentile(lat, 50),
    p99: percentile(lat, 99),
    produceP50: percentile(produceMs, 50),
    delivered: received.size,
  };
}

async function fill(w: Awaited<ReturnType<typeof world>>, topic: string, partition: number, mib: number) {
  const value = new Uint8Array(1024).fill(7);
  // 1 MiB per request, in two batches (under the default max.message.bytes).
  const records: RecordInput[] = Array.from({ length: 512 }, (_, i) => ({ key: null, value, timestamp: i }));
  const batch = () => verifyBatch(encodeBatch(records, { now: 0 }));
  for (let b = 0; b < mib; b++) {
    await w.appender.append([{ topic, partition, batches: [batch(), batch()] }]);
  }
}

async function throughput(dir: string, mib: number, partitions: number) {
  const w = await world(dir);
  await w.topics.create('tp', partitions);
  for (let p = 0; p < partitions; p++) await fill(w, 'tp', p, mib);
  let bytes = 0;
  w.setOnEvent((event) => {
    for (const r of Object.values(event.records)[0]!) bytes += r.value ? (r.value.length * 3) / 4 : 0;
  });

  // Floor: the fetch path alone over partition 0.
  let t = performance.now();
  let offset = 0;
  let floorBytes = 0;
  for (;;) {
    const got = await w.reader.fetchRecords('tp', 0, offset, { maxRecords: 10_000, maxBytes: 4 * MIB });
    if (got.records.length === 0) break;
    for (const r of got.records) floorBytes += r.value?.length ?? 0;
    offset = got.nextOffset;
  }
  const floor = floorBytes / MIB / ((performance.now() - t) / 1000);
  w.reader.cache.clear();

  const sub = { topic: 'tp', target: 'fn', startingPosition: 'earliest' as const, batchSize: 10_000 };
  await w.subs.create({ name: 'one', ...sub });
  t = performance.now();
  const one = await w.dispatcher.dispatch('one', 0);
  const single = bytes / MIB / ((performance.now() - t) / 1000);
  if (one.delivered !== mib * 1024) throw new Error(`delivered ${one.delivered}`);

  bytes = 0;
  await w.subs.create({ name: 'all', ...sub });
  t = performance.now();
  await Promise.all(Array.from({ length: partitions }, (_, p) => w.dispatcher.dispatch('all', p)));
  const parallel = bytes / MIB / ((performance.now() - t) / 1000);
  w.sqlite.close();
  return { single, floor, parallel };
}

export async function run(args: string[]): Promise<void> {
  const n = numberArg(args, 'records', 300);
  const gap = numberArg(args, 'gap', 5);
  const mib = numberArg(args, 'mib', 32);
  const partitions = numberArg(args, 'partitions', 4);
  const rounds = 3;
  const lat: Awaited<ReturnType<typeof latency>>[] = [];
  const tp: Awaited<ReturnType<typeof throughput>>[] = [];
  for (let r = 0; r < rounds; r++) {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-subs-'));
    try {
      lat.push(await latency(join(dir, 'lat'), n, gap));
      tp.push(await throughput(join(dir, 'tp'), mib, partitions));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
  const m = {
    latencyP50Ms: round(median(lat.map((l) => l.p50))),
    latencyP99Ms: round(median(lat.map((l) => l.p99))),
    produceAckP50Ms: round(median(lat.map((l) => l.produceP50))),
    throughputPerPartitionMiBs: round(median(tp.map((x) => x.single)), 1),
    fetchFloorMiBs: round(median(tp.map((x) => x.floor)), 1),
    ratioToFloor: round(median(tp.map((x) => x.single / x.floor))),
    parallelPartitions: partitions,
    parallelMiBs: round(median(tp.map((x) => x.parallel)), 1),
  };
  printTable([
    ['metric', 'value'],
    ['delivery latency p50 (ms, ack → function)', m.latencyP50Ms],
    ['delivery latency p99 (ms)', m.latencyP99Ms],
    ['baseline: produce ack p50 (ms)', m.produceAckP50Ms],
    ['throughput, 1 partition (MiB/s)', m.throughputPerPartitionMiBs],
    ['baseline: fetch floor, 1 partition (MiB/s)', m.fetchFloorMiBs],
    ['ratio to floor', m.ratioToFloor],
    [`throughput, ${partitions} partitions in parallel (MiB/s, total)`, m.parallelMiBs],
  ]);
  console.log(`delivered ${lat.map((l) => l.delivered).join(', ')} of ${n} per round`);
  console.log(`results: ${writeResults('subscriptions', m)}`);
}
