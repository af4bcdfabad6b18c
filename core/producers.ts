/**
 * Idempotent producers (docs/design.md §3 and "Producer state off the partition head"):
 * ids handed out by a counter item, and the per-partition dedup state that decides
 * "new, duplicate or out of order" for every append.
 *
 * Per producer and partition the state is the epoch, the last sequence appended and the
 * last few appends (first/last sequence, base offset, append time). A retry of any of
 * those returns its original offsets; the state expires after `retentionMs` of silence
 * (days, not DynamoDB's 10-minute token window). Nothing else ever drops it: no number of
 * other producers can turn a retry into a duplicate.
 *
 * Where it lives, so that a commit's cost does not grow with the number of producers:
 * - on the partition's head item, for at most `headSlots` producers (the busy producer
 *   of a partition pays nothing extra: its state rides on the head the commit writes
 *   anyway);
 * - otherwise in an item of its own beside the head (`pr#<producerId>`, with a TTL), which
 *   only that producer's commits write: one more small item in its transaction.
 * A producer's state never moves: it enters the head only when it has no item (checked
 * in the same transaction) and leaves it only by expiring.
 */

import { casUpdate } from './cas.js';
import type { Clock, Random } from './clock.js';
import { SluiceError } from './errors.js';
import { keys } from './keys.js';
import type { Item, ItemData, Json, MetaStore } from './ports.js';

/** Appends remembered per producer and partition, as Kafka keeps 5 in-flight batches. */
export const RECENT_APPENDS = 5;

export interface ProducerStateLimits {
  /** Silence after which a producer's state is forgotten. Default 7 days. */
  retentionMs: number;
  /**
   * Producers whose state rides on the partition's head item; later ones get an item of
   * their own. Small enough that a full head stays under 1 KB (one write unit). Default 2.
   */
  headSlots: number;
}

export const DEFAULT_PRODUCER_LIMITS: ProducerStateLimits = {
  retentionMs: 7 * 24 * 3600 * 1000,
  headSlots: 2,
};

/** [firstSequence, lastSequence, baseOffset, logAppendTime] */
export type RecentAppend = [number, number, number, number];

/** What is stored for one producer and partition (short names: paid for per byte). */
export interface ProducerState {
  /** epoch */
  e: number;
  /** last sequence appended */
  s: number;
  /** last seen, ms */
  t: number;
  /** recent appends, oldest first */
  r: RecentAppend[];
}

export type ProducerStates = Record<string, ProducerState>;

/** The producer fields of one partition's run of batches in a request. */
export interface ProducerAppend {
  producerId: string;
  epoch: number;
  firstSequence: number;
  lastSequence: number;
}

export type SequenceCheck =
  | { kind: 'append' }
  | { kind: 'duplicate'; baseOffset: number; logAppendTime: number };

/** A producer's own state item as known: version 0 means absent (or not known to exist). */
export interface ProducerItem {
  version: number;
  state: ProducerState | undefined;
}

/**
 * Where a producer's state is for one commit:
 * - `head`: on the head item (`fresh`: entering it now, so the commit must check that
 *   the producer has no item of its own);
 * - `item`: in its own item, at `version` (0: to be created).
 */
export type Placement =
  | { at: 'head'; state: ProducerState | undefined; fresh: boolean }
  | { at: 'item'; state: ProducerState | undefined; version: number };

function live(state: ProducerState | undefined, now: number, limits: ProducerStateLimits) {
  return state && now - state.t <= limits.retentionMs ? state : undefined;
}

/**
 * Decides where a producer's state is, from the head's states and what is known of the
 * producer's item (`undefined`: nothing known, guessed absent — a wrong guess costs one
 * conflict, which carries the item).
 */
