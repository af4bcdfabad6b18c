/**
 * What an exactly-once transaction costs, against the at-least-once baseline that does the
 * same work without one (an idempotent append, then a separate offset commit):
 *
 * - cost, on metered stores: S3 PUTs, DynamoDB requests, items written and write units of
 *   one copy step (read-process-write: records to `partitions` output partitions, one
 *   consumer offset) — transactional vs baseline; also at 120 partitions, where the commit
 *   passes DynamoDB's 100 items and takes the multi-step large commit (DESIGN.md §13);
 * - speed, on the embedded store (files + SQLite, a temp dir): transactions per second on
 *   one partition, one transaction after another, vs baseline steps per second.
 *
 * Writes bench/results/transactions.json.
 *
 *   npm run bench -- transactions [--records=100] [--partitions=1] [--rounds=200]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Appender } from '../core/append.js';
import { ManualClock, seededRandom } from '../core/clock.js';
import { Reader } from '../core/fetch.js';
import { GroupCoordinator } from '../core/groups/coordinator.js';
import type { MetaStore, ObjectStore } from '../core/ports.js';
import { encodeBatch, type RecordInput, verifyBatch } from '../core/records/index.js';
import { Topics } from '../core/topics.js';
import { TransactionCoordinator } from '../core/transactions/index.js';
import { FsObjectStore } from '../storage/fs.js';
import { MemoryMetaStore, MemoryObjectStore } from '../storage/memory.js';
import { Meter, MeteredMetaStore, MeteredObjectStore } from '../storage/metered.js';
import { SqliteMetaStore } from '../storage/sqlite.js';
import { median, numberArg, printTable, round, writeResults } from './lib.js';

const enc = new TextEncoder();
/** Output partitions of the large-commit row: 120 heads + 120 index entries pass 100 items. */
const LARGE = 120;

function world(stores: { meta: MetaStore; objects: ObjectStore }) {
  const clock = new ManualClock(1_700_000_000_000, { autoAdvance: true });
  const random = seededRandom(1);
  const topics = new Topics(stores.meta, { clock, random });
  const appender = new Appender({ ...stores, topics, clock, random });
  const reader = new Reader({ ...stores, topics, clock });
  const topicView = {
    partitionCount: async (t: string) => (await topics.get(t)).partitions,
    highWatermarks: (t: string, ps: readonly number[]) => reader.highWatermarks(t, ps),
  };
  const tx = new TransactionCoordinator({ meta: stores.meta, appender, topicView, clock, random });
  const groups = new GroupCoordinator({ meta: stores.meta, topics: topicView, clock, random });
  return { topics, appender, tx, groups };
}

type World = ReturnType<typeof world>;

function runs(partitions: number, records: number, producer?: { id: bigint; seq: number }) {
  const recs: RecordInput[] = Array.from({ length: records }, (_, i) => ({
    key: enc.encode(`k${i}`),
    value: enc.encode(`value-${i}-${'x'.repeat(90)}`),
    timestamp: 1000 + i,
  }));
  return Array.from({ length: partitions }, (_, partition) => ({
    topic: 'out',
    partition,
    batches: [
      verifyBatch(
        encodeBatch(recs, {
          now: 0,
          ...(producer && { producerId: producer.id, producerEpoch: 0, baseSequence: producer.seq }),
        }),
      ),
    ],
  }));
}

async function setup(w: World, partitions: number): Promise<void> {
  await w.topics.create('in', 1);
  await w.topics.create('out', partitions);
  await w.appender.append([
    {
      topic: 'in',
      partition: 0,
      batches: [
        verifyBatch(
          encodeBatch(
            Array.from({ length: 5000 }, () => ({ value: enc.encode('v'), timestamp: 1 })),
            { now: 0 },
          ),
        ),
      ],
    },
  ]);
}

/** One exactly-once copy step: send, sendOffsets, commit. */
async function txStep(
  w: World,
  p: { producerId: string; epoch: number; transaction: number },
  partitions: number,
  records: number,
) {
  await w.tx.send('bench', p, p.transaction, 0, runs(partitions, records));
  await w.tx.sendOffsets('bench', p, p.transaction, 1, {
    groupId: 'g',
    offsets: [{ topic: 'in', partition: 0, offset: (p.transaction % 5000) + 1 }],
  });
  await w.tx.commit('bench', p, p.transaction);
  p.transaction++;
}

/** The at-least-once step: an idempotent append, then the offset commit. */
async function baselineStep(w: World, seq: { n: number }, partitions: number, records: number) {
  await w.appender.append(runs(partitions, records, { id: 1n, seq: seq.n }));
  seq.n += records;
  const offset = (seq.n / records) % 5000;
  await w.groups.commitOffsets('g', { offsets: [{ topic: 'in', partition: 0, offset }] });
}

