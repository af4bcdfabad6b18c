/**
 * `npm run bench -- contention [--seconds=N]`: many writers on one partition, over the
 * modelled DynamoDB and S3 (storage/modelled.ts: published latencies, overlapping
 * transactions cancelled with TransactionConflict, 1,000 WCU/s per item), in virtual time.
 *
 * - `instances`: 1, 4, 16, 64 separate engines (separate Topics, Appender, caches and
 *   randomness: separate Lambda instances), one small request at a time each.
 * - `group`: one engine with 1, 4, 16, 64 concurrent requests (a busy `sluice dev`, a
 *   gateway, a Lambda with many concurrent invocations), with group commit (concurrent
 *   requests for one partition share one transaction) and without (one transaction each,
 *   queued on the instance's partition lock).
 *
 * Per run: requests acked per second, records per second, transactions per request,
 * retries per commit (transactions that did not apply per transaction that did), request
 * latency p50/p99 (virtual ms), DynamoDB WCU and RCU per request (storage/metered.ts) and
 * requests failed; each the median over `--seeds=N` schedules (default 3).
 * - `combining`: as `instances`, with cross-instance combining (core/intents.ts, the
 *   default); `instances` races only (`combine: false`). Ratios combining/instances follow.
 * `--only=a,b` runs some scenarios and prints without writing; otherwise writes
 * bench/results/contention.json.
 */
import { Appender } from '../core/append.js';
import { seededRandom } from '../core/clock.js';
import type { TransactOp } from '../core/ports.js';
import { encodeBatch, verifyBatch } from '../core/records/index.js';
import { Topics } from '../core/topics.js';
import { ForwardingMetaStore } from '../storage/forwarding.js';
import { MemoryMetaStore, MemoryObjectStore } from '../storage/memory.js';
import { MeteredMetaStore } from '../storage/metered.js';
import { ModelledMetaStore, ModelledObjectStore } from '../storage/modelled.js';
import { median, numberArg, printTable, quantile, round, VirtualClock, writeResults } from './lib.js';

const RECORDS_PER_REQUEST = 10;
const RECORD_BYTES = 100;
const COUNTS = [1, 4, 16, 64];

interface Outcome {
  requestsPerSecond: number;
  recordsPerSecond: number;
  transactionsPerRequest: number;
  retriesPerCommit: number;
  p50Ms: number;
  p99Ms: number;
  failed: number;
  /** Head commits that did not apply per head commit that did (intent puts and reads aside). */
  headRetriesPerCommit: number;
  /** Requests answered per head commit that applied. */
  requestsPerHeadCommit: number;
  /** DynamoDB capacity per request acked (storage/metered.ts: failed calls count too). */
  wcuPerRequest: number;
  rcuPerRequest: number;
}

/** Counts the transactions that write a head item, and those of them that failed. */
class HeadCounter extends ForwardingMetaStore {
  attempts = 0;
  failures = 0;
  override async transact(ops: readonly TransactOp[]): Promise<void> {
    const head = ops.some((op) => op.key.sk === 'head');
    if (head) this.attempts++;
    try {
      await this.inner.transact(ops);
    } catch (err) {
      if (head) this.failures++;
      throw err;
    }
  }
}

/** `instances` engines, each keeping `concurrency` requests in flight, for `seconds`. */
async function measure(
  instances: number,
  concurrency: number,
  seconds: number,
  groupCommit: boolean,
  combine = false,
  seed = 0,
): Promise<Outcome> {
  const clock = new VirtualClock();
  const random = seededRandom(instances * 1000 + concurrency + seed * 104_729);
  const modelled = new ModelledMetaStore(new MemoryMetaStore(), { clock, random });
  const metered = new MeteredMetaStore(modelled);
  const meta = new HeadCounter(metered);
  const objects = new ModelledObjectStore(new MemoryObjectStore(), { clock, random });
  await clock.run(new Topics(meta, { clock, random }).create('t', 1));
  const value = new Uint8Array(RECORD_BYTES).fill(7);
  const batch = () =>
    verifyBatch(
      encodeBatch(
        Array.from({ length: RECORDS_PER_REQUEST }, (_, i) => ({ value, timestamp: i })),
        { now: 0 },
      ),
    );
  const engines = Array.from({ length: instances }, (_, i) => {
    const r = seededRandom(7919 * (i + 1) + seed * 15_485_863);
    const topics = new Topics(meta, { clock, random: r });
    return new Appender({ meta, objects, topics, clock, random: r, groupCommit, combine });
  });
  const start = clock.now();
  const end = start + seconds * 1000;
  const latencies: number[] = [];
  let failed = 0;
  const before = { ...modelled.stats };
  const capacity = metered.meter.snapshot().dynamo;
  const heads = { attempts: meta.attempts, failures: meta.failures };
  const loop = async (appender: Appender) => {
    while (clock.now() < end) {
      const t0 = clock.now();
      try {
        await appender.append([{ topic: 't', partition: 0, batches: [batch()], trusted: true }]);
        latencies.push(clock.now() - t0);
      } catch {
        failed++;
      }
    }
  };
  await clock.run(Promise.all(engines.flatMap((a) => Array.from({ length: concurrency }, () => loop(a)))));
  const elapsed = (clock.now() - start) / 1000;
  const transactions = modelled.stats.transactions - before.transactions;
  const committed = modelled.stats.committed - before.committed;
  const headAttempts = meta.attempts - heads.attempts;
  const headFailures = meta.failures - heads.failures;
  const headCommits = headAttempts - headFailures;
  const after = metered.meter.snapshot().dynamo;
  return {
    wcuPerRequest: (after.wcu - capacity.wcu) / Math.max(1, latencies.length),
    rcuPerRequest: (after.rcu - capacity.rcu) / Math.max(1, latencies.length),
    requestsPerSecond: latencies.length / elapsed,
    recordsPerSecond: (latencies.length * RECORDS_PER_REQUEST) / elapsed,
    transactionsPerRequest: transactions / Math.max(1, latencies.length),
    retriesPerCommit: (transactions - committed) / Math.max(1, committed),
    p50Ms: latencies.length ? quantile(latencies, 0.5) : 0,
    p99Ms: latencies.length ? quantile(latencies, 0.99) : 0,
    failed,
    headRetriesPerCommit: headFailures / Math.max(1, headCommits),
    requestsPerHeadCommit: latencies.length / Math.max(1, headCommits),
  };
}

