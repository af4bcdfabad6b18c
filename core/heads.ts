/**
 * A partition's head item: the next offset to assign, the log start offset, the bytes
 * held (for size retention) and the idempotent-producer state. Appends CAS on it;
 * retention advances `start` on it. The produce path keeps heads cached per instance and
 * learns newer heads from the conflict errors of its commits, so it reads nothing.
 */
import { keys } from './keys.js';
import type { Item, ItemData, MetaStore } from './ports.js';
import type { ProducerStates } from './producers.js';

export interface HeadData {
  /** Next offset to be assigned = the high watermark. */
  next: number;
  /** Log start offset: offsets below it are gone. */
  start: number;
  /** Bytes of batches between start and next (as stored). */
  size: number;
  /** Idempotent producer state, by producer id. */
  p: ProducerStates;
  /**
   * Pending-commit markers of large transactions (DESIGN.md §13): transactional id →
   * transaction number whose commit may move this head. Readers honour them (roll the
   * commit forward, or read as before it); every writer of the head keeps them.
   */
  x?: Record<string, number>;
  /**
   * Set when the topic was deleted (docs/design.md "Topic incarnations"): the head is a
   * tombstone, so an append or fetch of an instance whose cache still holds this topic id
   * fails its condition or sees it, instead of writing to or reading a deleted topic.
   */
  deleted?: true;
}

/** A head as read: version 0 means the item does not exist yet (an empty partition). */
export interface Head {
  version: number;
  data: HeadData;
}

export const EMPTY_HEAD: HeadData = { next: 0, start: 0, size: 0, p: {} };

export function headFromItem(item: Item | undefined): Head {
  if (!item) return { version: 0, data: { ...EMPTY_HEAD, p: {} } };
  const d = item.data as Partial<HeadData>;
  const data: HeadData = {
    next: d.next ?? 0,
    start: d.start ?? 0,
    size: d.size ?? 0,
    p: (d.p as ProducerStates) ?? {},
    ...(item.data.del === true && { deleted: true as const }),
  };
  if (d.x && Object.keys(d.x).length > 0) data.x = d.x;
  return { version: item.version, data };
}

export function headToData(head: HeadData): ItemData {
  const data: ItemData = {
    next: head.next,
    start: head.start,
    size: head.size,
    p: head.p as unknown as ItemData,
  };
  if (head.x && Object.keys(head.x).length > 0) data.x = head.x;
  if (head.deleted) data.del = true;
  return data;
}

/** The tombstone a deleted topic leaves on a partition head: what was there, marked deleted. */
export function tombstoneData(head: HeadData): ItemData {
  return headToData({ ...head, deleted: true });
}

/** Reads heads (strongly consistent), one request for many partitions. */
export async function readHeads(
  meta: MetaStore,
  parts: readonly { topicId: string; partition: number }[],
): Promise<Head[]> {
  const items = await meta.batchGet(parts.map((p) => keys.head(p.topicId, p.partition)));
  return items.map(headFromItem);
}

/** Heads cached per instance; entries are refreshed from commits and conflicts. */
export class HeadCache {
  private readonly heads = new Map<string, Head>();
  constructor(private readonly maxEntries = 100_000) {}

  get(pk: string): Head | undefined {
    return this.heads.get(pk);
  }

  set(pk: string, head: Head): void {
    if (this.heads.size >= this.maxEntries && !this.heads.has(pk)) {
      this.heads.delete(this.heads.keys().next().value as string);
    }
    this.heads.set(pk, head);
  }

  delete(pk: string): void {
    this.heads.delete(pk);
  }
}
