/**
 * Small-object compaction. A produce request writes one object for all its partitions,
 * so a partition's log is spread over many small objects, one GET each to read back.
 * This pass rewrites runs of consecutive small entries of one partition into one object
 * of about `targetObjectBytes` (the batches unchanged but for their stamped base offsets),
 * through {@link rewriteEntries}. Offsets do not move.
 *
 * A run is rewritten when it is full (≥ target bytes), when a large entry closes it and
 * it holds at least `minSmallEntries`, or — the open run at the tail of the log — when it
 * holds that many and its first entry is older than `maxCompactionDelayMs`. The state
 * item remembers where the open run starts, so later passes read the index from there.
 */

import { entryBatches, readEntries, stampBatch } from './batches.js';
import type { IndexedEntry } from './entries.js';
import { scanEntries } from './entries.js';
import type { MaintenanceOptions } from './options.js';
import { MAX_REWRITE_ENTRIES, type RewriteTarget, rewriteEntries } from './rewrite.js';

export interface SmallObjectsResult {
  /** Where the next pass starts reading the index. */
  scanFrom: number;
  /** When the open run becomes due (ms), or -1. */
  due: number;
  entriesCompacted: number;
  objectsWritten: number;
  bytesWritten: number;
  objectsDeleted: number;
}

/**
 * Compacts runs of small entries with a last offset ≥ `from` and below `end` (the head's
 * next offset when the pass began).
 *
 * @example
 * const s = await compactSmallObjects(target, options, state.scanFrom, head.data.next);
 * state.scanFrom = s.scanFrom;
 */
export async function compactSmallObjects(
  target: RewriteTarget,
  options: MaintenanceOptions,
  from: number,
  end: number,
): Promise<SmallObjectsResult> {
  const { deps } = target;
  const now = deps.clock.now();
  const result: SmallObjectsResult = {
    scanFrom: from,
    due: -1,
    entriesCompacted: 0,
    objectsWritten: 0,
    bytesWritten: 0,
    objectsDeleted: 0,
  };
  let run: IndexedEntry[] = [];
  let runBytes = 0;
  let scanned = from;

  const rewrite = async (entries: IndexedEntry[]) => {
    const bytes = await readEntries(
      deps.objects,
      entries.map((e) => e.entry),
      options.parallelGets,
    );
    const inputs = entries.map((old) => ({
      old,
      batches: entryBatches(old.entry, bytes.get(old.entry)!).map((b) => stampBatch(b, target.lease.epoch)),
    }));
    const done = await rewriteEntries(target, inputs, { adjustSize: false });
    result.entriesCompacted += entries.length;
    result.objectsWritten += done.objectKey ? 1 : 0;
    result.bytesWritten += done.objectBytes;
    result.objectsDeleted += done.deleted.length;
  };

  /** A run ends: rewrite it if it is worth it; either way it is settled. */
  const close = async (full: boolean) => {
    if (run.length >= (full ? 2 : options.minSmallEntries)) await rewrite(run);
    run = [];
    runBytes = 0;
  };

  for await (const e of scanEntries(deps.meta, target.topicId, target.partition, { from, below: end })) {
    scanned = e.last + 1;
    if (e.entry.len >= options.smallEntryBytes) {
      await close(false);
      continue;
    }
    run.push(e);
    runBytes += e.entry.len;
    if (runBytes >= options.targetObjectBytes || run.length >= MAX_REWRITE_ENTRIES) await close(true);
  }

  result.scanFrom = scanned;
  if (run.length > 0) {
    const first = run[0]!;
    const ripe = first.entry.at + options.maxCompactionDelayMs;
    if (run.length >= options.minSmallEntries && now >= ripe) {
      // The open run's output is small too: the next pass starts from it, so it grows.
      await rewrite(run);
      result.scanFrom = first.entry.base;
    } else {
      result.scanFrom = first.entry.base;
      if (run.length >= options.minSmallEntries) result.due = ripe;
    }
  }
  return result;
}
