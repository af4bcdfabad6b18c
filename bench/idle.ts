/**
 * `npm run bench -- idle [seconds]`: what one idle consumer of an idle 3-partition topic
 * costs in AWS per month, priced from what it makes the cluster do: Function URL
 * invocations per function, Lambda time (the handler's time measured here plus a round
 * trip per storage call, billed per ms at the function's default memory on arm64), and
 * the DynamoDB capacity and S3 requests counted by the metered stores. Two consumers: one
 * that `assign`s the partitions, one in a group (its heartbeats included); each against
 * the deployed behaviour (SLUICE_FETCH_MAX_WAIT_MS=0, the SDK backs off while idle) and,
 * as the baseline in the same process, a server that holds 5 s long polls (before); the
 * group member also with its heartbeat kept at 3 s while idle (before idleHeartbeatInterval).
 *
 * Prices (us-east-1, on-demand, December 2026): Lambda $0.20 per million requests and
 * $0.0000133334 per GB-s (arm64); DynamoDB $0.125 per million read and $0.625 per million
 * write request units; S3 GET $0.0004 and PUT/LIST $0.005 per thousand. Storage at rest
 * (S3 GB-month, DynamoDB GB-month) and CloudWatch (alarms, dashboard, logs) are not per
 * consumer: docs/deploy.md lists them.
 */
import { performance } from 'node:perf_hooks';
import { createContext } from '../lambdas/context.js';
import { functionFor } from '../lambdas/index.js';
import { Sluice } from '../sdk/index.js';
import { logLevel } from '../sdk/logger.js';
import { createInProcessTransport } from '../sdk/transport/in-process.js';
import type { Transport } from '../sdk/transport/types.js';
import { MemoryMetaStore, MemoryObjectStore } from '../storage/memory.js';
import { Meter, MeteredMetaStore, MeteredObjectStore, type StorageCounts } from '../storage/metered.js';
import { numberArg, printTable, round, writeResults } from './lib.js';

const MONTH_S = 30 * 24 * 3600;
const PRICE = {
  lambdaRequest: 0.2 / 1e6,
  lambdaGbSecond: 0.0000133334,
  rru: 0.125 / 1e6,
  wru: 0.625 / 1e6,
  s3Get: 0.0004 / 1000,
  s3Put: 0.005 / 1000,
};
/** The construct's default memory per function (MB). */
const MEMORY_MB: Record<string, number> = {
  produce: 1024,
  fetch: 1024,
  admin: 256,
  groups: 256,
  schemas: 256,
};
/** A DynamoDB or S3 round trip from Lambda in the same region (ms): the handler waits it out. */
const STORAGE_RTT_MS = 8;

interface Usage {
  invocations: Record<string, number>;
  /** Billed Lambda GB-seconds. */
  gbSeconds: number;
  storage: StorageCounts;
}

const calls = (c: StorageCounts) =>
  c.s3.put +
  c.s3.get +
  c.s3.delete +
  c.s3.list +
  c.dynamo.get +
  c.dynamo.batchGet +
  c.dynamo.query +
  c.dynamo.transact;

