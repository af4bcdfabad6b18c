/**
 * One partition's maintenance, under its lease: retention (delete policy), removal of
 * index entries below the log start, cleaning (compact policy), small-object compaction,
 * then the progress checkpoint. Every write is fenced by the lease, so two workers given
 * the same partition never both act on it.
 */
import { headFromItem } from '../heads.js';
import { keys } from '../keys.js';
import { DEFAULT_TOPIC_CONFIG, type TopicConfig } from '../topics.js';
import { cleanCompacted } from './compacted.js';
import { LeaseLostError, PartitionLease } from './lease.js';
import type { MaintenanceDeps, MaintenanceOptions } from './options.js';
import { emptyReport, type MaintenanceReport } from './report.js';
import { applyRetention, dropBelowStart } from './retention.js';
import type { RewriteTarget } from './rewrite.js';
import { compactSmallObjects } from './small-objects.js';
import { earliest, stateFromItem, stateToData } from './state.js';

/** A partition to maintain; the topic id guards against a topic deleted and re-created since planning. */
export interface PartitionTask {
  kind: 'partition';
  topic: string;
  topicId: string;
  partition: number;
}

/**
 * Maintains one partition if its lease is free.
 *
 * @example
 * const report = await maintainPartition(deps, resolveMaintenanceOptions(), {
 *   kind: 'partition', topic: 'orders', topicId: meta.id, partition: 0,
 * });
 */
export async function maintainPartition(
  deps: MaintenanceDeps,
  options: MaintenanceOptions,
  task: PartitionTask,
): Promise<MaintenanceReport> {
  const report = emptyReport();
  const topicItem = await deps.meta.get(keys.topic(task.topic));
  if (!topicItem || topicItem.data.id !== task.topicId) return report; // deleted: reclaimed as such
  const config: TopicConfig = {
    ...DEFAULT_TOPIC_CONFIG,
    ...(topicItem.data.config as Partial<TopicConfig> | undefined),
  };
  const lease = await PartitionLease.acquire(deps, task.topicId, task.partition, options.leaseTtlMs);
  if (!lease) {
    report.leasesBusy = 1;
    return report;
  }
  try {
    const target: RewriteTarget = {
      deps,
      lease,
      topic: task.topic,
      topicId: task.topicId,
      partition: task.partition,
    };
    const [headItem, stateItem] = await deps.meta.batchGet([
      keys.head(task.topicId, task.partition),
      keys.maintenance(task.topicId, task.partition),
    ]);
    let head = headFromItem(headItem);
    report.partitions = 1;
    if (head.version === 0) return report; // never written to
    const state = stateFromItem(stateItem);
    const seen = head.data.next;
    let due = -1;

    if (config['cleanup.policy'] === 'delete') {
      const r = await applyRetention(target, config, head);
      head = r.head;
      due = r.due;
      report.recordsExpired += r.recordsExpired;
      report.bytesExpired += r.bytesExpired;
      report.bytesReclaimed += r.bytesExpired;
    }
    const dropped = await dropBelowStart(target, head.data.start);
    report.objectsDeleted += dropped.objectsDeleted;

    if (config['cleanup.policy'] === 'compact') {
      const c = await cleanCompacted(target, options, config, head, state.cleanTo);
      state.cleanTo = c.cleanTo;
      report.recordsCleaned += c.recordsCleaned;
      report.bytesReclaimed += c.bytesCleaned;
      report.objectsWritten += c.objectsWritten;
      report.bytesWritten += c.bytesWritten;
      report.objectsDeleted += c.objectsDeleted;
    }

    const s = await compactSmallObjects(
      target,
      options,
      Math.max(state.scanFrom, head.data.start),
      head.data.next,
    );
    report.entriesCompacted += s.entriesCompacted;
    report.objectsWritten += s.objectsWritten;
    report.bytesWritten += s.bytesWritten;
    report.objectsDeleted += s.objectsDeleted;

    await lease.transact([
      {
        type: 'put',
        key: keys.maintenance(task.topicId, task.partition),
        data: stateToData({ seen, scanFrom: s.scanFrom, cleanTo: state.cleanTo, due: earliest(due, s.due) }),
      },
    ]);
    return report;
  } catch (err) {
    if (!(err instanceof LeaseLostError)) throw err;
    report.leasesBusy = 1;
    report.partitions = 0;
    return report;
  } finally {
    await lease.release();
  }
}
