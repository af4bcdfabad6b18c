/**
 * The semantics of `MetaStore.transact` over a snapshot, for the adapters that are not
 * DynamoDB (memory, SQLite): evaluate every condition against the current items, then
 * compute the new items. Nothing is written here; the caller applies the plan atomically.
 */
import { InvalidRequestError } from '../core/errors.js';
import { ConflictError, type Item, type ItemData, type ItemKey, type TransactOp } from '../core/ports.js';
import { checkItemSize } from './limits.js';

/** One write of a plan: the new item, or `undefined` to delete it. */
export interface PlannedWrite {
  key: ItemKey;
  item: Item | undefined;
}

function conditionHolds(op: TransactOp, current: Item | undefined): boolean {
  const c = op.condition;
  if (op.type === 'update' && current === undefined) return false;
  if (c === undefined) return true;
  if ('absent' in c) return current === undefined;
  return current !== undefined && current.version === c.version;
}

function copy<T>(value: T): T {
  return structuredClone(value);
}

/**
 * The data of an item after an `update` op: `set` fields replaced, `add` fields summed
 * (a missing field counts as 0; adding to a non-number is an {@link InvalidRequestError}).
 */
export function mergeUpdate(
  data: ItemData,
  op: Extract<TransactOp, { type: 'update' }>,
  index = 0,
): ItemData {
  const merged: ItemData = { ...copy(data), ...copy(op.set ?? {}) };
  for (const [field, n] of Object.entries(op.add ?? {})) {
    const old = merged[field] ?? 0;
    if (typeof old !== 'number') {
      throw new InvalidRequestError(
        `cannot add to non-numeric field '${field}'`,
        `ops[${index}].add.${field}`,
      );
    }
    merged[field] = old + n;
  }
  return merged;
}

/**
 * Plans validated ops (see `checkTransaction`) against `current` (the item now stored
 * under each op's key). Throws {@link ConflictError} listing every failed op, or
 * {@link ItemTooLargeError} when an update would grow an item past the limit.
 *
 * @example
 * const writes = planTransaction(ops, ops.map((op) => store.get(op.key)));
 */
export function planTransaction(
  ops: readonly TransactOp[],
  current: readonly (Item | undefined)[],
): PlannedWrite[] {
  const failures: ConflictError['failures'] = [];
  ops.forEach((op, index) => {
    const cur = current[index];
    if (!conditionHolds(op, cur)) failures.push({ index, key: copy(op.key), current: cur && copy(cur) });
  });
  if (failures.length > 0) throw new ConflictError(failures);

  const writes: PlannedWrite[] = [];
  ops.forEach((op, index) => {
    const cur = current[index];
    const key = { pk: op.key.pk, sk: op.key.sk };
    const version = (cur?.version ?? 0) + 1;
    switch (op.type) {
      case 'put': {
        const item: Item = { ...key, version, data: copy(op.data) };
        if (op.ttl !== undefined) item.ttl = op.ttl;
        writes.push({ key, item });
        return;
      }
      case 'update': {
        const data = mergeUpdate(cur!.data, op, index);
        checkItemSize(key, data, cur!.ttl);
        const item: Item = { ...key, version, data };
        if (cur!.ttl !== undefined) item.ttl = cur!.ttl;
        writes.push({ key, item });
        return;
      }
      case 'delete':
        if (cur !== undefined) writes.push({ key, item: undefined });
        return;
      case 'check':
        return;
    }
  });
  return writes;
}
