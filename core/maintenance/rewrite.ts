/**
 * Swapping a run of index entries for one new object, without ever showing a reader a
 * wrong or incomplete index.
 *
 * The new object (one segment run, batches with their real base offsets) is written
 * first. Then, 48 old entries at a time, one transaction replaces them: the old entries
 * are deleted (each conditioned on the version read), the last one's key now holds a new
 * entry pointing at its slice of the new object, the old objects' reference counts drop
 * and the new object's grows. Each transaction leaves the index tiling the same offsets,
 * so a reader sees old entries, new ones, or a mix — the same records either way. A last
 * transaction merges the new slices into one entry (they are contiguous in the object),
 * so the run costs a reader one GET. Old objects nothing references any more are deleted
 * last. A crash at any point leaves a valid index; an object written but never
 * registered is an orphan that GC reclaims.
 *
 *   per chunk of k ≤ 48 entries: fence + k entry ops + ≤ k releases + new registry + head ≤ 100 ops
 *   merge of m ≤ 97 slices:      fence + m entry ops + registry                         ≤ 100 ops
 */
import type { IndexEntry } from '../append.js';
import { keys, objectKeys } from '../keys.js';
import type { ItemData, TransactOp } from '../ports.js';
import { encodeSegment, readBatchHeader } from '../records/index.js';
import type { IndexedEntry } from './entries.js';
import type { PartitionLease } from './lease.js';
import type { MaintenanceDeps } from './options.js';
import { commitReleasing, deleteUnreferenced, releaseOps } from './refs.js';

/** Old entries replaced per transaction. */
export const ENTRIES_PER_SWAP = 48;
/** Old entries one rewrite may replace (97 slices of 48 fit the merge transaction; keep a margin). */
export const MAX_REWRITE_ENTRIES = ENTRIES_PER_SWAP * 90;

export interface RewriteTarget {
  deps: MaintenanceDeps;
  lease: PartitionLease;
  topic: string;
  topicId: string;
  partition: number;
}

/** One old entry and the batches that replace it (stamped; none when all its records go). */
export interface RewriteInput {
  old: IndexedEntry;
  batches: Uint8Array[];
}

export interface RewriteResult {
  /** The object written, if any batch survived. */
  objectKey?: string;
  objectBytes: number;
  /** Batch bytes before and after. */
  bytesIn: number;
  bytesOut: number;
  /** Old objects deleted because nothing references them any more. */
  deleted: string[];
}

interface Slice {
  key: IndexedEntry['key'];
  version: number;
  entry: IndexEntry;
}

/**
 * Replaces `inputs` (consecutive entries of one partition, ascending) by one object.
 * With `adjustSize`, the head's `size` drops by the bytes removed, in the same
 * transactions (a compacted topic's rewrite removes records; a small-object rewrite
 * keeps every byte and leaves the head alone).
 *
 * @example
 * const inputs = entries.map((old) => ({ old, batches: batchesOf(old).map((b) => stampBatch(b, lease.epoch)) }));
 * const { objectKey, deleted } = await rewriteEntries(target, inputs, { adjustSize: false });
 */
