/**
 * Join, heartbeat and leave as pure functions of the group state: `(state, request, now)`
 * → next state + response. The coordinator runs them inside a compare-and-set loop, so they
 * may run several times per request and must depend only on their arguments.
 *
 * Every call first drops members whose session ran out — a crashed member is removed by the
 * next heartbeat of anyone — then recomputes the target assignment if membership,
 * subscriptions or a subscribed topic's partition count changed, then reconciles the calling
 * member. A heartbeat that changes nothing returns `next: undefined`: nothing is written.
 *
 * What a member must do for "never two owners" to hold (the SDK does all of it):
 * - heartbeat every `heartbeatIntervalMs`, one heartbeat in flight at a time, ignoring the
 *   response of a request it gave up on, and send back the epoch of the last response;
 * - consume only its `assignment`, and stop consuming a partition before it sends a heartbeat
 *   that no longer lists it in `ownedPartitions` (or, without `ownedPartitions`, any heartbeat
 *   after the response that took it away);
 * - stop consuming everything once `sessionTimeoutMs` passed since it sent its last heartbeat
 *   that succeeded: the server may have expired it (never earlier than that);
 * - on UNKNOWN_MEMBER_ID or FENCED_MEMBER_EPOCH, drop its partitions and rejoin with epoch 0,
 *   naming its old `memberId` so the old incarnation is released at once.
 *
 * A member whose join response is lost stays in the group, holding what it was granted,
 * until its session expires (Kafka's server-issued ids share this; KIP-1082 fixed it there
 * with client-chosen ids).
 */
import { SluiceError } from '../errors.js';
import { ASSIGNORS } from './assignors/index.js';
import { type GroupConfig, heartbeatInterval, needsRefresh, sessionDeadline } from './config.js';
import { emptyGroup, fingerprint, type GroupState, isLive, type MemberState } from './model.js';
import { EMPTY, type TopicPartitionList, type TopicPartitions, toList } from './partition-sets.js';
import { reconcileMember } from './reconcile.js';

/** A heartbeat as the API defines it, already validated (see `validateHeartbeat`). */
export interface HeartbeatRequest {
  memberId?: string;
  /** 0 joins, -1 leaves, otherwise the epoch of the member's last response. */
  memberEpoch: number;
  /** Subscribed topics; required to join, a change re-subscribes. */
  topics?: readonly string[];
  /** The partitions the member still consumes; absent = exactly its assignment. */
  ownedPartitions?: TopicPartitions;
  sessionTimeoutMs?: number;
}

export interface HeartbeatResponse {
  memberId: string;
  /** ≥ 1 for a member; -1 after leaving. */
  memberEpoch: number;
  heartbeatIntervalMs: number;
  assignment: TopicPartitionList[];
}

export interface MembershipContext {
  now: number;
  config: GroupConfig;
  /** Partition count of every topic any member (or this request) subscribes to; 0 if absent. */
  partitionCounts: (topic: string) => number;
  /** The id a joining member gets; drawn once per request so retries agree. */
  newMemberId: string;
}

export interface MembershipResult {
  /** The state to write, or undefined when nothing changed. */
  next: GroupState | undefined;
  response: HeartbeatResponse;
}

/** Every topic the group will need partition counts for after this request. */
export function topicsOf(
  state: GroupState | undefined,
  request?: Pick<HeartbeatRequest, 'topics'>,
): string[] {
  const topics = new Set<string>(request?.topics ?? []);
  for (const m of Object.values(state?.members ?? {})) for (const t of m.topics) topics.add(t);
  return [...topics].sort();
}

function withoutExpired(state: GroupState, now: number): { state: GroupState; changed: boolean } {
  const live = Object.entries(state.members).filter(([, m]) => isLive(m, now));
  if (live.length === Object.keys(state.members).length) return { state, changed: false };
  return { state: { ...state, members: Object.fromEntries(live) }, changed: true };
}

/**
 * Recomputes every member's target when `force` or when a subscribed topic's partition count
 * moved; bumps the group epoch when it does.
 */
function retarget(state: GroupState, ctx: MembershipContext, force: boolean): GroupState {
  const counts: Record<string, number> = {};
  for (const topic of topicsOf(state)) counts[topic] = ctx.partitionCounts(topic);
  const sameCounts =
    Object.keys(counts).length === Object.keys(state.partitionCounts).length &&
    Object.entries(counts).every(([t, n]) => state.partitionCounts[t] === n);
  if (!force && sameCounts) return state;
  const assignor = ASSIGNORS[ctx.config.assignor];
  const ids = Object.keys(state.members).sort();
  const previous: Record<string, TopicPartitions> = {};
  for (const id of ids) previous[id] = state.members[id]!.target;
  const target = assignor({
    members: ids.map((id) => ({ id, topics: state.members[id]!.topics })),
    partitionCounts: counts,
    previous,
  });
  const members: Record<string, MemberState> = {};
  for (const id of ids) members[id] = { ...state.members[id]!, target: target[id] ?? EMPTY };
  return { epoch: state.epoch + 1, partitionCounts: counts, members };
}

