/**
 * The group coordinator without a coordinator process (DESIGN.md §6): each call reads the
 * group item, applies a pure state change and writes it by compare-and-set. Any number of
 * Lambda instances may serve the same group at once; they agree through the item's version.
 */
import type { Clock, Random } from '../clock.js';
import { InvalidRequestError, SluiceError } from '../errors.js';
import { keys } from '../keys.js';
import type { MetaStore, TransactOp } from '../ports.js';
import { DEFAULT_GROUP_CONFIG, type GroupConfig } from './config.js';
import {
  describeGroup,
  type GroupDescription,
  type GroupSummary,
  listGroups,
  liveMembers,
  notFound,
  readOffsets,
} from './describe.js';
import { newMemberId } from './member-id.js';
import {
  applyHeartbeat,
  applyLeave,
  type HeartbeatResponse,
  type MembershipContext,
  topicsOf,
} from './membership.js';
import { emptyGroup, type GroupState } from './model.js';
import type { CommitLag } from './offsets.js';
import {
  type CommittedOffset,
  checkAgainstLog,
  checkCommitAllowed,
  checkForward,
  incarnations,
  isNoop,
  offsetData,
  offsetKey,
  visibleOffsets,
} from './offsets.js';
import type { TopicView } from './ports.js';
import {
  type CommitInput,
  type HeartbeatInput,
  type OffsetCommit,
  validateCommit,
  validateHeartbeat,
} from './requests.js';
import { readGroup, type StoreDeps, updateGroup } from './store.js';
import { validateGroupId, validateOffset, validatePartition, validateTopic } from './validate.js';

export interface GroupCoordinatorDeps {
  meta: MetaStore;
  topics: TopicView;
  clock: Clock;
  random: Random;
  config?: Partial<GroupConfig>;
}

/**
 * Offsets per transaction: DynamoDB allows 100 operations, two are kept for the group item
 * and its catalog entry. A larger commit is split; each part is atomic with the ownership
 * check, the whole is not.
 */
const OFFSETS_PER_TRANSACTION = 98;

function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out.length > 0 ? out : [[]];
}

/**
 * Consumer groups over a MetaStore: join/heartbeat/leave with server-side assignment,
 * fenced offset commits, and admin views.
 *
 * @example
 * const groups = new GroupCoordinator({ meta, topics: topicView, clock, random });
 * let hb = await groups.heartbeat('billing', { memberEpoch: 0, topics: ['orders'] });
 * hb = await groups.heartbeat('billing', {
 *   memberId: hb.memberId,
 *   memberEpoch: hb.memberEpoch,
 *   ownedPartitions: hb.assignment,
 * });
 * await groups.commitOffsets('billing', {
 *   memberId: hb.memberId,
 *   memberEpoch: hb.memberEpoch,
 *   offsets: [{ topic: 'orders', partition: 0, offset: 42 }],
 * });
 */
export class GroupCoordinator {
  readonly config: GroupConfig;
  private readonly store: StoreDeps;

  constructor(private readonly deps: GroupCoordinatorDeps) {
    this.config = { ...DEFAULT_GROUP_CONFIG, ...deps.config };
    this.store = {
      meta: deps.meta,
      clock: deps.clock,
      random: deps.random,
      maxAttempts: this.config.maxAttempts,
    };
  }

