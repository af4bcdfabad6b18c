/**
 * What maintenance costs and buys, counted with the metered decorators (virtual clock):
 *
 *   - small-object compaction of a partition written by many small multi-partition
 *     requests: requests and time of the pass, GETs to read the partition back before
 *     and after;
 *   - retention expiring those entries: requests per entry expired;
 *   - the planner over idle partitions: reads per partition per pass;
 *   - orphan GC: requests per 1000 objects listed.
 *
 * Writes bench/results/maintenance.json.
 *
 *   npm run bench -- maintenance [--mib=64] [--entry-kib=128] [--partitions=1000] [--store=memory|local]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Appender } from '../core/append.js';
import { ManualClock, seededRandom } from '../core/clock.js';
import { Reader } from '../core/fetch.js';
import {
  type MaintenanceDeps,
  planMaintenance,
  resolveMaintenanceOptions,
  runMaintenancePass,
} from '../core/maintenance/index.js';
import type { MetaStore, ObjectStore } from '../core/ports.js';
import { encodeBatch, verifyBatch } from '../core/records/index.js';
import { Topics } from '../core/topics.js';
import { MemoryMetaStore, MemoryObjectStore } from '../storage/memory.js';
import { Meter, MeteredMetaStore, MeteredObjectStore, type StorageCounts } from '../storage/metered.js';
import { numberArg, printTable, round, writeResults } from './lib.js';

const MiB = 1024 * 1024;

async function baseStores(kind: string, clock: ManualClock) {
  if (kind === 'memory') {
    return {
      meta: new MemoryMetaStore() as MetaStore,
      objects: new MemoryObjectStore({ now: () => clock.now() }) as ObjectStore,
      close: async () => {},
    };
  }
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-'));
  const { FsObjectStore } = await import('../storage/fs.js');
  const { SqliteMetaStore } = await import('../storage/sqlite.js');
  const meta = new SqliteMetaStore(join(dir, 'meta.sqlite'));
  return {
    meta: meta as MetaStore,
    objects: new FsObjectStore(join(dir, 'objects')) as ObjectStore,
    close: async () => {
      meta.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

function describe(c: StorageCounts): string {
  return `${c.s3.get} GET, ${c.s3.put} PUT, ${c.s3.delete} DELETE, ${c.s3.list} LIST, ${c.dynamo.transact} tx (${c.dynamo.wcu} WCU), ${c.dynamo.query + c.dynamo.get + c.dynamo.batchGet} reads (${c.dynamo.rcu} RCU)`;
}

export async function run(args: string[]): Promise<void> {
  const mib = numberArg(args, 'mib', 64);
  const entryKib = numberArg(args, 'entry-kib', 128);
  const idlePartitions = numberArg(args, 'partitions', 1000);
  const kind = args.find((a) => a.startsWith('--store='))?.slice(8) ?? 'memory';
  const clock = new ManualClock(Date.now(), { autoAdvance: true });
  const random = seededRandom(1);
  const meter = new Meter();
  const base = await baseStores(kind, clock);
  const meta = new MeteredMetaStore(base.meta, meter);
  const objects = new MeteredObjectStore(base.objects, meter);
  const topics = new Topics(meta, { clock, random });
  const appender = new Appender({ meta, objects, topics, clock, random });
  const deps: MaintenanceDeps = { meta, objects, clock, random, owner: 'bench' };
  const options = resolveMaintenanceOptions();
  const rows: (string | number)[][] = [['measure', 'value']];
  const metrics: Record<string, number> = {};

  try {
    // 1. A partition of `mib` MiB written as `entryKib` KiB runs, each request also carrying
    //    a record for a second partition (multi-partition objects).
    await topics.create('bench', 2, { 'retention.ms': 3_600_000 });
    const value = new Uint8Array(entryKib * 1024 - 200).fill(120);
    const requests = Math.ceil((mib * MiB) / (entryKib * 1024));
    for (let i = 0; i < requests; i++) {
      await appender.append([
        {
          topic: 'bench',
          partition: 0,
          batches: [verifyBatch(encodeBatch([{ value }], { now: clock.now() }))],
        },
        {
          topic: 'bench',
          partition: 1,
          batches: [verifyBatch(encodeBatch([{ value: new Uint8Array(10) }], { now: clock.now() }))],
        },
      ]);
    }
    const readAll = async () => {
      const reader = new Reader({ meta, objects, topics, clock });
      meter.reset();
      let offset = 0;
      for (;;) {
        const r = await reader.fetchBatches('bench', 0, offset, { maxBytes: 4 * MiB });
        if (r.batches.length === 0) break;
        const last = r.batches[r.batches.length - 1]!.header;
        offset = last.baseOffset + last.lastOffsetDelta + 1;
        if (offset >= r.highWatermark) break;
      }
      return meter.snapshot().s3.get;
    };
    const getsBefore = await readAll();

    meter.reset();
    const started = performance.now();
    const { report } = await runMaintenancePass(deps, options);
    const ms = performance.now() - started;
    const pass = meter.snapshot();
    const getsAfterFirst = await readAll();
    // The open run at the tail (too small, too young) is rewritten once it is old enough.
    clock.advance(options.maxCompactionDelayMs);
    meter.reset();
    const second = await runMaintenancePass(deps, options);
    const tail = meter.snapshot();
    const getsAfter = await readAll();
    rows.push(
      ['store', kind],
      ['partition written', `${mib} MiB in ${requests} requests of ${entryKib} KiB`],
      [`GETs to read it, before compaction`, getsBefore],
      ['GETs to read it, after the first pass', getsAfterFirst],
      [`GETs to read it, once the tail run aged (${options.maxCompactionDelayMs} ms)`, getsAfter],
      ['compaction pass', `${round(ms)} ms, ${round((report.bytesWritten / MiB / ms) * 1000)} MiB/s`],
      ['compaction pass requests', describe(pass)],
      ['objects written / deleted', `${report.objectsWritten} / ${report.objectsDeleted}`],
      [
        'second pass (tail runs of both partitions)',
        `${second.report.objectsWritten} written, ${second.report.objectsDeleted} deleted; ${describe(tail)}`,
      ],
    );
    Object.assign(metrics, {
      getsBefore,
      getsAfterFirst,
      getsAfter,
      compactionMs: round(ms),
      compactionMiBps: round((report.bytesWritten / MiB / ms) * 1000),
      compactionGets: pass.s3.get,
      compactionPuts: pass.s3.put,
      compactionTransactions: pass.dynamo.transact,
      compactionWcu: pass.dynamo.wcu,
    });

    // 2. Retention expiring everything (both partitions).
    clock.advance(3_600_001);
    meter.reset();
    const expired = await runMaintenancePass(deps, options);
    const ret = meter.snapshot();
    rows.push(
      [
        'retention pass',
        `${expired.report.recordsExpired} records, ${expired.report.objectsDeleted} objects deleted`,
      ],
      ['retention pass requests', describe(ret)],
    );
    metrics.retentionTransactions = ret.dynamo.transact;
    metrics.retentionWcu = ret.dynamo.wcu;

    // 3. The planner over idle partitions.
    await topics.create('idle', idlePartitions, { 'retention.ms': -1 });
    const one = new Uint8Array(10);
    for (let p = 0; p < idlePartitions; p += 49) {
      const runs = [];
      for (let q = p; q < Math.min(idlePartitions, p + 49); q++) {
        runs.push({
          topic: 'idle',
          partition: q,
          batches: [verifyBatch(encodeBatch([{ value: one }], { now: 0 }))],
        });
      }
      await appender.append(runs);
    }
    await runMaintenancePass(deps, options); // first visit of every partition
    meter.reset();
    const tasks = await planMaintenance(deps, options);
    const plan = meter.snapshot();
    rows.push(
      [`planner, ${idlePartitions} idle partitions`, `${tasks.length} tasks; ${describe(plan)}`],
      ['planner RCU per idle partition', round(plan.dynamo.rcu / idlePartitions, 3)],
    );
    metrics.plannerRcuPerIdlePartition = round(plan.dynamo.rcu / idlePartitions, 3);

    // 4. Orphan GC over what is stored now.
    const listed = (await objects.list('data/', { limit: 1000 })).objects.length;
    meter.reset();
    await runMaintenancePass(deps, resolveMaintenanceOptions({ orphanGcIntervalMs: 0 }));
    const gc = meter.snapshot();
    rows.push([`orphan GC over ${listed} objects (+ a pass)`, describe(gc)]);
  } finally {
    await base.close();
  }
  printTable(rows);
  console.log(`\nresults: ${writeResults('maintenance', metrics)}`);
}
