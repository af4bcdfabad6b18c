/**
 * The compare-and-set loop over a group item. Like {@link casUpdate} (same backoff, same
 * "retry from the state the conflict carries" rule), but a step may add other operations to
 * the same transaction — committed offsets, the catalog entry — and may only *check* the
 * group item's version instead of writing it, which is how an offset commit stays atomic
 * with the ownership it verified without rewriting the group.
 */
import { backoffDelay } from '../cas.js';
import type { Clock, Random } from '../clock.js';
import { UnavailableError } from '../errors.js';
import { keys } from '../keys.js';
import { type Condition, ConflictError, type Item, type MetaStore, type TransactOp } from '../ports.js';
import { decodeGroup, encodeGroup, type GroupState } from './model.js';

export interface StoreDeps {
  meta: MetaStore;
  clock: Clock;
  random: Random;
  maxAttempts: number;
}

export interface GroupRead {
  /** The group item as read (undefined: the group does not exist). */
  item: Item | undefined;
  state: GroupState | undefined;
}

/**
 * What a step does to the group item: write a new state (creating the group and its catalog
 * entry if it does not exist), delete it (with its catalog entry), or only require that it
 * is still at the version read.
 */
export type GroupWrite = { put: GroupState } | { delete: true } | { check: true };

export interface GroupStep<R> {
  result: R;
  group?: GroupWrite;
  /** More operations for the same transaction (at most one per key, none on the group item). */
  ops?: readonly TransactOp[];
}

/** Reads a group item and decodes it. */
export async function readGroup(meta: MetaStore, group: string): Promise<GroupRead> {
  return decodeRead(await meta.get(keys.group(group)));
}

function decodeRead(item: Item | undefined): GroupRead {
  return { item, state: item ? decodeGroup(item.data) : undefined };
}

function groupOps(group: string, item: Item | undefined, write: GroupWrite): TransactOp[] {
  const key = keys.group(group);
  const condition: Condition = item ? { version: item.version } : { absent: true };
  if ('put' in write) {
    const ops: TransactOp[] = [{ type: 'put', key, data: encodeGroup(write.put), condition }];
    if (!item) ops.push({ type: 'put', key: keys.groupCatalog(group), data: {} });
    return ops;
  }
  if ('delete' in write) {
    if (!item) return [];
    return [
      { type: 'delete', key, condition },
      { type: 'delete', key: keys.groupCatalog(group) },
    ];
  }
  return [{ type: 'check', key, condition }];
}

/**
 * Runs `step` on the current group item and commits what it asks for in one transaction;
 * on a lost race runs it again on the state the conflict carries. `step` may run several
 * times and must have no side effects besides reads; its errors propagate untouched.
 *
 * @throws {@link UnavailableError} (retriable) after `maxAttempts` lost races in a row.
 *
 * @example
 * const epoch = await updateGroup(deps, 'billing', ({ state }) => ({
 *   result: state?.epoch ?? 0,
 *   group: { check: true },
 * }));
 */
export async function updateGroup<R>(
  deps: StoreDeps,
  group: string,
  step: (read: GroupRead) => GroupStep<R> | Promise<GroupStep<R>>,
): Promise<R> {
  const key = keys.group(group);
  let read = await readGroup(deps.meta, group);
  let lastConflict: ConflictError | undefined;
  for (let attempt = 0; attempt < deps.maxAttempts; attempt++) {
    const planned = await step(read);
    const ops = [...(planned.group ? groupOps(group, read.item, planned.group) : []), ...(planned.ops ?? [])];
    if (ops.length === 0) return planned.result;
    try {
      await deps.meta.transact(ops);
      return planned.result;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      lastConflict = error;
      if (error.failed(key)) read = decodeRead(error.currentOf(key));
    }
    // The conflict carried the winner's state: the first retry needs no pause.
    if (attempt > 0) await deps.clock.sleep(backoffDelay(attempt - 1, deps.random));
  }
  throw new UnavailableError(
    `group ${group}: lost ${deps.maxAttempts} compare-and-set races in a row; retry`,
    {
      cause: lastConflict,
    },
  );
}