  /**
   * Joins (`memberEpoch` 0), heartbeats (the last epoch received) or leaves (-1).
   *
   * @throws SluiceError UNKNOWN_MEMBER_ID, FENCED_MEMBER_EPOCH, INVALID_REQUEST,
   *   INVALID_TOPIC_EXCEPTION; UNAVAILABLE (retriable) under extreme contention.
   */
  async heartbeat(group: string, input: HeartbeatInput): Promise<HeartbeatResponse> {
    validateGroupId(group);
    const req = validateHeartbeat(input, this.config);
    const newId = req.memberEpoch === 0 ? newMemberId(this.deps.random) : '';
    const counts = new Map<string, number>();
    return updateGroup(this.store, group, async ({ state }) => {
      await this.loadCounts(counts, topicsOf(state, req));
      const ctx: MembershipContext = {
        now: this.deps.clock.now(),
        config: this.config,
        partitionCounts: (t) => counts.get(t) ?? 0,
        newMemberId: newId,
      };
      const { next, response } =
        req.memberEpoch === -1 ? applyLeave(state, req.memberId!, ctx) : applyHeartbeat(state, req, ctx);
      return next ? { result: response, group: { put: next } } : { result: response };
    });
  }

  private async loadCounts(counts: Map<string, number>, topics: readonly string[]): Promise<void> {
    const missing = topics.filter((t) => !counts.has(t));
    const found = await Promise.all(missing.map((t) => this.deps.topics.partitionCount(t)));
    missing.forEach((t, i) => {
      counts.set(t, found[i] ?? 0);
    });
  }

  /**
   * Commits offsets (the next offset to read), fenced by the member's epoch and ownership.
   *
   * @throws SluiceError FENCED_MEMBER_EPOCH, UNKNOWN_MEMBER_ID, NON_EMPTY_GROUP (no member,
   *   but the group has members), UNKNOWN_TOPIC_OR_PARTITION, OFFSET_OUT_OF_RANGE (past the
   *   high watermark, or behind the committed offset).
   */
  async commitOffsets(group: string, input: CommitInput): Promise<{ lag: CommitLag[] }> {
    validateGroupId(group);
    const req = validateCommit(input);
    const lag = await checkAgainstLog(this.deps.topics, req.offsets);
    if (req.offsets.length > OFFSETS_PER_TRANSACTION) {
      // Several transactions: check the whole request first, so that a refusal (fencing,
      // ownership, a backwards offset) never leaves part of it written.
      const { state } = await readGroup(this.deps.meta, group);
      checkCommitAllowed(state, group, req, this.deps.clock.now());
      const current = await this.deps.meta.batchGet(req.offsets.map((o) => offsetKey(group, o)));
      req.offsets.forEach((o, i) => {
        checkForward(o, current[i]);
      });
    }
    for (const part of chunks(req.offsets, OFFSETS_PER_TRANSACTION)) {
      await updateGroup(this.store, group, async ({ item, state }) => {
        const now = this.deps.clock.now();
        checkCommitAllowed(state, group, { ...req, offsets: part }, now);
        const ops = await this.offsetWrites(group, part, now, true);
        if (ops.length === 0) return { result: undefined };
        // A standalone commit may be the group's first trace: it creates the (empty) group.
        return { result: undefined, group: item ? { check: true } : { put: emptyGroup() }, ops };
      });
    }
    return { lag };
  }

  /** Puts of the offsets that change something, each conditioned on the item read. */
  private async offsetWrites(
    group: string,
    offsets: readonly OffsetCommit[],
    now: number,
    forwardOnly: boolean,
  ): Promise<TransactOp[]> {
    const current = await this.deps.meta.batchGet(offsets.map((o) => offsetKey(group, o)));
    const ops: TransactOp[] = [];
    offsets.forEach((o, i) => {
      const cur = current[i];
      if (forwardOnly) checkForward(o, cur);
      if (isNoop(o, cur)) return;
      ops.push({
        type: 'put',
        key: offsetKey(group, o),
        data: offsetData(o, now),
        condition: cur ? { version: cur.version } : { absent: true },
      });
    });
    return ops;
  }

  /** Committed offsets of a group. @throws SluiceError GROUP_ID_NOT_FOUND */
  async fetchOffsets(group: string): Promise<{ group: string; offsets: CommittedOffset[] }> {
    validateGroupId(group);
    const [exists, stored] = await Promise.all([
      this.deps.meta.get(keys.group(group)),
      readOffsets(this.deps.meta, group),
    ]);
    if (!exists) throw notFound(group);
    // Offsets of a deleted topic, or of an older topic of the same name, are not shown.
    const ids = await incarnations(
      this.deps.topics,
      stored.map((o) => o.topic),
    );
    return { group, offsets: visibleOffsets(stored, ids) };
  }

