/**
 * The state of a consumer group: everything lives in ONE MetaStore item (`g#<group>`/`group`)
 * changed only by compare-and-set, so there is no coordinator process — whichever Lambda
 * handles a heartbeat reads the item, computes the next state and writes it conditioned on
 * the version it read.
 *
 * Stored layout (short names: every byte of this item is paid on every write):
 *
 * ```
 * { v: 1,                       schema version
 *   e: 7,                       group epoch: +1 whenever the target assignment is recomputed
 *   pc: { orders: 12 },         partition counts the target was computed with
 *   m: { "<memberId>": {
 *     e: 4, pe: 3,              member epoch and the one before it
 *     t: ["orders"],            subscribed topics
 *     s: 45000,                 session timeout (ms)
 *     x: 1700000067500,         session deadline (ms): expired once the clock passes it
 *     g: { orders: "0-3" },     target assignment (the assignor's output)
 *     a?: { orders: "0-2" },    assignment: what the member was told it may consume; absent = g
 *     r?: { orders: "7" },      revoking: taken out of `a`, the member has not confirmed release
 *     n?: { orders: "2" } } } } held since the last epoch bump (for commits at the previous epoch)
 * ```
 *
 * Partition lists are stored as runs (`"0-3,7"`), see {@link encodeSet}.
 */
import type { ItemData, Json } from '../ports.js';
import {
  decodeSet,
  EMPTY,
  encodeSet,
  equals,
  isEmpty,
  type TopicPartitions,
  union,
} from './partition-sets.js';

export interface MemberState {
  /** ≥ 1; +1 whenever {@link assigned} changes. */
  epoch: number;
  /** The epoch before the last bump (0 for none). A response may be lost in flight. */
  previousEpoch: number;
  /** Subscribed topics, sorted. */
  topics: readonly string[];
  sessionTimeoutMs: number;
  /** The member is gone once the clock passes this (ms). */
  expiresAt: number;
  /** What the assignor wants this member to own. */
  target: TopicPartitions;
  /** What the member was last told it may consume (its `assignment`). */
  assigned: TopicPartitions;
  /** Taken out of {@link assigned}; still held until the member confirms the release. */
  revoking: TopicPartitions;
  /** Partitions that became held at the last epoch bump. */
  granted: TopicPartitions;
}

export interface GroupState {
  epoch: number;
  partitionCounts: Readonly<Record<string, number>>;
  members: Readonly<Record<string, MemberState>>;
}

/** `empty` without members, `stable` when every member holds exactly its target. */
export type GroupStateName = 'empty' | 'stable' | 'reconciling';

export const SCHEMA_VERSION = 1;

export function emptyGroup(): GroupState {
  return { epoch: 0, partitionCounts: {}, members: {} };
}

/** Every partition a member holds: no other member may be given these. */
export function held(member: MemberState): TopicPartitions {
  return isEmpty(member.revoking) ? member.assigned : union(member.assigned, member.revoking);
}

/** True while the member's session runs. */
export function isLive(member: MemberState, now: number): boolean {
  return now <= member.expiresAt;
}

/** The state of a group at `now`, counting only members whose session runs. */
export function stateName(state: GroupState, now: number): GroupStateName {
  const live = Object.values(state.members).filter((m) => isLive(m, now));
  if (live.length === 0) return 'empty';
  return live.every((m) => isEmpty(m.revoking) && equals(m.assigned, m.target)) ? 'stable' : 'reconciling';
}

/** The group item's data. */
export function encodeGroup(state: GroupState): ItemData {
  const members: Record<string, Json> = {};
  for (const id of Object.keys(state.members).sort()) {
    const m = state.members[id]!;
    const stored: Record<string, Json> = {
      e: m.epoch,
      pe: m.previousEpoch,
      t: [...m.topics],
      s: m.sessionTimeoutMs,
      x: m.expiresAt,
      g: encodeSet(m.target),
    };
    if (!equals(m.assigned, m.target)) stored.a = encodeSet(m.assigned);
    if (!isEmpty(m.revoking)) stored.r = encodeSet(m.revoking);
    if (!isEmpty(m.granted)) stored.n = encodeSet(m.granted);
    members[id] = stored;
  }
  return { v: SCHEMA_VERSION, e: state.epoch, pc: { ...state.partitionCounts }, m: members };
}

/** A canonical text of a state: equal states, equal text (key order never matters). */
export function fingerprint(state: GroupState): string {
  return stableStringify(encodeGroup(state));
}

function stableStringify(value: Json): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(value[k]!)}`).join(',')}}`;
}

/** A group item whose data this version cannot read. */
export class CorruptGroupError extends Error {
  override name = 'CorruptGroupError';
}

function num(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value))
    throw new CorruptGroupError(`group item: ${what}`);
  return value;
}

/** Inverse of {@link encodeGroup}. */
export function decodeGroup(data: ItemData): GroupState {
  if (data.v !== SCHEMA_VERSION) throw new CorruptGroupError(`group item schema ${String(data.v)}`);
  const members: Record<string, MemberState> = {};
  const storedMembers = (data.m ?? {}) as Record<string, Record<string, unknown>>;
  try {
    for (const [id, m] of Object.entries(storedMembers)) {
      const target = decodeSet(m.g);
      members[id] = {
        epoch: num(m.e, 'member epoch'),
        previousEpoch: num(m.pe, 'previous epoch'),
        topics: Array.isArray(m.t) ? (m.t as string[]) : [],
        sessionTimeoutMs: num(m.s, 'session timeout'),
        expiresAt: num(m.x, 'session deadline'),
        target,
        assigned: m.a === undefined ? target : decodeSet(m.a),
        revoking: m.r === undefined ? EMPTY : decodeSet(m.r),
        granted: m.n === undefined ? EMPTY : decodeSet(m.n),
      };
    }
  } catch (cause) {
    if (cause instanceof CorruptGroupError) throw cause;
    throw new CorruptGroupError(`group item: ${(cause as Error).message}`, { cause });
  }
  const pc: Record<string, number> = {};
  for (const [topic, n] of Object.entries((data.pc ?? {}) as Record<string, unknown>))
    pc[topic] = num(n, 'count');
  return { epoch: num(data.e, 'group epoch'), partitionCounts: pc, members };
}
