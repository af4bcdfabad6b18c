/**
 * What a maintenance pass did, summed over its tasks; `sluice maintenance run` prints it
 * and the Lambda logs it.
 */

export interface MaintenanceReport {
  /** Partitions whose maintenance ran (lease taken). */
  partitions: number;
  /** Partitions skipped because another worker holds (or took) their lease. */
  leasesBusy: number;
  /** Records below the new log start offsets (retention). */
  recordsExpired: number;
  /** Batch bytes retention removed from partitions. */
  bytesExpired: number;
  /** Small index entries rewritten into large objects. */
  entriesCompacted: number;
  /** Records dropped by compacted topics: superseded values and expired tombstones. */
  recordsCleaned: number;
  /** Objects written by compaction. */
  objectsWritten: number;
  /** Bytes of the objects compaction wrote. */
  bytesWritten: number;
  /** Objects deleted because nothing references them any more (retention, compaction, deleted topics). */
  objectsDeleted: number;
  /** Objects deleted by orphan GC (written but never committed, past the grace period). */
  orphansDeleted: number;
  /**
   * Bytes given back: batch bytes removed from partitions (retention, compacted topics,
   * deleted topics) plus the size of deleted orphans.
   */
  bytesReclaimed: number;
  /** Deleted topics fully reclaimed. */
  topicsReclaimed: number;
  /** Transactions aborted because they stayed open past their timeout (abandoned). */
  transactionsAborted: number;
  /** Tasks that failed, with why (the task is retried by the next pass). */
  errors: { task: string; message: string }[];
}

export function emptyReport(): MaintenanceReport {
  return {
    partitions: 0,
    leasesBusy: 0,
    recordsExpired: 0,
    bytesExpired: 0,
    entriesCompacted: 0,
    recordsCleaned: 0,
    objectsWritten: 0,
    bytesWritten: 0,
    objectsDeleted: 0,
    orphansDeleted: 0,
    bytesReclaimed: 0,
    topicsReclaimed: 0,
    transactionsAborted: 0,
    errors: [],
  };
}

/** Adds `b` into `a` and returns `a`. */
export function addReport(a: MaintenanceReport, b: MaintenanceReport): MaintenanceReport {
  for (const key of Object.keys(a) as (keyof MaintenanceReport)[]) {
    if (key === 'errors') a.errors.push(...b.errors);
    else a[key] += b[key];
  }
  return a;
}

/** One line for humans: only what happened. */
export function formatReport(r: MaintenanceReport): string {
  const parts = [
    `${r.partitions} partition${r.partitions === 1 ? '' : 's'} maintained`,
    r.leasesBusy > 0 && `${r.leasesBusy} busy elsewhere`,
    r.recordsExpired > 0 && `${r.recordsExpired} records expired (${bytes(r.bytesExpired)})`,
    r.entriesCompacted > 0 && `${r.entriesCompacted} small entries compacted`,
    r.recordsCleaned > 0 && `${r.recordsCleaned} records cleaned`,
    r.objectsWritten > 0 && `${r.objectsWritten} objects written (${bytes(r.bytesWritten)})`,
    r.objectsDeleted > 0 && `${r.objectsDeleted} objects deleted`,
    r.orphansDeleted > 0 && `${r.orphansDeleted} orphans deleted`,
    r.topicsReclaimed > 0 && `${r.topicsReclaimed} deleted topics reclaimed`,
    r.transactionsAborted > 0 && `${r.transactionsAborted} abandoned transactions aborted`,
    `${bytes(r.bytesReclaimed)} reclaimed`,
    r.errors.length > 0 && `${r.errors.length} task${r.errors.length === 1 ? '' : 's'} failed`,
  ];
  return parts.filter(Boolean).join(', ');
}

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}
