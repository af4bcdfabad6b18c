/**
 * `cleanup.policy=compact`: keep the latest record per key, as Kafka's log cleaner does.
 *
 * The log below `kc` (the state item's checkpoint) is clean: at most one record per key.
 * The dirty section runs from `kc` up to, never including, the partition's last entry
 * (the active tail) and entries younger than `minCompactionLagMs`. When dirty bytes reach
 * `minCleanableDirtyRatio` of the partition, a pass
 *
 *   1. maps every key of the dirty section to its latest offset (reads the dirty section);
 *   2. rewrites the log from its start to the end of the dirty section (reads it again),
 *      keeping a record unless a later offset of its key is in the map, and dropping a
 *      tombstone that is the latest of its key once its entry was appended more than
 *      `delete.retention.ms` ago; records without a key are kept (Kafka refuses them on
 *      a compacted topic; Sluice accepts and keeps them);
 *   3. moves `kc` to the end of the dirty section.
 *
 * Rewritten batches keep their base offset and `lastOffsetDelta`, and each kept record
 * its offset and timestamp (see rebatch.ts): offsets never move; a batch left empty goes,
 * and an entry left empty goes, which leaves a gap the read path steps over. Runs are
 * swapped through {@link rewriteEntries}, which also lowers `head.size`.
 */

import type { Head } from '../heads.js';
import type { TopicConfig } from '../topics.js';
import { entryBatches, readEntries } from './batches.js';
import type { IndexedEntry } from './entries.js';
import { scanEntries } from './entries.js';
import type { MaintenanceOptions } from './options.js';
import { recordSpans, retainRecords } from './rebatch.js';
import { MAX_REWRITE_ENTRIES, type RewriteInput, type RewriteTarget, rewriteEntries } from './rewrite.js';

export interface CleanResult {
  /** The new clean checkpoint. */
  cleanTo: number;
  cleaned: boolean;
  recordsCleaned: number;
  bytesCleaned: number;
  entriesRewritten: number;
  objectsWritten: number;
  bytesWritten: number;
  objectsDeleted: number;
}

/** Entries read per round while mapping or rewriting (bounds memory with the output). */
const READ_WINDOW = 16;

function keyString(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1');
}

/**
 * Cleans one partition of a compacted topic when its dirty ratio calls for it.
 *
 * @example
 * const c = await cleanCompacted(target, options, topic.config, head, state.cleanTo);
 * state.cleanTo = c.cleanTo;
 */
export async function cleanCompacted(
  target: RewriteTarget,
  options: MaintenanceOptions,
  config: TopicConfig,
  head: Head,
  cleanFrom: number,
): Promise<CleanResult> {
  const { deps } = target;
  const now = deps.clock.now();
  const result: CleanResult = {
    cleanTo: Math.max(cleanFrom, head.data.start),
    cleaned: false,
    recordsCleaned: 0,
    bytesCleaned: 0,
    entriesRewritten: 0,
    objectsWritten: 0,
    bytesWritten: 0,
    objectsDeleted: 0,
  };

  // The dirty section: from the checkpoint, not the tail entry, not too young, bounded.
  const dirty: IndexedEntry[] = [];
  let dirtyBytes = 0;
  let pending: IndexedEntry | undefined;
  for await (const e of scanEntries(deps.meta, target.topicId, target.partition, {
    from: result.cleanTo,
    below: head.data.next,
  })) {
    if (pending) {
      dirty.push(pending);
      dirtyBytes += pending.entry.len;
      if (dirtyBytes >= options.maxDirtyBytesPerPass) break;
    }
    if (now - e.entry.at < options.minCompactionLagMs) {
      pending = undefined;
      break;
    }
    pending = e; // becomes dirty only once a later entry shows it is not the tail
  }
  if (dirty.length === 0 || dirtyBytes < options.minCleanableDirtyRatio * Math.max(1, head.data.size)) {
    return result;
  }
  const dirtyEnd = dirty[dirty.length - 1]!.last + 1;

  // 1. Latest offset of every key in the dirty section.
  const latest = new Map<string, number>();
  for (let i = 0; i < dirty.length; i += READ_WINDOW) {
    const window = dirty.slice(i, i + READ_WINDOW).map((e) => e.entry);
    const bytes = await readEntries(deps.objects, window, options.parallelGets);
    for (const entry of window) {
      for (const batch of entryBatches(entry, bytes.get(entry)!)) {
        for (const r of recordSpans(batch).records) if (r.key) latest.set(keyString(r.key), r.offset);
      }
    }
    await target.lease.keepAlive();
  }

  // 2. Rewrite [start, dirtyEnd) in groups of about one target object.
  const horizon = now - config['delete.retention.ms'];
  let group: RewriteInput[] = [];
  let groupOut = 0;
  let groupDropped = 0;
  const flush = async () => {
    // A lone entry that loses nothing is left as it is.
    if (group.length > 1 || (group.length === 1 && groupDropped > 0)) {
      const done = await rewriteEntries(target, group, { adjustSize: true });
      result.entriesRewritten += group.length;
      result.objectsWritten += done.objectKey ? 1 : 0;
      result.bytesWritten += done.objectBytes;
      result.objectsDeleted += done.deleted.length;
      result.bytesCleaned += done.bytesIn - done.bytesOut;
      result.recordsCleaned += groupDropped;
    }
    group = [];
    groupOut = 0;
    groupDropped = 0;
  };

  let window: IndexedEntry[] = [];
  const processWindow = async () => {
    const bytes = await readEntries(
      deps.objects,
      window.map((e) => e.entry),
      options.parallelGets,
    );
    for (const old of window) {
      const out: Uint8Array[] = [];
      for (const batch of entryBatches(old.entry, bytes.get(old.entry)!)) {
        const { payload, records } = recordSpans(batch);
        const keep = records.map((r) => {
          if (!r.key) return true;
          const last = latest.get(keyString(r.key));
          if (last !== undefined && last > r.offset) return false;
          return !(r.tombstone && old.entry.at < horizon);
        });
        groupDropped += keep.filter((k) => !k).length;
        const kept = retainRecords(batch, payload, records, keep, target.lease.epoch);
        if (kept) out.push(kept);
      }
      group.push({ old, batches: out });
      groupOut += out.reduce((s, b) => s + b.length, 0);
      if (groupOut >= options.targetObjectBytes || group.length >= MAX_REWRITE_ENTRIES) await flush();
    }
    window = [];
    await target.lease.keepAlive();
  };
  for await (const e of scanEntries(deps.meta, target.topicId, target.partition, {
    from: head.data.start,
    below: dirtyEnd,
  })) {
    window.push(e);
    if (window.length === READ_WINDOW) await processWindow();
  }
  if (window.length > 0) await processWindow();
  await flush();
  result.cleanTo = dirtyEnd;
  result.cleaned = true;
  return result;
}