async function idleMonth(options: {
  group: boolean;
  holdPolls: boolean;
  seconds: number;
  /** The consumer's idleHeartbeatInterval (ms); its default when absent. */
  idleHeartbeatInterval?: number;
}) {
  if (options.holdPolls) delete process.env.SLUICE_FETCH_MAX_WAIT_MS;
  else process.env.SLUICE_FETCH_MAX_WAIT_MS = '0';
  const meter = new Meter();
  const stores = {
    meta: new MeteredMetaStore(new MemoryMetaStore(), meter),
    objects: new MeteredObjectStore(new MemoryObjectStore(), meter),
  };
  const host = (fn: string) => `http://${fn}.bench`;
  const ctx = createContext(stores, {
    endpoints: {
      produce: host('produce'),
      fetch: host('fetch'),
      admin: host('admin'),
      groups: host('groups'),
    },
    env: {},
  });
  const inner = createInProcessTransport(ctx);
  let measuring = false;
  const usage: Usage = { invocations: {}, gbSeconds: 0, storage: meter.snapshot() };
  const transport: Transport = async (req) => {
    const fn = functionFor(new URL(req.url).pathname);
    const before = calls(meter.snapshot());
    const start = performance.now();
    try {
      return await inner(req);
    } finally {
      if (measuring) {
        const ms = performance.now() - start + (calls(meter.snapshot()) - before) * STORAGE_RTT_MS;
        usage.invocations[fn] = (usage.invocations[fn] ?? 0) + 1;
        usage.gbSeconds += (Math.ceil(ms) / 1000) * ((MEMORY_MB[fn] ?? 1024) / 1024);
      }
    }
  };
  const sluice = new Sluice({ endpoint: host('admin'), transport, logLevel: logLevel.NOTHING });
  await sluice.admin().createTopics({ topics: [{ topic: 'idle', numPartitions: 3 }] });
  const consumer = sluice.consumer(
    options.group
      ? {
          groupId: 'idle-group',
          ...(options.idleHeartbeatInterval !== undefined && {
            idleHeartbeatInterval: options.idleHeartbeatInterval,
          }),
        }
      : {},
  );
  if (options.group) await consumer.subscribe({ topics: ['idle'] });
  else consumer.assign([{ topic: 'idle', partitions: [0, 1, 2] }]);
  await consumer.run({ eachMessage: async () => {} });
  // Past the backoff's ramp (0.1 s doubling to 10 s) and the group's join.
  await new Promise((r) => setTimeout(r, 15_000));
  meter.reset();
  measuring = true;
  const started = performance.now();
  await new Promise((r) => setTimeout(r, options.seconds * 1000));
  measuring = false;
  const elapsedS = (performance.now() - started) / 1000;
  usage.storage = meter.snapshot();
  await consumer.disconnect();

  const scale = MONTH_S / elapsedS;
  const requests = Object.values(usage.invocations).reduce((a, b) => a + b, 0);
  const lambda = (requests * PRICE.lambdaRequest + usage.gbSeconds * PRICE.lambdaGbSecond) * scale;
  const s = usage.storage;
  const dynamo = (s.dynamo.rcu * PRICE.rru + s.dynamo.wcu * PRICE.wru) * scale;
  const s3 = (s.s3.get * PRICE.s3Get + (s.s3.put + s.s3.list) * PRICE.s3Put) * scale;
  return {
    usdPerMonth: lambda + dynamo + s3,
    lambda,
    dynamo,
    s3,
    fetchesPerMinute: ((usage.invocations.fetch ?? 0) / elapsedS) * 60,
    heartbeatsPerMinute: ((usage.invocations.groups ?? 0) / elapsedS) * 60,
    gbSecondsPerMonth: usage.gbSeconds * scale,
  };
}

export async function run(args: string[]): Promise<void> {
  const seconds = numberArg(args, 'seconds', 60);
  const results: Record<string, number> = {};
  const rows: (string | number)[][] = [
    ['consumer', 'server', '$/month', 'lambda $', 'dynamodb $', 's3 $', 'fetches/min', 'heartbeats/min'],
  ];
  for (const group of [false, true]) {
    for (const holdPolls of [true, false]) {
      const r = await idleMonth({ group, holdPolls, seconds: holdPolls ? Math.min(seconds, 20) : seconds });
      const name = `${group ? 'idleGroupConsumer' : 'idleConsumer'}${holdPolls ? 'HeldPolls' : ''}UsdPerMonth`;
      results[name] = round(r.usdPerMonth, 3);
      rows.push([
        group ? 'group member' : 'assigned',
        holdPolls ? 'holds 5 s polls (before)' : 'answers at once (deployed)',
        round(r.usdPerMonth, 3),
        round(r.lambda, 3),
        round(r.dynamo, 3),
        round(r.s3, 3),
        round(r.fetchesPerMinute, 1),
        round(r.heartbeatsPerMinute, 1),
      ]);
    }
  }
  // The group member before idle heartbeats: every 3 s, idle or not.
  const steady = await idleMonth({ group: true, holdPolls: false, seconds, idleHeartbeatInterval: 3_000 });
  results.idleGroupConsumerHeartbeat3sUsdPerMonth = round(steady.usdPerMonth, 3);
  rows.push([
    'group member',
    'answers at once, heartbeat 3 s while idle (before)',
    round(steady.usdPerMonth, 3),
    round(steady.lambda, 3),
    round(steady.dynamo, 3),
    round(steady.s3, 3),
    round(steady.fetchesPerMinute, 1),
    round(steady.heartbeatsPerMinute, 1),
  ]);
  results.idleGroupConsumerCostRatioVsHeartbeat3s = round(
    results.idleGroupConsumerUsdPerMonth! / results.idleGroupConsumerHeartbeat3sUsdPerMonth!,
    4,
  );
  results.idleConsumerCostRatioVsHeldPolls = round(
    results.idleConsumerUsdPerMonth! / results.idleConsumerHeldPollsUsdPerMonth!,
    4,
  );
  results.idleGroupConsumerCostRatioVsHeldPolls = round(
    results.idleGroupConsumerUsdPerMonth! / results.idleGroupConsumerHeldPollsUsdPerMonth!,
    4,
  );
  printTable(rows);
  console.log(`wrote ${writeResults('idle', results)}`);
}
