/**
 * Idempotent producers (DESIGN.md §3): ids handed out by a counter item, and the
 * per-partition dedup state that rides on each partition's head item, so deciding
 * "new, duplicate or out of order" costs no extra item in the commit.
 *
 * Per producer and partition the head keeps the epoch, the last sequence appended and
 * the last few appends (first/last sequence, base offset, append time). A retry of any
 * of those returns its original offsets; the state expires after
 * `producerStateRetentionMs` of silence (days, not DynamoDB's 10-minute token window).
 */

import { casUpdate } from './cas.js';
import type { Clock, Random } from './clock.js';
import { SluiceError } from './errors.js';
import { keys } from './keys.js';
import type { Json, MetaStore } from './ports.js';

/** Appends remembered per producer and partition, as Kafka keeps 5 in-flight batches. */
export const RECENT_APPENDS = 5;

export interface ProducerStateLimits {
  /** Silence after which a producer's state is forgotten. Default 7 days. */
  retentionMs: number;
  /**
   * Producers remembered per partition beyond the active ones; the least recently seen
   * idle producers go first. Default 64.
   */
  maxPerPartition: number;
  /**
   * A producer seen this recently is never evicted for space, so its retries are always
   * recognised (longer than any client's retry window). Default 15 minutes.
   */
  activeMs: number;
  /** A hard bound that keeps the head item far below DynamoDB's 400 KB. Default 1000. */
  hardMaxPerPartition: number;
}

export const DEFAULT_PRODUCER_LIMITS: ProducerStateLimits = {
  retentionMs: 7 * 24 * 3600 * 1000,
  maxPerPartition: 64,
  activeMs: 15 * 60 * 1000,
  hardMaxPerPartition: 1000,
};

/** [firstSequence, lastSequence, baseOffset, logAppendTime] */
export type RecentAppend = [number, number, number, number];

/** What a head item stores for one producer (short names: it is paid for per byte). */
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

/**
 * Decides what to do with an append given the partition's producer state.
 * Throws INVALID_PRODUCER_EPOCH or OUT_OF_ORDER_SEQUENCE_NUMBER.
 */
export function checkSequence(states: ProducerStates | undefined, append: ProducerAppend): SequenceCheck {
  const state = states?.[append.producerId];
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

/** The state after an append, pruned of expired and excess producers. */
export function recordAppend(
  states: ProducerStates | undefined,
  append: ProducerAppend,
  baseOffset: number,
  now: number,
  limits: ProducerStateLimits = DEFAULT_PRODUCER_LIMITS,
): ProducerStates {
  const prev = states?.[append.producerId];
  const recent: RecentAppend[] = prev && prev.e === append.epoch ? prev.r.slice(-(RECENT_APPENDS - 1)) : [];
  recent.push([append.firstSequence, append.lastSequence, baseOffset, now]);
  const next: ProducerStates = {
    ...states,
    [append.producerId]: { e: append.epoch, s: append.lastSequence, t: now, r: recent },
  };
  return pruneProducers(next, now, limits);
}

export function pruneProducers(
  states: ProducerStates,
  now: number,
  limits: ProducerStateLimits,
): ProducerStates {
  const alive = Object.entries(states).filter(([, s]) => now - s.t <= limits.retentionMs);
  alive.sort((a, b) => b[1].t - a[1].t);
  const active = alive.filter(([, s]) => now - s.t <= limits.activeMs);
  // Idle producers keep only their last append: a retry that late is of that one at most.
  const idle = alive
    .filter(([, s]) => now - s.t > limits.activeMs)
    .slice(0, limits.maxPerPartition)
    .map(([id, s]): [string, ProducerState] => [id, s.r.length > 1 ? { ...s, r: s.r.slice(-1) } : s]);
  return Object.fromEntries([...active, ...idle].slice(0, limits.hardMaxPerPartition));
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