export async function run(args: string[]): Promise<void> {
  const seconds = numberArg(args, 'seconds', 10);
  const seeds = numberArg(args, 'seeds', 3);
  const metrics: Record<string, number> = { seconds, seeds, records_per_request: RECORDS_PER_REQUEST };
  const rows: (string | number)[][] = [
    [
      'scenario',
      'writers',
      'req/s',
      'records/s',
      'tx/req',
      'retries/commit',
      'head retries/commit',
      'req/head commit',
      'p50 ms',
      'p99 ms',
      'WCU/req',
      'RCU/req',
      'failed',
    ],
  ];
  const record = (scenario: string, n: number, o: Outcome) => {
    const prefix = `${scenario}_${n}`;
    metrics[`${prefix}_requests_s`] = round(o.requestsPerSecond, 1);
    metrics[`${prefix}_records_s`] = round(o.recordsPerSecond, 1);
    metrics[`${prefix}_tx_per_request`] = round(o.transactionsPerRequest, 3);
    metrics[`${prefix}_retries_per_commit`] = round(o.retriesPerCommit, 3);
    metrics[`${prefix}_p50_ms`] = round(o.p50Ms, 1);
    metrics[`${prefix}_p99_ms`] = round(o.p99Ms, 1);
    metrics[`${prefix}_failed`] = o.failed;
    metrics[`${prefix}_head_retries_per_commit`] = round(o.headRetriesPerCommit, 3);
    metrics[`${prefix}_requests_per_head_commit`] = round(o.requestsPerHeadCommit, 3);
    metrics[`${prefix}_wcu_per_request`] = round(o.wcuPerRequest, 2);
    metrics[`${prefix}_rcu_per_request`] = round(o.rcuPerRequest, 2);
    rows.push([
      scenario,
      n,
      round(o.requestsPerSecond, 1),
      Math.round(o.recordsPerSecond),
      round(o.transactionsPerRequest, 2),
      round(o.retriesPerCommit, 2),
      round(o.headRetriesPerCommit, 2),
      round(o.requestsPerHeadCommit, 2),
      round(o.p50Ms, 1),
      round(o.p99Ms, 1),
      round(o.wcuPerRequest, 1),
      round(o.rcuPerRequest, 1),
      o.failed,
    ]);
  };
  const only = args.find((a) => a.startsWith('--only='))?.slice('--only='.length);
  const scenarios: [string, (n: number, seed: number) => Promise<Outcome>][] = [
    ['instances', (n, seed) => measure(n, 1, seconds, true, false, seed)],
    ['combining', (n, seed) => measure(n, 1, seconds, true, true, seed)],
    ['group_on', (n, seed) => measure(1, n, seconds, true, false, seed)],
    ['group_off', (n, seed) => measure(1, n, seconds, false, false, seed)],
  ];
  const outcomes = new Map<string, Outcome>();
  for (const [name, go] of scenarios) {
    if (only !== undefined && !only.split(',').includes(name)) continue;
    for (const n of COUNTS) {
      // Each figure is the median over `seeds` schedules (latencies, conflicts, jitter).
      const runs: Outcome[] = [];
      for (let seed = 0; seed < seeds; seed++) runs.push(await go(n, seed));
      const o = Object.fromEntries(
        Object.keys(runs[0]!).map((k) => [k, median(runs.map((r) => r[k as keyof Outcome]))]),
      ) as unknown as Outcome;
      outcomes.set(`${name}_${n}`, o);
      record(name, n, o);
    }
  }
  printTable(rows);
  // Combining against racing (the default), both measured here: ratios of the medians.
  const ratios: (string | number)[][] = [['writers', 'req/s ×', 'retries/commit ×', 'p99 ×', 'WCU/req ×']];
  for (const n of COUNTS) {
    const base = outcomes.get(`instances_${n}`);
    const comb = outcomes.get(`combining_${n}`);
    if (!base || !comb) continue;
    const ratio = (a: number, b: number) => round(a / Math.max(b, 1e-9), 3);
    metrics[`combining_vs_instances_${n}_requests_ratio`] = ratio(
      comb.requestsPerSecond,
      base.requestsPerSecond,
    );
    metrics[`combining_vs_instances_${n}_retries_ratio`] = ratio(
      comb.retriesPerCommit,
      base.retriesPerCommit,
    );
    metrics[`combining_vs_instances_${n}_p99_ratio`] = ratio(comb.p99Ms, base.p99Ms);
    metrics[`combining_vs_instances_${n}_wcu_ratio`] = ratio(comb.wcuPerRequest, base.wcuPerRequest);
    ratios.push([
      n,
      metrics[`combining_vs_instances_${n}_requests_ratio`]!,
      metrics[`combining_vs_instances_${n}_retries_ratio`]!,
      metrics[`combining_vs_instances_${n}_p99_ratio`]!,
      metrics[`combining_vs_instances_${n}_wcu_ratio`]!,
    ]);
  }
  if (ratios.length > 1) printTable(ratios);
  // A partial run (--only) prints and keeps the stored results.
  if (only === undefined) console.log(`wrote ${writeResults('contention', metrics)}`);
}
