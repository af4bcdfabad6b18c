/**
 * Running maintenance: one task (what an SQS message carries in AWS), or a whole pass
 * in-process (plan, then every task) as `sluice dev`'s timer and `sluice maintenance run`
 * do. Passes are safe to run anywhere at once: partition work is leased and fenced,
 * reference counting and GC are conditional writes.
 */
import { reclaimDeletedTopic } from './deleted-topics.js';
import type { MaintenanceDeps, MaintenanceOptions } from './options.js';
import { collectOrphans } from './orphans.js';
import { maintainPartition } from './partition.js';
import { type MaintenanceTask, type PlanOptions, planMaintenance } from './plan.js';
import { addReport, emptyReport, type MaintenanceReport } from './report.js';
import { abortAbandonedTransactions } from './transactions.js';

/** A short name for logs and error lists. */
export function describeTask(task: MaintenanceTask): string {
  switch (task.kind) {
    case 'partition':
      return `partition ${task.topic}/${task.partition}`;
    case 'deleted-topic':
      return `deleted topic ${task.topicId}`;
    case 'transactions':
      return 'abandoned transactions';
    case 'orphans':
      return 'orphan GC';
  }
}

/**
 * Runs one task. Errors propagate (the SQS consumer reports the message as failed, so it
 * is retried).
 *
 * @example
 * const report = await runTask(deps, options, { kind: 'orphans', graceMs: 3_600_000 });
 */
export async function runTask(
  deps: MaintenanceDeps,
  options: MaintenanceOptions,
  task: MaintenanceTask,
): Promise<MaintenanceReport> {
  switch (task.kind) {
    case 'partition':
      return maintainPartition(deps, options, task);
    case 'deleted-topic':
      return reclaimDeletedTopic(deps, options, task);
    case 'transactions':
      return abortAbandonedTransactions(deps);
    case 'orphans':
      return collectOrphans(deps, task.graceMs ?? options.orphanGraceMs);
  }
}

export interface PassOptions extends PlanOptions {
  /** Tasks run at once. @default 4 */
  concurrency?: number;
}

/**
 * Plans and runs a whole pass in this process. A failing task is recorded in the
 * report's `errors` and does not stop the others.
 *
 * @example
 * const { report } = await runMaintenancePass(deps, resolveMaintenanceOptions({ orphanGraceMs: 60_000 }));
 * console.log(formatReport(report));
 */
export async function runMaintenancePass(
  deps: MaintenanceDeps,
  options: MaintenanceOptions,
  pass: PassOptions = {},
): Promise<{ tasks: MaintenanceTask[]; report: MaintenanceReport }> {
  const tasks = await planMaintenance(deps, options, pass);
  const report = emptyReport();
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const task = tasks[next++]!;
      try {
        addReport(report, await runTask(deps, options, task));
      } catch (err) {
        report.errors.push({ task: describeTask(task), message: (err as Error).message });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, pass.concurrency ?? 4) }, worker));
  return { tasks, report };
}
