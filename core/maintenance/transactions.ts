/**
 * The transactions task: aborts transactions left open past their timeout (their producer
 * died), so they hold nothing and their staged objects become orphans that orphan GC
 * deletes (DESIGN.md "Transactions"). The planner schedules it in every pass that finds a
 * transactional id in the catalog.
 */
import { abortExpiredTransactions } from '../transactions/expire.js';
import type { MaintenanceDeps } from './options.js';
import { emptyReport, type MaintenanceReport } from './report.js';

export interface TransactionsTask {
  kind: 'transactions';
}

/**
 * Aborts every expired transaction.
 *
 * @example
 * const { transactionsAborted } = await abortAbandonedTransactions(deps);
 */
export async function abortAbandonedTransactions(deps: MaintenanceDeps): Promise<MaintenanceReport> {
  const report = emptyReport();
  report.transactionsAborted = await abortExpiredTransactions(deps);
  return report;
}
