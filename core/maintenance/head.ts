/**
 * Changing a partition head from maintenance: compare-and-set on the head's version, like
 * every append, plus the lease fence. Only `start` and `size` are set (an `update`, not a
 * `put`), so the high watermark and the producer state stay as appends left them. An
 * append racing with it loses the CAS and retries from the head its conflict error
 * carries; so does this.
 */
import { backoffDelay } from '../cas.js';
import { UnavailableError } from '../errors.js';
import { type Head, headFromItem } from '../heads.js';
import { keys } from '../keys.js';
import { ConflictError, type Item } from '../ports.js';
import type { PartitionLease } from './lease.js';
import type { MaintenanceDeps } from './options.js';

const MAX_ATTEMPTS = 50;

/**
 * Applies `change` to the current head until it sticks. `change` returns the new
 * `start`/`size`, or `undefined` for no change; it may run several times.
 *
 * @returns the head as written (or as found, when no change was wanted).
 */
export async function updateHead(
  deps: MaintenanceDeps,
  lease: PartitionLease,
  topicId: string,
  partition: number,
  change: (head: Head) => { start: number; size: number } | undefined,
): Promise<Head> {
  const key = keys.head(topicId, partition);
  let item: Item | undefined = await deps.meta.get(key);
  let last: unknown;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const head = headFromItem(item);
    if (head.version === 0) return head;
    const next = change(head);
    if (!next || (next.start === head.data.start && next.size === head.data.size)) return head;
    try {
      await lease.transact([
        {
          type: 'update',
          key,
          set: { start: next.start, size: next.size },
          condition: { version: head.version },
        },
      ]);
      return { version: head.version + 1, data: { ...head.data, ...next } };
    } catch (err) {
      if (!(err instanceof ConflictError) || !err.failed(key)) throw err;
      last = err;
      item = err.currentOf(key);
    }
    await deps.clock.sleep(backoffDelay(attempt, deps.random, 2, 100));
  }
  throw new UnavailableError(`could not update the head of ${topicId}/${partition}: appends kept winning`, {
    cause: last,
  });
}
