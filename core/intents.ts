/**
 * Write intents: how writers in separate instances stop racing on a partition's head
 * (docs/design.md, "Contention and group commit"). A writer that lost a race for the head
 * publishes what its commit would append — its object, where its run lies in it, its
 * offsets, records and producer sequence range — as an item of its own beside the head
 * (`p#<topicId>#<partition>` / `w#<time>#<id>`, a put no one else writes, so it never
 * conflicts). One writer at a time — the one whose intent is oldest — then commits every
 * pending intent in one head CAS, with each intent's index item and registry item and the
 * intent's delete; the others read their outcome instead of retrying the commit.
 *
 * An intent is committed at most once: its commit creates its object's registry item
 * (condition: absent) and deletes the intent (condition: its version), both in the one
 * transaction. So "intent gone and registry holds the chunk's offsets" means committed,
 * "intent gone, no offsets" means withdrawn or dropped (expired), and a writer that
 * withdraws its own intent (a conditional delete) knows for certain that it will never be
 * committed afterwards. An intent older than {@link INTENT_MAX_AGE_MS} is never committed
 * (its object could be near orphan GC's grace period); combiners delete it.
 */
import { keys, padOffset } from './keys.js';
import type { Item, ItemData, ItemKey } from './ports.js';
import type { ProducerAppend } from './producers.js';

/** An intent older than this (by its writer's clock) is dropped, never committed. 1 minute. */
export const INTENT_MAX_AGE_MS = 60_000;

/** What a combiner needs to commit someone else's run. */
export interface IntentRun {
  /** Object key, byte position and length of the run in it. */
  objectKey: string;
  position: number;
  length: number;
  /** Offsets spanned, records, batches, max record timestamp. */
  offsets: number;
  records: number;
  batches: number;
  maxTimestamp: number;
  producer: ProducerAppend | undefined;
  /** When the intent was published (writer's clock, ms). */
  at: number;
}

export interface Intent extends IntentRun {
  key: ItemKey;
  version: number;
}

/** The sort key of a new intent: publication time first, so older intents sort first. */
export function intentSk(now: number, id: string): string {
  return `${keys.intentPrefix}${padOffset(Math.max(0, Math.floor(now)))}#${id}`;
}

export function intentData(run: IntentRun): ItemData {
  const data: ItemData = {
    o: run.objectKey,
    pos: run.position,
    len: run.length,
    n: run.offsets,
    rc: run.records,
    bc: run.batches,
    mt: run.maxTimestamp,
    at: run.at,
  };
  if (run.producer) {
    data.pid = run.producer.producerId;
    data.pe = run.producer.epoch;
    data.fs = run.producer.firstSequence;
    data.ls = run.producer.lastSequence;
  }
  return data;
}

export function intentFromItem(item: Item): Intent {
  const d = item.data as Record<string, unknown>;
  return {
    key: { pk: item.pk, sk: item.sk },
    version: item.version,
    objectKey: d.o as string,
    position: d.pos as number,
    length: d.len as number,
    offsets: d.n as number,
    records: d.rc as number,
    batches: d.bc as number,
    maxTimestamp: d.mt as number,
    at: d.at as number,
    producer:
      typeof d.pid === 'string'
        ? {
            producerId: d.pid,
            epoch: d.pe as number,
            firstSequence: d.fs as number,
            lastSequence: d.ls as number,
          }
        : undefined,
  };
}