function sameTopics(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

function fenced(memberId: string, got: number, member: MemberState): SluiceError {
  return new SluiceError(
    'FENCED_MEMBER_EPOCH',
    `member ${memberId} sent epoch ${got} but is at epoch ${member.epoch}; rejoin with memberEpoch 0`,
  );
}

export function unknownMember(group: string | undefined, memberId: string | undefined): SluiceError {
  return new SluiceError(
    'UNKNOWN_MEMBER_ID',
    `member ${memberId ?? '(none)'} is not in group${group ? ` ${group}` : ''} (it left or its session expired); rejoin with memberEpoch 0`,
  );
}

/**
 * Applies a join (epoch 0) or heartbeat (epoch ≥ 1). Leaves go through {@link applyLeave}.
 *
 * @throws SluiceError UNKNOWN_MEMBER_ID for a member that is not (or no longer) in the group,
 *   FENCED_MEMBER_EPOCH for an epoch that is neither the member's current nor previous one.
 */
export function applyHeartbeat(
  current: GroupState | undefined,
  req: HeartbeatRequest,
  ctx: MembershipContext,
): MembershipResult {
  const { now, config } = ctx;
  const expired = withoutExpired(current ?? emptyGroup(), now);
  let state = expired.state;
  let membershipChanged = expired.changed;
  let memberId: string;
  let member: MemberState;
  let atCurrentEpoch = true;

  if (req.memberEpoch === 0) {
    memberId = ctx.newMemberId;
    const members = { ...state.members };
    // A client rejoining under its old id starts over: its old incarnation holds nothing.
    if (req.memberId !== undefined) delete members[req.memberId];
    const sessionTimeoutMs = req.sessionTimeoutMs ?? config.defaultSessionTimeoutMs;
    member = {
      epoch: 0,
      previousEpoch: 0,
      topics: [...new Set(req.topics ?? [])].sort(),
      sessionTimeoutMs,
      expiresAt: sessionDeadline(config, now, sessionTimeoutMs),
      target: EMPTY,
      assigned: EMPTY,
      revoking: EMPTY,
      granted: EMPTY,
    };
    members[memberId] = member;
    state = { ...state, members };
    membershipChanged = true;
  } else {
    memberId = req.memberId!;
    const found = state.members[memberId];
    if (!found) throw unknownMember(undefined, memberId);
    if (req.memberEpoch !== found.epoch) {
      if (found.previousEpoch === 0 || req.memberEpoch !== found.previousEpoch) {
        throw fenced(memberId, req.memberEpoch, found);
      }
      atCurrentEpoch = false;
    }
    member = found;
    if (req.topics !== undefined) {
      const topics = [...new Set(req.topics)].sort();
      if (!sameTopics(topics, member.topics)) {
        member = { ...member, topics };
        membershipChanged = true;
      }
    }
    if (req.sessionTimeoutMs !== undefined && req.sessionTimeoutMs !== member.sessionTimeoutMs) {
      member = {
        ...member,
        sessionTimeoutMs: req.sessionTimeoutMs,
        expiresAt: sessionDeadline(config, now, req.sessionTimeoutMs),
      };
    }
    state = { ...state, members: { ...state.members, [memberId]: member } };
  }

  state = retarget(state, ctx, membershipChanged);
  member = state.members[memberId]!;
  const others = Object.entries(state.members)
    .filter(([id]) => id !== memberId)
    .map(([, m]) => m);
  member = reconcileMember({ member, others, owned: req.ownedPartitions, atCurrentEpoch });
  if (member.epoch === 0) member = { ...member, epoch: 1, previousEpoch: 0 };

  state = { ...state, members: { ...state.members, [memberId]: member } };
  const changed =
    current === undefined ||
    fingerprint(state) !== fingerprint(current) ||
    needsRefresh(now, member.expiresAt, member.sessionTimeoutMs);
  // A write is paid for anyway: push the deadline forward for free.
  if (changed) {
    member = { ...member, expiresAt: sessionDeadline(config, now, member.sessionTimeoutMs) };
    state = { ...state, members: { ...state.members, [memberId]: member } };
  }

  return {
    next: changed ? state : undefined,
    response: {
      memberId,
      memberEpoch: member.epoch,
      heartbeatIntervalMs: heartbeatInterval(config, member.sessionTimeoutMs),
      assignment: toList(member.assigned),
    },
  };
}

/**
 * Removes a member. Leaving is idempotent: a member already gone (left, expired, or a group
 * that does not exist) gets the same answer and nothing is written.
 */
export function applyLeave(
  current: GroupState | undefined,
  memberId: string,
  ctx: Omit<MembershipContext, 'newMemberId'>,
): MembershipResult {
  const response: HeartbeatResponse = {
    memberId,
    memberEpoch: -1,
    heartbeatIntervalMs: 0,
    assignment: [],
  };
  if (!current) return { next: undefined, response };
  let { state, changed } = withoutExpired(current, ctx.now);
  if (state.members[memberId]) {
    const members = { ...state.members };
    delete members[memberId];
    state = { ...state, members };
    changed = true;
  }
  if (!changed) return { next: undefined, response };
  return { next: retarget(state, { ...ctx, newMemberId: '' }, true), response };
}