export function placeProducer(
  headStates: ProducerStates,
  item: ProducerItem | undefined,
  producerId: string,
  now: number,
  limits: ProducerStateLimits = DEFAULT_PRODUCER_LIMITS,
): Placement {
  const onHead = live(headStates[producerId], now, limits);
  if (onHead) return { at: 'head', state: onHead, fresh: false };
  const version = item?.version ?? 0;
  if (version > 0) return { at: 'item', state: live(item!.state, now, limits), version };
  const used = Object.values(headStates).filter((s) => live(s, now, limits)).length;
  if (used < limits.headSlots) return { at: 'head', state: undefined, fresh: true };
  return { at: 'item', state: undefined, version: 0 };
}

/**
 * Decides what to do with an append given the producer's state on this partition.
 * Throws INVALID_PRODUCER_EPOCH or OUT_OF_ORDER_SEQUENCE_NUMBER.
 */
export function checkSequence(state: ProducerState | undefined, append: ProducerAppend): SequenceCheck {
  // Unknown (new, or expired) producer: accept whatever sequence it is at, as Kafka does.
  if (!state) return { kind: 'append' };
  if (append.epoch < state.e) {
    throw new SluiceError(
      'INVALID_PRODUCER_EPOCH',
      `producer ${append.producerId} epoch ${append.epoch} is fenced by epoch ${state.e}`,
    );
  }
  if (append.epoch > state.e) {
    if (append.firstSequence === 0) return { kind: 'append' };
    throw outOfOrder(append, -1);
  }
  for (const [first, last, baseOffset, time] of state.r) {
    if (first === append.firstSequence && last === append.lastSequence) {
      return { kind: 'duplicate', baseOffset, logAppendTime: time };
    }
  }
  if (append.firstSequence === nextSequence(state.s)) return { kind: 'append' };
  throw outOfOrder(append, state.s);
}

/** Sequences wrap at 2^31 - 1 as in Kafka. */
function nextSequence(s: number): number {
  return s === 0x7fffffff ? 0 : s + 1;
}

function outOfOrder(append: ProducerAppend, last: number): SluiceError {
  return new SluiceError(
    'OUT_OF_ORDER_SEQUENCE_NUMBER',
    `producer ${append.producerId}: expected sequence ${nextSequence(last)}, got ${append.firstSequence}`,
  );
}

/** A producer's state after an append. */
export function nextState(
  prev: ProducerState | undefined,
  append: ProducerAppend,
  baseOffset: number,
  now: number,
): ProducerState {
  const recent: RecentAppend[] = prev && prev.e === append.epoch ? prev.r.slice(-(RECENT_APPENDS - 1)) : [];
  recent.push([append.firstSequence, append.lastSequence, baseOffset, now]);
  return { e: append.epoch, s: append.lastSequence, t: now, r: recent };
}

/** The head's producer states without the expired ones. */
export function pruneExpired(
  states: ProducerStates,
  now: number,
  limits: ProducerStateLimits = DEFAULT_PRODUCER_LIMITS,
): ProducerStates {
  return Object.fromEntries(Object.entries(states).filter(([, s]) => now - s.t <= limits.retentionMs));
}

/** A producer item as stored, or read back ({@link producerItemFrom}). */
export function producerItemData(state: ProducerState): ItemData {
  return state as unknown as ItemData;
}

export function producerItemFrom(item: Item | undefined): ProducerItem {
  if (!item) return { version: 0, state: undefined };
  const d = item.data as Partial<ProducerState>;
  return {
    version: item.version,
    state:
      typeof d.e === 'number' && typeof d.s === 'number' && typeof d.t === 'number' && Array.isArray(d.r)
        ? { e: d.e, s: d.s, t: d.t, r: d.r }
        : undefined,
  };
}

/** Hands out producer ids from a counter item: unique across instances, never reused. */
export async function initProducer(
  meta: MetaStore,
  deps: { clock: Clock; random: Random },
): Promise<{ producerId: string; epoch: number }> {
  const item = await casUpdate(
    meta,
    keys.producerCounter,
    (current) => ({
      data: { next: ((current?.data.next as number | undefined) ?? 0) + 1 } as Record<string, Json>,
    }),
    deps,
  );
  return { producerId: String(item!.data.next), epoch: 0 };
}