async function costs(partitions: number, records: number) {
  const measure = async (transactional: boolean) => {
    const meter = new Meter();
    const w = world({
      meta: new MeteredMetaStore(new MemoryMetaStore(), meter),
      objects: new MeteredObjectStore(new MemoryObjectStore(), meter),
    });
    await setup(w, partitions);
    const p = await w.tx.init('bench');
    const seq = { n: 0 };
    // Warm caches (topics, heads), then measure steady state over 10 steps.
    for (let i = 0; i < 2; i++)
      await (transactional ? txStep(w, p, partitions, records) : baselineStep(w, seq, partitions, records));
    meter.reset();
    const steps = 10;
    for (let i = 0; i < steps; i++)
      await (transactional ? txStep(w, p, partitions, records) : baselineStep(w, seq, partitions, records));
    const c = meter.snapshot();
    const d = c.dynamo;
    return {
      s3Puts: c.s3.put / steps,
      dynamoRequests: (d.get + d.batchGet + d.query + d.transact) / steps,
      dynamoReads: (d.get + d.batchGet + d.query) / steps,
      transactWrites: d.transact / steps,
      itemsWritten: d.writeItems / steps,
      wcu: d.wcu / steps,
      rcu: d.rcu / steps,
    };
  };
  return { tx: await measure(true), base: await measure(false) };
}

async function speed(records: number, rounds: number) {
  const measure = async (transactional: boolean) => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-tx-'));
    const meta = new SqliteMetaStore(join(dir, 'meta.sqlite'));
    try {
      const w = world({ meta, objects: new FsObjectStore(join(dir, 'objects')) });
      await setup(w, 1);
      const p = await w.tx.init('bench');
      const seq = { n: 0 };
      const started = performance.now();
      for (let i = 0; i < rounds; i++)
        await (transactional ? txStep(w, p, 1, records) : baselineStep(w, seq, 1, records));
      return rounds / ((performance.now() - started) / 1000);
    } finally {
      meta.close();
      await rm(dir, { recursive: true, force: true });
    }
  };
  // Alternated, median of three each: the machine's load moves both alike.
  const bases: number[] = [];
  const txs: number[] = [];
  for (let i = 0; i < 3; i++) {
    bases.push(await measure(false));
    txs.push(await measure(true));
  }
  return { tx: median(txs), base: median(bases) };
}

export async function run(args: string[]): Promise<void> {
  const records = numberArg(args, 'records', 100);
  const partitions = numberArg(args, 'partitions', 1);
  const rounds = numberArg(args, 'rounds', 200);
  const rows: (string | number)[][] = [
    ['partitions', 'step', 'S3 PUT', 'DDB requests', 'DDB reads', 'items written', 'WCU', 'RCU'],
  ];
  let main: Awaited<ReturnType<typeof costs>> | undefined;
  let large: Awaited<ReturnType<typeof costs>> | undefined;
  for (const n of [...new Set([partitions, 4, 16, LARGE])]) {
    const c = await costs(n, records);
    main ??= c;
    if (n === LARGE) large = c;
    for (const [name, f] of [
      ['transaction', c.tx],
      ['baseline', c.base],
    ] as const) {
      rows.push([n, name, f.s3Puts, f.dynamoRequests, f.dynamoReads, f.itemsWritten, f.wcu, f.rcu]);
    }
  }
  console.log(`one copy step (${records} records per partition, one consumer offset), steady state:`);
  printTable(rows);
  const s = await speed(records, rounds);
  console.log(
    `files+SQLite, one partition, ${records} records per step, ${rounds} steps in a row: ` +
      `${round(s.tx, 1)} transactions/s vs ${round(s.base, 1)} baseline steps/s (ratio ${round(s.tx / s.base, 2)})`,
  );
  const m = main!;
  const l = large!;
  console.log(
    `wrote ${writeResults('transactions', {
      records,
      partitions,
      txS3Puts: m.tx.s3Puts,
      txDynamoRequests: m.tx.dynamoRequests,
      txItemsWritten: m.tx.itemsWritten,
      txWcu: m.tx.wcu,
      txRcu: m.tx.rcu,
      baselineS3Puts: m.base.s3Puts,
      baselineDynamoRequests: m.base.dynamoRequests,
      baselineItemsWritten: m.base.itemsWritten,
      baselineWcu: m.base.wcu,
      baselineRcu: m.base.rcu,
      wcuRatio: round(m.tx.wcu / m.base.wcu, 2),
      txPerSecondPerPartition: round(s.tx, 1),
      baselineStepsPerSecond: round(s.base, 1),
      speedRatio: round(s.tx / s.base, 2),
      largeCommitPartitions: LARGE,
      largeTxDynamoRequests: l.tx.dynamoRequests,
      largeTxTransactWrites: l.tx.transactWrites,
      largeTxItemsWritten: l.tx.itemsWritten,
      largeTxWcu: l.tx.wcu,
      largeBaselineDynamoRequests: l.base.dynamoRequests,
      largeBaselineWcu: l.base.wcu,
      largeWcuRatio: round(l.tx.wcu / l.base.wcu, 2),
    })}`,
  );
}
