/**
 * Handing fetched messages to the application: `eachMessage` or `eachBatch`, in offset order
 * per partition, several partitions at once up to `partitionsConsumedConcurrently`; nothing
 * of a batch that went stale (revoked, paused, sought, session lapsed); at-most-once commits
 * before handing over; a failed handler makes its partition retry from the failed offset.
 */

import type { KafkaMessage } from '../messages.js';
import { backoff } from '../retry.js';
import type { CommitPolicy } from './commit-policy.js';
import type { PartitionState } from './partition.js';
import { toOffset } from './partition-table.js';
import type { ConsumerRuntime } from './runtime.js';
import { type Batch, ConsumerEvents, type EachBatchPayload } from './types.js';

/** One partition's fetched messages, waiting to be handed over. */
export interface Work<K, V> {
  state: PartitionState;
  generation: number;
  messages: KafkaMessage<K, V>[];
  /** Offset after the last fetched batch (skips compaction gaps). */
  end: number;
}

export class Delivery<K, V> {
  constructor(
    private readonly rt: ConsumerRuntime<K, V>,
    private readonly commits: CommitPolicy<K, V>,
  ) {}

  /** Hands over every partition's work, `partitionsConsumedConcurrently` partitions at a time. */
  async processAll(work: Work<K, V>[]): Promise<void> {
    const queue = [...work];
    const workers = Array.from(
      { length: Math.min(queue.length, this.rt.runConfig.partitionsConsumedConcurrently) },
      async () => {
        for (let w = queue.shift(); w; w = queue.shift()) {
          const item = w;
          await item.state.process(() => this.processPartition(item));
        }
      },
    );
    await Promise.all(workers);
  }

  private stale(w: Work<K, V>): boolean {
    const { rt } = this;
    return (
      !rt.running ||
      w.state.revoking ||
      rt.table.isPaused(w.state) ||
      w.state.generation !== w.generation ||
      rt.membership?.expired() === true
    );
  }

  private async processPartition(w: Work<K, V>): Promise<void> {
    const { rt } = this;
    const { state, messages } = w;
    // Revoked, paused or sought between the fetch and now: hand nothing over.
    if (this.stale(w)) return;
    const atMostOnce = rt.runConfig.delivery === 'at-most-once';
    if (atMostOnce && rt.groupId !== undefined) {
      // Commit first: whatever happens next, these messages are never handed over again.
      // A refused commit (fenced) hands nothing over: the next owner will deliver these.
      if (!(await this.commits.commit([{ topic: state.topic, partition: state.partition, offset: w.end }])))
        return;
      state.resolved = w.end;
    }
    if (rt.runConfig.eachMessage) {
      for (const message of messages) {
        if (this.stale(w)) return;
        const offset = Number(message.offset);
        try {
          await rt.runConfig.eachMessage({
            topic: state.topic,
            partition: state.partition,
            message,
            heartbeat: async () => {},
            pause: () => this.pauseOne(state),
          });
        } catch (err) {
          if (!atMostOnce) return this.handlerFailed(state, offset, err);
          rt.logger.error('eachMessage failed (at-most-once: the message is skipped)', {
            offset,
            error: String(err),
          });
        }
        // A seek from inside the handler wins over the message's own position.
        if (state.generation !== w.generation) return;
        this.resolve(state, offset);
        if (
          rt.runConfig.autoCommit &&
          (rt.runConfig.autoCommitThreshold || rt.runConfig.autoCommitInterval)
        ) {
          await this.commits.commitIfNecessary();
        }
      }
    } else {
      const payload = this.batchPayload(w);
      try {
        await rt.runConfig.eachBatch!(payload);
      } catch (err) {
        if (!atMostOnce) return this.handlerFailed(state, state.position ?? Number(messages[0]!.offset), err);
        rt.logger.error('eachBatch failed (at-most-once: the batch is skipped)', { error: String(err) });
      }
      if (this.stale(w)) return;
      const last = Number(messages.at(-1)!.offset);
      if (rt.runConfig.eachBatchAutoResolve || atMostOnce) this.resolve(state, last);
      // Unresolved messages are fetched again; a fully resolved batch moves past its gaps.
      if (state.position === last + 1) state.position = w.end;
      state.retryAttempt = 0;
      return;
    }
    if (!this.stale(w)) state.position = w.end;
    state.retryAttempt = 0;
  }

  private resolve(state: PartitionState, offset: number): void {
    state.position = offset + 1;
    state.resolved = offset + 1;
    state.uncommitted++;
  }

  private pauseOne(state: PartitionState): () => void {
    const one = [{ topic: state.topic, partitions: [state.partition] }];
    this.rt.table.pause(one);
    this.rt.wakeUp();
    return () => {
      this.rt.table.resume(one);
      this.rt.wakeUp();
    };
  }

  private handlerFailed(state: PartitionState, offset: number, err: unknown): void {
    const { rt } = this;
    state.position = offset;
    const delay = backoff(rt.retry, Math.min(state.retryAttempt, 10));
    state.retryAttempt++;
    state.retryAt = Date.now() + delay;
    rt.logger.error('message handler failed; the partition will retry from the failed offset', {
      topic: state.topic,
      partition: state.partition,
      offset,
      retryInMs: delay,
      error: String(err),
      stack: (err as Error)?.stack,
    });
    rt.emit(ConsumerEvents.CRASH, {
      error: err,
      groupId: rt.groupId,
      restart: true,
      topic: state.topic,
      partition: state.partition,
    });
  }

  private batchPayload(w: Work<K, V>): EachBatchPayload<K, V> {
    const { state, messages } = w;
    const hwm = state.highWatermark;
    const batch: Batch<K, V> = {
      topic: state.topic,
      partition: state.partition,
      highWatermark: String(hwm),
      messages,
      isEmpty: () => messages.length === 0,
      firstOffset: () => messages[0]?.offset ?? null,
      lastOffset: () => messages.at(-1)?.offset ?? String(hwm - 1),
      offsetLag: () => String(Math.max(0, hwm - 1 - Number(messages.at(-1)?.offset ?? hwm - 1))),
      offsetLagLow: () => String(Math.max(0, hwm - 1 - Number(messages[0]?.offset ?? hwm - 1))),
    };
    return {
      batch,
      resolveOffset: (offset) => {
        if (!this.stale(w)) this.resolve(state, toOffset(offset));
      },
      heartbeat: async () => {},
      pause: () => this.pauseOne(state),
      commitOffsetsIfNecessary: async (offsets) => {
        if (offsets) {
          await this.commits.commit(
            offsets.topics.flatMap((t) =>
              t.partitions.map((p) => ({
                topic: t.topic,
                partition: p.partition,
                offset: toOffset(p.offset),
              })),
            ),
          );
        } else if (this.rt.runConfig.autoCommit) await this.commits.commitIfNecessary();
      },
      uncommittedOffsets: () => this.commits.uncommitted(),
      isRunning: () => this.rt.running,
      isStale: () => this.stale(w),
    };
  }
}
