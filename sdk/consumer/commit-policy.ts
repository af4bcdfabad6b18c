/**
 * The consumer's commit policy: which processed offsets to commit and when (every fetch,
 * `autoCommitInterval`, `autoCommitThreshold`, on revocation and on stop), one commit at a
 * time so an older commit never lands after a newer one, never backwards, and what a
 * refused commit means (fenced: rejoin; behind: ignore).
 */
import {
  FencedMemberEpochError,
  OffsetOutOfRangeError,
  UnknownMemberIdError,
  UnknownTopicIdError,
} from '../errors.js';
import type { PartitionState } from './partition.js';
import type { ConsumerRuntime } from './runtime.js';
import { ConsumerEvents, type OffsetsByTopicPartition } from './types.js';

export interface OffsetToCommit {
  topic: string;
  partition: number;
  offset: number;
  metadata?: string;
}

export class CommitPolicy<K, V> {
  private lastCommit = Date.now();
  private committing: Promise<void> = Promise.resolve();

  constructor(private readonly rt: ConsumerRuntime<K, V>) {}

  /** Processed offsets not committed yet (kafkajs `uncommittedOffsets()`). */
  uncommitted(): OffsetsByTopicPartition {
    const by = new Map<string, { partition: number; offset: string }[]>();
    for (const s of this.rt.table.all()) {
      if (s.resolved !== undefined && s.resolved > (s.committed ?? -1)) {
        by.set(s.topic, [...(by.get(s.topic) ?? []), { partition: s.partition, offset: String(s.resolved) }]);
      }
    }
    return { topics: [...by].map(([topic, partitions]) => ({ topic, partitions })) };
  }

  /** Commits what was processed when the interval or threshold says so (always, with neither). */
  async commitIfNecessary(): Promise<void> {
    if (this.rt.groupId === undefined) return;
    const { autoCommitInterval: interval, autoCommitThreshold: threshold } = this.rt.runConfig;
    const pending = this.rt.table.all().reduce((n, s) => n + s.uncommitted, 0);
    const due =
      (!interval && !threshold) ||
      (interval && Date.now() - this.lastCommit >= interval) ||
      (threshold && pending >= threshold);
    if (due) await this.commitResolved(this.rt.table.all());
  }

  /** Commits the processed offsets of these partitions. */
  async commitResolved(states: PartitionState[]): Promise<void> {
    if (this.rt.groupId === undefined) return;
    const offsets = states
      .filter((s) => s.resolved !== undefined && s.resolved > (s.committed ?? -1))
      .map((s) => ({ topic: s.topic, partition: s.partition, offset: s.resolved! }));
    if (offsets.length === 0) return;
    await this.commit(offsets);
  }

  /**
   * Commits one at a time, so that an older commit never lands after a newer one.
   * Resolves true when the offsets are committed (now or before), false when refused.
   */
  commit(offsets: OffsetToCommit[]): Promise<boolean> {
    const run = this.committing.then(() => this.commitNow(offsets));
    this.committing = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async commitNow(offsets: OffsetToCommit[]): Promise<boolean> {
    const { rt } = this;
    // Never backwards: the server refuses it, and it would re-deliver what was processed.
    const forward = offsets.filter((o) => {
      const s = rt.table.get(o.topic, o.partition);
      return (
        !s ||
        s.committed === undefined ||
        o.offset > s.committed ||
        (o.metadata !== undefined && o.offset === s.committed)
      );
    });
    if (forward.length === 0) return true;
    const member =
      rt.membership && rt.membership.epoch > 0
        ? { memberId: rt.membership.memberId, memberEpoch: rt.membership.epoch }
        : {};
    // Each offset names the incarnation its position was read from: a topic deleted and
    // re-created since refuses it (UNKNOWN_TOPIC_ID) rather than taking an old position.
    const named = forward.map((o) => {
      const topicId = rt.table.get(o.topic, o.partition)?.topicId;
      return topicId === undefined ? o : { ...o, topicId };
    });
    try {
      await rt.api.call(
        'groups',
        {
          method: 'POST',
          path: `/v1/groups/${encodeURIComponent(rt.groupId!)}/offsets`,
          json: { ...member, offsets: named },
        },
        rt.retry,
      );
    } catch (err) {
      if (err instanceof FencedMemberEpochError || err instanceof UnknownMemberIdError) {
        rt.logger.warn('commit refused: this member was fenced; rejoining', { error: err.message });
        rt.membership?.requestRejoin();
        return false;
      }
      if (err instanceof UnknownTopicIdError) {
        rt.logger.warn('commit refused: the topic was deleted since these offsets were read', {
          error: err.message,
        });
        return false;
      }
      if (err instanceof OffsetOutOfRangeError) {
        rt.logger.warn('commit refused (behind the committed offset, or past the log end)', {
          error: err.message,
        });
        return false;
      }
      throw err;
    }
    this.lastCommit = Date.now();
    for (const o of forward) {
      const s = rt.table.get(o.topic, o.partition);
      if (!s) continue;
      s.committed = Math.max(s.committed ?? -1, o.offset);
      s.uncommitted = 0;
    }
    rt.emit(ConsumerEvents.COMMIT_OFFSETS, { groupId: rt.groupId, topics: forward });
    return true;
  }
}
