/**
 * Time and size retention of a `cleanup.policy=delete` topic (DESIGN.md §7), in this
 * order, each step safe to crash after:
 *
 *   1. advance the log start offset (`head.start`, and `head.size` down by the bytes
 *      dropped) by a fenced CAS — from then on a read below it is OFFSET_OUT_OF_RANGE;
 *   2. delete the index entries below it, 48 per transaction, each transaction also
 *      dropping the references of their objects;
 *   3. delete the objects nothing references any more.
 *
 * Step 2 also removes entries left below the start by a pass that crashed after step 1.
 * A fetch racing with it reads either the data (its objects still exist) or, once they
 * are gone, finds the new start and answers OFFSET_OUT_OF_RANGE.
 *
 * Like Kafka, whole units expire, oldest first, and expiry stops at the first unit that
 * is kept. The unit is an index entry (one request's batches for the partition, or a
 * compacted run of up to `targetObjectBytes`). By time: an entry expires when its largest
 * record timestamp (`mt`; the append time when it has none) is more than `retention.ms`
 * old — Kafka's rule for a segment. By size: the oldest entries go while the partition
 * holds more than `retention.bytes`, so what is kept fits the bound (Kafka instead keeps
 * at least `retention.bytes`, deleting a segment only if the rest still exceeds it).
 */
import type { Head } from '../heads.js';
import type { TransactOp } from '../ports.js';
import type { TopicConfig } from '../topics.js';
import type { IndexedEntry } from './entries.js';
import { scanEntries } from './entries.js';
import { updateHead } from './head.js';
import { commitReleasing, deleteUnreferenced, releaseOps } from './refs.js';
import { ENTRIES_PER_SWAP, type RewriteTarget } from './rewrite.js';

export interface RetentionResult {
  head: Head;
  /** When the oldest kept entry expires (ms), or -1. */
  due: number;
  recordsExpired: number;
  bytesExpired: number;
}

/** The time an entry counts for time retention. */
export function entryTime(e: IndexedEntry): number {
  return e.entry.mt >= 0 ? e.entry.mt : e.entry.at;
}

/**
 * Step 1 for one partition: moves its log start past what expired ({@link dropBelowStart}
 * does steps 2 and 3).
 *
 * @example
 * const { head: after } = await applyRetention(target, topic.config, head);
 * await dropBelowStart(target, after.data.start);
 */
export async function applyRetention(
  target: RewriteTarget,
  config: TopicConfig,
  head: Head,
): Promise<RetentionResult> {
  const { deps } = target;
  const now = deps.clock.now();
  const retentionMs = config['retention.ms'];
  const bound = config['retention.bytes'] >= 0 ? config['retention.bytes'] : Number.POSITIVE_INFINITY;
  let start = head.data.start;
  let remaining = head.data.size;
  let dropped = 0;
  let records = 0;
  let due = -1;
  for await (const e of scanEntries(deps.meta, target.topicId, target.partition, {
    from: head.data.start,
    below: head.data.next,
  })) {
    const expired = retentionMs >= 0 && now - entryTime(e) > retentionMs;
    if (!expired && remaining <= bound) {
      if (retentionMs >= 0) due = entryTime(e) + retentionMs + 1;
      break;
    }
    start = e.last + 1;
    remaining -= e.entry.len;
    dropped += e.entry.len;
    records += e.entry.rc;
  }
  if (start === head.data.start) return { head, due, recordsExpired: 0, bytesExpired: 0 };
  const written = await updateHead(deps, target.lease, target.topicId, target.partition, (h) =>
    // Another pass (a previous holder of the lease) may have got further already.
    h.data.start >= start ? undefined : { start, size: Math.max(0, h.data.size - dropped) },
  );
  return { head: written, due, recordsExpired: records, bytesExpired: dropped };
}

/**
 * Deletes the index entries below the log start offset with their object references,
 * then the objects left unreferenced.
 *
 * @returns how many entries and objects were deleted.
 *
 * @example
 * const { objectsDeleted } = await dropBelowStart(target, head.data.start);
 */
export async function dropBelowStart(
  target: RewriteTarget,
  start: number,
): Promise<{ entries: number; bytes: number; objectsDeleted: number }> {
  const { deps, lease } = target;
  const touched = new Set<string>();
  let entries = 0;
  let bytes = 0;
  let chunk: IndexedEntry[] = [];
  const flush = async () => {
    if (chunk.length === 0) return;
    const ops: TransactOp[] = chunk.map((e) => ({
      type: 'delete',
      key: e.key,
      condition: { version: e.version },
    }));
    ops.push(...releaseOps(chunk.map((e) => e.entry.o)));
    await commitReleasing((o) => lease.transact(o), ops);
    for (const e of chunk) touched.add(e.entry.o);
    entries += chunk.length;
    bytes += chunk.reduce((s, e) => s + e.entry.len, 0);
    chunk = [];
  };
  // Deleting while paging is safe: the cursor is a key, and only keys behind it go.
  for await (const e of scanEntries(
    deps.meta,
    target.topicId,
    target.partition,
    { below: start },
    ENTRIES_PER_SWAP,
  )) {
    chunk.push(e);
    if (chunk.length === ENTRIES_PER_SWAP) await flush();
  }
  await flush();
  const deleted = await deleteUnreferenced(deps, touched);
  return { entries, bytes, objectsDeleted: deleted.length };
}
