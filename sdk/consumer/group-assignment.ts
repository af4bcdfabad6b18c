/**
 * The consumer's side of group membership: which topics it asks the group for (names and
 * patterns, re-resolved every `metadataMaxAge`), applying the assignments the heartbeat
 * (membership.ts) brings — new partitions consumed, taken ones revoked (processing stops,
 * what was processed is committed, then the group is told they are released) — and, without
 * a group, the partitions `assign`/`subscribe` name.
 */
import { UnknownTopicOrPartitionError } from '../errors.js';
import type { CommitPolicy } from './commit-policy.js';
import type { MembershipHooks } from './membership.js';
import type { PartitionState } from './partition.js';
import { partitionKey } from './partition-table.js';
import type { ConsumerRuntime } from './runtime.js';
import { ConsumerEvents, type TopicPartitions } from './types.js';

export class GroupAssignment<K, V> {
  private resolvedTopics: { at: number; topics: string[] } | undefined;
  /** A join whose GROUP_JOIN waits for its first assignment (the join answer is often empty). */
  private pendingJoin: { memberId: string; startedAt: number; answers: number } | undefined;

  constructor(
    private readonly rt: ConsumerRuntime<K, V>,
    private readonly commits: CommitPolicy<K, V>,
    private readonly metadataMaxAge: number,
  ) {}

  /** The hooks GroupMembership calls from its heartbeat. */
  hooks(): MembershipHooks {
    const { rt } = this;
    return {
      topics: () => this.subscribedTopics(),
      owned: () => rt.table.owned(true),
      onJoin: (memberId: string) => {
        this.pendingJoin = { memberId, startedAt: Date.now(), answers: 0 };
      },
      onHeartbeat: (memberId: string, memberEpoch: number) =>
        rt.emit(ConsumerEvents.HEARTBEAT, { groupId: rt.groupId, memberId, memberEpoch }),
      onAssignment: (assignment: TopicPartitions[]) => {
        this.applyAssignment(assignment);
        this.joined(assignment);
      },
      onLost: async () => {
        const states = rt.table.all();
        for (const s of states) s.revoking = true;
        rt.wakeUp();
        await Promise.all(states.map((s) => s.idle()));
        rt.table.states.clear();
        rt.table.latestAssignment = new Set();
      },
    };
  }

  /** The topics subscribed to: names, and the topics the patterns match now. */
  async subscribedTopics(): Promise<string[]> {
    const sub = this.rt.subscription;
    if (!sub) return [];
    const names = sub.patterns.filter((p): p is string => typeof p === 'string');
    const regexes = sub.patterns.filter((p): p is RegExp => p instanceof RegExp);
    if (regexes.length === 0) return [...new Set(names)];
    if (!this.resolvedTopics || Date.now() - this.resolvedTopics.at > this.metadataMaxAge) {
      const meta = await this.rt.api.metadata(true);
      const matched = meta.topics
        .map((t) => t.name)
        .filter((n) => regexes.some((r) => new RegExp(r.source, r.flags.replace('g', '')).test(n)));
      this.resolvedTopics = { at: Date.now(), topics: matched };
    }
    return [...new Set([...names, ...this.resolvedTopics.topics])];
  }

  /**
   * GROUP_JOIN as kafkajs shapes it (`memberAssignment: {[topic]: partitions}`), once the
   * member has its first assignment: the join answer's when it has one, else the next
   * heartbeat's (which may be empty: more members than partitions).
   */
  private joined(assignment: TopicPartitions[]): void {
    const join = this.pendingJoin;
    if (!join) return;
    join.answers++;
    if (assignment.every((a) => a.partitions.length === 0) && join.answers < 2) return;
    this.pendingJoin = undefined;
    const memberAssignment: Record<string, number[]> = {};
    for (const a of assignment) memberAssignment[a.topic] = [...a.partitions].sort((x, y) => x - y);
    this.rt.emit(ConsumerEvents.GROUP_JOIN, {
      duration: Date.now() - join.startedAt,
      groupId: this.rt.groupId,
      isLeader: false,
      leaderId: '',
      groupProtocol: 'uniform',
      memberId: join.memberId,
      memberEpoch: this.rt.membership?.epoch,
      memberAssignment,
    });
  }

  private applyAssignment(assignment: TopicPartitions[]): void {
    const { rt } = this;
    const next = new Set<string>();
    let changed = false;
    for (const a of assignment) {
      for (const p of a.partitions) {
        next.add(partitionKey(a.topic, p));
        if (rt.table.add(a.topic, p)) changed = true;
      }
    }
    rt.table.latestAssignment = next;
    for (const s of rt.table.all()) {
      if (!next.has(s.key) && !s.revoking) {
        changed = true;
        this.revoke(s);
      }
    }
    if (changed) {
      rt.emit(ConsumerEvents.REBALANCING, {
        groupId: rt.groupId,
        memberId: rt.membership?.memberId,
        assignment,
      });
      rt.wakeUp();
    }
  }

  /** Stops a partition, commits what was processed, then tells the group it is released. */
  private revoke(state: PartitionState): void {
    const { rt } = this;
    state.revoking = true;
    rt.wakeUp();
    void (async () => {
      await state.idle();
      if (rt.runConfig.autoCommit) {
        await this.commits.commitResolved([state]).catch((err) =>
          rt.logger.warn('commit on revocation failed', {
            topic: state.topic,
            partition: state.partition,
            error: String(err),
          }),
        );
      }
      if (rt.table.states.get(state.key) === state) rt.table.states.delete(state.key);
      // Given back while it was being revoked: consume it again (from its committed offset).
      if (rt.running && rt.table.latestAssignment.has(state.key) && !rt.table.states.has(state.key)) {
        rt.table.add(state.topic, state.partition);
        rt.wakeUp();
      }
      rt.membership?.kick();
    })();
  }

  /** Without a group: consume the partitions `assign` named (all of a topic's when omitted). */
  async applyManual(manual: { topic: string; partitions?: number[] }[]): Promise<void> {
    for (const a of manual) {
      // Throws UnknownTopicOrPartitionError for a missing topic: never wait silently on it.
      const count = await this.rt.api.partitionCount(a.topic);
      const missing = a.partitions?.find((p) => !Number.isInteger(p) || p < 0 || p >= count);
      if (missing !== undefined) {
        throw new UnknownTopicOrPartitionError(
          `topic '${a.topic}' has partitions 0-${count - 1}; partition ${missing} does not exist`,
          { status: 404 },
        );
      }
      const partitions = a.partitions ?? Array.from({ length: count }, (_, i) => i);
      for (const p of partitions) this.rt.table.add(a.topic, p);
    }
    this.rt.wakeUp();
  }
}
