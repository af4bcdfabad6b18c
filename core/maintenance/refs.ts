/**
 * Object reference counting. The registry item `o#<object>` counts the index entries
 * (partition runs) that point into the object. An entry is removed in the same
 * transaction that decrements its object's count, so the count never undercounts; once
 * it reaches zero nothing can point at the object again, and the object is deleted —
 * registry item first, then the object: a crash in between leaves an unregistered object,
 * which orphan GC reclaims after its grace period.
 */
import { keys } from '../keys.js';
import { ConflictError, type MetaStore, type ObjectStore, type TransactOp } from '../ports.js';

/** Keys per batchGet (DynamoDB's BatchGetItem limit). */
const BATCH_GET = 100;
const PARALLEL_DELETES = 16;

/** One `refs -= n` op per object referenced by `objects` (one element per released entry). */
export function releaseOps(objects: readonly string[]): TransactOp[] {
  const counts = new Map<string, number>();
  for (const o of objects) counts.set(o, (counts.get(o) ?? 0) + 1);
  return [...counts].map(([o, n]) => ({ type: 'update', key: keys.objectRef(o), add: { refs: -n } }));
}

/**
 * Commits `ops` (through `commit`, which adds the lease fence); when the only failures
 * are registry items that no longer exist — reclaimed by someone already — commits again
 * without the ops on them rather than failing forever.
 */
export async function commitReleasing(
  commit: (ops: readonly TransactOp[]) => Promise<void>,
  ops: readonly TransactOp[],
): Promise<void> {
  let pending = [...ops];
  for (let attempt = 0; ; attempt++) {
    try {
      await commit(pending);
      return;
    } catch (err) {
      if (!(err instanceof ConflictError) || attempt >= 2) throw err;
      const gone = err.failures.filter((f) => f.key.pk.startsWith('o#') && f.current === undefined);
      if (gone.length === 0 || gone.length !== err.failures.length) throw err;
      const drop = new Set(gone.map((f) => f.key.pk));
      pending = pending.filter((op) => !(op.type === 'update' && drop.has(op.key.pk)));
    }
  }
}

/**
 * Deletes the objects among `candidates` that nothing references any more (registry
 * `refs` ≤ 0): each registry item by a conditional delete, then the objects in one call.
 * Objects without a registry item are left to orphan GC, which honours the grace period.
 *
 * @returns the keys deleted.
 */
export async function deleteUnreferenced(
  stores: { meta: MetaStore; objects: ObjectStore },
  candidates: Iterable<string>,
): Promise<string[]> {
  const unique = [...new Set(candidates)];
  const deleted: string[] = [];
  for (let i = 0; i < unique.length; i += BATCH_GET) {
    const chunk = unique.slice(i, i + BATCH_GET);
    const items = await stores.meta.batchGet(chunk.map((o) => keys.objectRef(o)));
    const doomed = chunk
      .map((object, j) => ({ object, item: items[j] }))
      .filter(({ item }) => item !== undefined && Number(item.data.refs ?? 0) <= 0);
    // One conditional delete each (a single write is cheaper than a transaction), some at once.
    for (let k = 0; k < doomed.length; k += PARALLEL_DELETES) {
      await Promise.all(
        doomed.slice(k, k + PARALLEL_DELETES).map(async ({ object, item }) => {
          try {
            await stores.meta.transact([
              { type: 'delete', key: keys.objectRef(object), condition: { version: item!.version } },
            ]);
            deleted.push(object);
          } catch (err) {
            // Another worker released the same shared object and won the delete: it deletes it.
            if (!(err instanceof ConflictError)) throw err;
          }
        }),
      );
    }
  }
  if (deleted.length > 0) await stores.objects.delete(deleted);
  return deleted;
}
