/**
 * Reading index entries' batches for a rewrite, and stamping the batches maintenance
 * writes. Rewritten batches carry their real base offsets (their entries are `abs`, so
 * the read path does not patch them) and the lease epoch as `partitionLeaderEpoch`
 * (DESIGN.md §5) — two header fields outside Kafka's CRC, so stamping keeps the batch valid.
 */
import type { IndexEntry } from '../append.js';
import { CorruptRecordError } from '../errors.js';
import { coalesce } from '../fetch.js';
import type { ObjectStore } from '../ports.js';
import { type DeflatedBatch, splitBatches } from '../records/index.js';

/**
 * The bytes of each entry, read with one ranged GET per object (ranges of one object
 * close together are coalesced, as the read path does), `parallel` GETs at a time.
 */
export async function readEntries(
  objects: ObjectStore,
  entries: readonly IndexEntry[],
  parallel: number,
): Promise<Map<IndexEntry, Uint8Array>> {
  const out = new Map<IndexEntry, Uint8Array>();
  const reads = coalesce(entries);
  for (let i = 0; i < reads.length; i += parallel) {
    await Promise.all(
      reads.slice(i, i + parallel).map(async (read) => {
        const body = await objects.get(read.object, { start: read.start, end: read.end });
        for (const e of read.entries) {
          const slice = body.subarray(e.pos - read.start, e.pos - read.start + e.len);
          if (slice.length !== e.len) {
            throw new CorruptRecordError(`object ${e.o} is shorter than its index entry says`);
          }
          out.set(e, slice);
        }
      }),
    );
  }
  return out;
}

/**
 * An entry's batches (CRC-verified) with their real base offsets in the headers; the
 * bytes are still as stored (see {@link stampBatch}).
 */
export function entryBatches(entry: IndexEntry, bytes: Uint8Array): DeflatedBatch[] {
  const batches = splitBatches(bytes);
  if (entry.abs) return batches;
  let next = entry.base;
  return batches.map((b) => {
    const header = { ...b.header, baseOffset: next };
    next += b.header.lastOffsetDelta + 1;
    return { header, bytes: b.bytes };
  });
}

/** A copy of `batch` with its base offset and partition leader epoch set. */
export function stampBatch(batch: DeflatedBatch, leaderEpoch: number): Uint8Array {
  const copy = new Uint8Array(batch.bytes.length);
  copy.set(batch.bytes);
  const view = new DataView(copy.buffer, copy.byteOffset, copy.byteLength);
  const base = batch.header.baseOffset;
  const hi = Math.floor(base / 0x1_0000_0000);
  view.setInt32(0, hi);
  view.setUint32(4, base - hi * 0x1_0000_0000);
  view.setInt32(12, leaderEpoch);
  return copy;
}