  /** Every group with its state and number of live members. */
  listGroups(): Promise<GroupSummary[]> {
    return listGroups({ meta: this.deps.meta, now: () => this.deps.clock.now() });
  }

  /** State, members and per-partition lag. @throws SluiceError GROUP_ID_NOT_FOUND */
  describeGroup(group: string): Promise<GroupDescription> {
    validateGroupId(group);
    return describeGroup(
      { meta: this.deps.meta, topics: this.deps.topics, now: () => this.deps.clock.now() },
      group,
    );
  }

  /**
   * Deletes a group without live members, with its committed offsets.
   *
   * Up to 97 offsets go in the same transaction as the group item. Beyond that, offsets are
   * deleted first, page by page, each page checked against the group's version; a member
   * joining meanwhile stops the deletion with NON_EMPTY_GROUP, leaving the group without
   * the offsets deleted so far.
   *
   * @throws SluiceError GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP
   */
  async deleteGroup(group: string): Promise<void> {
    validateGroupId(group);
    for (let done = false; !done; ) {
      done = await updateGroup(this.store, group, async ({ state }) => {
        this.requireEmpty(group, state, true);
        const page = await this.deps.meta.query(
          keys.groupPk(group),
          { beginsWith: keys.committedPrefix },
          { limit: 97 },
        );
        const ops: TransactOp[] = page.items.map((i) => ({ type: 'delete', key: { pk: i.pk, sk: i.sk } }));
        return page.next === undefined
          ? { result: true, group: { delete: true }, ops }
          : { result: false, group: { check: true }, ops };
      });
    }
  }

  /**
   * Admin: sets committed offsets of one topic to exactly the values given — the only way
   * an offset moves backwards. Allowed only while the group has no live members; creates the
   * group if needed.
   *
   * @throws SluiceError NON_EMPTY_GROUP, UNKNOWN_TOPIC_OR_PARTITION, OFFSET_OUT_OF_RANGE
   */
  async resetOffsets(
    group: string,
    topic: string,
    offsets: readonly { partition: number; offset: number }[],
  ): Promise<void> {
    validateGroupId(group);
    validateTopic(topic, 'topic');
    const list: OffsetCommit[] = offsets.map((o, i) => {
      validatePartition(o?.partition, `offsets.${i}.partition`);
      validateOffset(o.offset, `offsets.${i}.offset`);
      return { topic, partition: o.partition, offset: o.offset };
    });
    if (new Set(list.map((o) => o.partition)).size !== list.length) {
      throw new InvalidRequestError('offsets: a partition is named twice', 'offsets');
    }
    await checkAgainstLog(this.deps.topics, list);
    if (list.length > OFFSETS_PER_TRANSACTION) {
      this.requireEmpty(group, (await readGroup(this.deps.meta, group)).state, false);
    }
    for (const part of chunks(list, OFFSETS_PER_TRANSACTION)) {
      await updateGroup(this.store, group, async ({ item, state }) => {
        this.requireEmpty(group, state, false);
        const ops = await this.offsetWrites(group, part, this.deps.clock.now(), false);
        if (ops.length === 0) return { result: undefined };
        return { result: undefined, group: item ? { check: true } : { put: emptyGroup() }, ops };
      });
    }
  }

  private requireEmpty(group: string, state: GroupState | undefined, mustExist: boolean): void {
    if (!state) {
      if (mustExist) throw notFound(group);
      return;
    }
    const live = liveMembers(state, this.deps.clock.now()).length;
    if (live > 0) throw new SluiceError('NON_EMPTY_GROUP', `group ${group} has ${live} live member(s)`);
  }
}
