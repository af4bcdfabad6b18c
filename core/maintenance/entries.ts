/**
 * A partition's batch index as maintenance walks it: entries in offset order, each with
 * the key and version its item had when read, so a rewrite can be conditioned on it.
 */
import type { IndexEntry } from '../append.js';
import { keys } from '../keys.js';
import type { Item, ItemKey, MetaStore, SortKeyRange } from '../ports.js';

/** An index item as read: the entry, its last offset (from the key) and its version. */
export interface IndexedEntry {
  key: ItemKey;
  version: number;
  /** The last offset the entry spans (its sort key). */
  last: number;
  entry: IndexEntry;
}

export function indexedEntry(item: Item): IndexedEntry {
  return {
    key: { pk: item.pk, sk: item.sk },
    version: item.version,
    last: Number(item.sk.slice(keys.indexPrefix.length)),
    entry: item.data as unknown as IndexEntry,
  };
}

/**
 * Index entries whose last offset is ≥ `from` and < `below` (both optional), ascending,
 * read `pageSize` at a time (strongly consistent queries).
 *
 * @example
 * for await (const e of scanEntries(meta, topicId, 0, { from: head.start })) console.log(e.last);
 */
export async function* scanEntries(
  meta: MetaStore,
  topicId: string,
  partition: number,
  bounds: { from?: number; below?: number } = {},
  pageSize = 100,
): AsyncGenerator<IndexedEntry> {
  const range: SortKeyRange = {
    gte: bounds.from === undefined ? keys.indexPrefix : keys.indexSk(bounds.from),
  };
  if (bounds.below !== undefined) range.lt = keys.indexSk(bounds.below);
  else range.lte = `${keys.indexPrefix}~`;
  if (bounds.below !== undefined && bounds.below <= (bounds.from ?? 0)) return;
  let after: string | undefined;
  do {
    const page = await meta.query(keys.partitionPk(topicId, partition), range, { limit: pageSize, after });
    for (const item of page.items) yield indexedEntry(item);
    after = page.next;
  } while (after);
}
