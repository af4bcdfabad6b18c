/**
 * Reclaiming a deleted topic. Deletion only removed the catalog entry and listed the
 * topic id under `deleted-topics`; its partitions' items and objects remain. Once
 * `deletedTopicGraceMs` has passed (appenders and readers with a cached topic have given
 * up), each partition is emptied under its lease: index entries with their object
 * references, 48 per transaction; then the head, the progress item and — last, as the
 * fence of that final transaction — the lease. Objects nothing references any more are
 * deleted; when every partition is done, so is the `deleted-topics` item. A partition
 * whose lease is busy is retried by the next pass.
 */
import { keys } from '../keys.js';
import { ConflictError, type TransactOp } from '../ports.js';
import { scanEntries } from './entries.js';
import { LeaseLostError, PartitionLease } from './lease.js';
import type { MaintenanceDeps, MaintenanceOptions } from './options.js';
import { commitReleasing, deleteUnreferenced, releaseOps } from './refs.js';
import { emptyReport, type MaintenanceReport } from './report.js';
import { ENTRIES_PER_SWAP } from './rewrite.js';

export interface DeletedTopicTask {
  kind: 'deleted-topic';
  topicId: string;
}

/**
 * Reclaims what is left of a deleted topic.
 *
 * @example
 * await reclaimDeletedTopic(deps, resolveMaintenanceOptions(), { kind: 'deleted-topic', topicId });
 */
export async function reclaimDeletedTopic(
  deps: MaintenanceDeps,
  options: MaintenanceOptions,
  task: DeletedTopicTask,
): Promise<MaintenanceReport> {
  const report = emptyReport();
  const item = await deps.meta.get(keys.deletedTopic(task.topicId));
  if (!item) return report;
  const deletedAt = Number(item.data.deletedAt ?? 0);
  if (deps.clock.now() < deletedAt + options.deletedTopicGraceMs) return report;
  const partitions = Number(item.data.partitions ?? 0);
  let complete = true;
  for (let partition = 0; partition < partitions; partition++) {
    const lease = await PartitionLease.acquire(deps, task.topicId, partition, options.leaseTtlMs);
    if (!lease) {
      report.leasesBusy++;
      complete = false;
      continue;
    }
    try {
      const touched = new Set<string>();
      let chunk: TransactOp[] = [];
      let objects: string[] = [];
      const flush = async () => {
        if (chunk.length === 0) return;
        await commitReleasing((ops) => lease.transact(ops), [...chunk, ...releaseOps(objects)]);
        for (const o of objects) touched.add(o);
        chunk = [];
        objects = [];
      };
      for await (const e of scanEntries(deps.meta, task.topicId, partition, {}, ENTRIES_PER_SWAP)) {
        chunk.push({ type: 'delete', key: e.key, condition: { version: e.version } });
        objects.push(e.entry.o);
        report.bytesReclaimed += e.entry.len;
        if (chunk.length === ENTRIES_PER_SWAP) await flush();
      }
      await flush();
      await lease.transactAndDelete([
        { type: 'delete', key: keys.head(task.topicId, partition) },
        { type: 'delete', key: keys.maintenance(task.topicId, partition) },
      ]);
      report.objectsDeleted += (await deleteUnreferenced(deps, touched)).length;
      report.partitions++;
    } catch (err) {
      await lease.release();
      if (!(err instanceof LeaseLostError)) throw err;
      report.leasesBusy++;
      complete = false;
    }
  }
  if (complete) {
    try {
      await deps.meta.transact([
        { type: 'delete', key: keys.deletedTopic(task.topicId), condition: { version: item.version } },
      ]);
      report.topicsReclaimed = 1;
    } catch (err) {
      // Another worker finished first: it counts the topic.
      if (!(err instanceof ConflictError)) throw err;
    }
  }
  return report;
}
