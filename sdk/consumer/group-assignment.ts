/**
 * The consumer's side of group membership: which topics it asks the group for (names and
 * patterns, re-resolved every `metadataMaxAge`), applying the assignments the heartbeat
 * (membership.ts) brings — new partitions consumed, taken ones revoked (processing stops,
 * what was processed is committed, then the group is told they are released) — and, without
 * a group, the partitions `assign`/`subscribe` name.
 */
import type { CommitPolicy } from './commit-policy.js';
import type { MembershipHooks } from './membership.js';
import type { PartitionState } from './partition.js';
import { partitionKey } from './partition-table.js';
import type { ConsumerRuntime } from './runtime.js';
import { ConsumerEvents, type TopicPartitions } from './types.js';

export class GroupAssignment<K, V> {
  private resolvedTopics: { at: number; topics: string[] } | undefined;

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
      onJoin: (memberId: string, memberEpoch: number, assignment: TopicPartitions[]) =>
        rt.emit(ConsumerEvents.GROUP_JOIN, {
          groupId: rt.groupId,
          memberId,
          memberEpoch,
          memberAssignment: assignment,
        }),
      onHeartbeat: (memberId: string, memberEpoch: number) =>
        rt.emit(ConsumerEvents.HEARTBEAT, { groupId: rt.groupId, memberId, memberEpoch }),
      onAssignment: (assignment: TopicPartitions[]) => this.applyAssignment(assignment),
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
      const partitions =
        a.partitions ?? Array.from({ length: await this.rt.api.partitionCount(a.topic) }, (_, i) => i);
      for (const p of partitions) this.rt.table.add(a.topic, p);
    }
    this.rt.wakeUp();
  }
}