export async function rewriteEntries(
  target: RewriteTarget,
  inputs: readonly RewriteInput[],
  options: { adjustSize: boolean },
): Promise<RewriteResult> {
  if (inputs.length === 0 || inputs.length > MAX_REWRITE_ENTRIES) {
    throw new RangeError(`a rewrite takes 1 to ${MAX_REWRITE_ENTRIES} entries, got ${inputs.length}`);
  }
  const { deps, lease } = target;
  const now = deps.clock.now();
  const all = inputs.flatMap((i) => i.batches);
  const bytesIn = inputs.reduce((s, i) => s + i.old.entry.len, 0);
  const bytesOut = all.reduce((s, b) => s + b.length, 0);
  let objectKey: string | undefined;
  let runStart = 0;
  let objectBytes = 0;
  if (all.length > 0) {
    const segment = encodeSegment([{ topic: target.topic, partition: target.partition, batches: all }]);
    objectKey = objectKeys.segment(newObjectId(deps));
    runStart = segment.index[0]!.position;
    objectBytes = segment.bytes.length;
    await deps.objects.put(objectKey, segment.bytes);
  }

  const slices: Slice[] = [];
  let registered = false;
  let pos = runStart;
  for (let i = 0; i < inputs.length; i += ENTRIES_PER_SWAP) {
    const chunk = inputs.slice(i, i + ENTRIES_PER_SWAP);
    const last = chunk[chunk.length - 1]!;
    const batches = chunk.flatMap((c) => c.batches);
    const len = batches.reduce((s, b) => s + b.length, 0);
    const ops: TransactOp[] = [];
    for (const c of chunk.slice(0, -1)) {
      ops.push({ type: 'delete', key: c.old.key, condition: { version: c.old.version } });
    }
    let slice: Slice | undefined;
    if (len > 0) {
      const first = chunk[0]!.old;
      const entry: IndexEntry = {
        o: objectKey!,
        pos,
        len,
        base: first.entry.base,
        n: last.old.last - first.entry.base + 1,
        ...stats(batches),
        at: Math.max(...chunk.map((c) => c.old.entry.at)),
        abs: true,
      };
      slice = { key: last.old.key, version: last.old.version + 1, entry };
      ops.push({
        type: 'put',
        key: last.old.key,
        data: entry as unknown as ItemData,
        condition: { version: last.old.version },
      });
      ops.push(
        registered
          ? { type: 'update', key: keys.objectRef(objectKey!), add: { refs: 1 } }
          : {
              type: 'put',
              key: keys.objectRef(objectKey!),
              data: { refs: 1, at: now, sz: objectBytes },
              condition: { absent: true },
            },
      );
    } else {
      ops.push({ type: 'delete', key: last.old.key, condition: { version: last.old.version } });
    }
    ops.push(...releaseOps(chunk.map((c) => c.old.entry.o)));
    const removed = chunk.reduce((s, c) => s + c.old.entry.len, 0) - len;
    if (options.adjustSize && removed !== 0) {
      ops.push({ type: 'update', key: keys.head(target.topicId, target.partition), add: { size: -removed } });
    }
    await commitReleasing((o) => lease.transact(o), ops);
    if (slice) {
      slices.push(slice);
      registered = true;
    }
    pos += len;
  }

  if (slices.length > 1) await mergeSlices(target, slices, objectKey!);
  const deleted = await deleteUnreferenced(deps, new Set(inputs.map((i) => i.old.entry.o)));
  return { ...(objectKey && { objectKey }), objectBytes, bytesIn, bytesOut, deleted };
}

/** One entry for the whole new object, replacing its slices (contiguous in it). */
async function mergeSlices(target: RewriteTarget, slices: Slice[], objectKey: string): Promise<void> {
  const first = slices[0]!.entry;
  const last = slices[slices.length - 1]!;
  const merged: IndexEntry = {
    o: objectKey,
    pos: first.pos,
    len: last.entry.pos + last.entry.len - first.pos,
    base: first.base,
    n: last.entry.base + last.entry.n - first.base,
    rc: slices.reduce((s, x) => s + x.entry.rc, 0),
    bc: slices.reduce((s, x) => s + x.entry.bc, 0),
    mt: Math.max(...slices.map((x) => x.entry.mt)),
    at: Math.max(...slices.map((x) => x.entry.at)),
    abs: true,
  };
  const ops: TransactOp[] = slices.slice(0, -1).map((s) => ({
    type: 'delete',
    key: s.key,
    condition: { version: s.version },
  }));
  ops.push({
    type: 'put',
    key: last.key,
    data: merged as unknown as ItemData,
    condition: { version: last.version },
  });
  ops.push({ type: 'update', key: keys.objectRef(objectKey), add: { refs: -(slices.length - 1) } });
  await target.lease.transact(ops);
}

function stats(batches: readonly Uint8Array[]): { rc: number; bc: number; mt: number } {
  let rc = 0;
  let mt = -1;
  for (const b of batches) {
    const h = readBatchHeader(b);
    rc += h.recordCount;
    if (h.maxTimestamp > mt) mt = h.maxTimestamp;
  }
  return { rc, bc: batches.length, mt };
}

function newObjectId(deps: MaintenanceDeps): string {
  const r = () =>
    Math.floor(deps.random() * 2 ** 32)
      .toString(16)
      .padStart(8, '0');
  return `${r().slice(0, 4)}/${deps.clock.now().toString(36)}-c${r()}${r()}`;
}
