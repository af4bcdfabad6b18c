/**
 * Orphan GC. An append PUTs its object before it commits; a crash in between (or a
 * commit that kept failing) leaves an object no registry item counts. So does a crash
 * of maintenance between writing a rewritten object and its first swap, or between
 * deleting a registry item and its object. This lists `data/` page by page, reads the
 * registry items of the objects older than the grace period (batched), and deletes
 *
 *   - objects without a registry item: never committed;
 *   - objects whose registry item counts no reference (`refs` ≤ 0): their registry item
 *     first (conditioned on its version), then the object.
 *
 * An object with references is never touched. The grace period (default 1 h, far above
 * an append's 20 s commit deadline) keeps GC away from appends still committing.
 *
 * Cost per pass: one LIST per 1000 objects, one batchGet per 100 objects past the grace
 * period, one DeleteObjects per page with orphans.
 */
import { keys, objectKeys } from '../keys.js';
import { ConflictError } from '../ports.js';
import type { MaintenanceDeps } from './options.js';
import { emptyReport, type MaintenanceReport } from './report.js';

export interface OrphansTask {
  kind: 'orphans';
  /** Overrides the configured grace period (ms). */
  graceMs?: number;
}

const LIST_PAGE = 1000;
const BATCH_GET = 100;

/**
 * Deletes unreferenced objects older than `graceMs`.
 *
 * @example
 * const report = await collectOrphans(deps, 3_600_000);
 * console.log(report.orphansDeleted, report.bytesReclaimed);
 */
export async function collectOrphans(deps: MaintenanceDeps, graceMs: number): Promise<MaintenanceReport> {
  const report = emptyReport();
  const startedAt = deps.clock.now();
  const cutoff = startedAt - graceMs;
  let after: string | undefined;
  do {
    const page = await deps.objects.list(objectKeys.dataPrefix, { after, limit: LIST_PAGE });
    const old = page.objects.filter((o) => o.lastModified <= cutoff);
    const doomed: typeof old = [];
    for (let i = 0; i < old.length; i += BATCH_GET) {
      const chunk = old.slice(i, i + BATCH_GET);
      const items = await deps.meta.batchGet(chunk.map((o) => keys.objectRef(o.key)));
      for (const [j, item] of items.entries()) {
        const object = chunk[j]!;
        if (!item) {
          doomed.push(object);
          continue;
        }
        if (Number(item.data.refs ?? 0) > 0) continue;
        try {
          await deps.meta.transact([
            { type: 'delete', key: keys.objectRef(object.key), condition: { version: item.version } },
          ]);
          doomed.push(object);
        } catch (err) {
          if (!(err instanceof ConflictError)) throw err;
        }
      }
    }
    if (doomed.length > 0) {
      await deps.objects.delete(doomed.map((o) => o.key));
      report.orphansDeleted += doomed.length;
      report.bytesReclaimed += doomed.reduce((s, o) => s + o.size, 0);
    }
    after = page.next;
  } while (after);
  await deps.meta.transact([{ type: 'put', key: keys.orphanGc, data: { at: startedAt } }]);
  return report;
}
