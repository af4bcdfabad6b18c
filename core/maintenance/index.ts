/**
 * Maintenance (DESIGN.md §7): retention, small-object compaction, compacted topics,
 * deleted-topic reclamation, orphan GC — planned as tasks, each partition's work under
 * its fenced lease.
 */
export { type CleanResult, cleanCompacted } from './compacted.js';
export { type DeletedTopicTask, reclaimDeletedTopic } from './deleted-topics.js';
export { type IndexedEntry, scanEntries } from './entries.js';
export { LeaseLostError, PartitionLease } from './lease.js';
export {
  DEFAULT_MAINTENANCE_OPTIONS,
  type MaintenanceDeps,
  type MaintenanceOptions,
  resolveMaintenanceOptions,
} from './options.js';
export { collectOrphans, type OrphansTask } from './orphans.js';
export { maintainPartition, type PartitionTask } from './partition.js';
export { type MaintenanceTask, type PlanOptions, partitionNeedsWork, planMaintenance } from './plan.js';
export { recordSpans, retainRecords } from './rebatch.js';
export { addReport, emptyReport, formatReport, type MaintenanceReport } from './report.js';
export { applyRetention, dropBelowStart, entryTime } from './retention.js';
export { ENTRIES_PER_SWAP, MAX_REWRITE_ENTRIES, rewriteEntries } from './rewrite.js';
export { describeTask, type PassOptions, runMaintenancePass, runTask } from './run.js';
export { compactSmallObjects } from './small-objects.js';
export { type MaintenanceState, stateFromItem } from './state.js';
export { abortAbandonedTransactions, type TransactionsTask } from './transactions.js';
