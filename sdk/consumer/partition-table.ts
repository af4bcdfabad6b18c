/**
 * The partitions a consumer consumes and what the application asked of them: the state of
 * each (partition.ts), paused topics and partitions, and seeks made before a partition was
 * assigned. Pure bookkeeping: no requests.
 */
import { SluiceArgumentError } from '../errors.js';
import { PartitionState } from './partition.js';
import type { TopicPartitions } from './types.js';

/** The map key of a topic-partition. */
export function partitionKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

/** Parses an offset given as a kafkajs string or a number; throws SluiceArgumentError. */
export function toOffset(value: string | number): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new SluiceArgumentError(`offset must be a non-negative integer, got '${value}'`);
  return n;
}

export class PartitionTable {
  /** The partitions consumed now (and those being revoked), by `partitionKey`. */
  readonly states = new Map<string, PartitionState>();
  private readonly pausedTopics = new Set<string>();
  private readonly pausedPartitions = new Set<string>();
  private readonly pendingSeeks = new Map<string, number>();
  /** The group's latest assignment, by `partitionKey`. */
  latestAssignment = new Set<string>();

  get(topic: string, partition: number): PartitionState | undefined {
    return this.states.get(partitionKey(topic, partition));
  }

  /** Every partition state, revoking ones included. */
  all(): PartitionState[] {
    return [...this.states.values()];
  }

  /** Adds a state for the partition unless there is one; true when added. */
  add(topic: string, partition: number): boolean {
    const k = partitionKey(topic, partition);
    if (this.states.has(k)) return false;
    this.states.set(k, new PartitionState(topic, partition));
    return true;
  }

  isPaused(s: PartitionState): boolean {
    return this.pausedTopics.has(s.topic) || this.pausedPartitions.has(s.key);
  }

  pause(topics: { topic: string; partitions?: number[] }[]): void {
    for (const t of topics) {
      if (t.partitions === undefined) this.pausedTopics.add(t.topic);
      else for (const p of t.partitions) this.pausedPartitions.add(partitionKey(t.topic, p));
    }
  }

  resume(topics: { topic: string; partitions?: number[] }[]): void {
    for (const t of topics) {
      if (t.partitions === undefined) {
        this.pausedTopics.delete(t.topic);
        for (const k of [...this.pausedPartitions])
          if (k.startsWith(`${t.topic}\u0000`)) this.pausedPartitions.delete(k);
      } else for (const p of t.partitions) this.pausedPartitions.delete(partitionKey(t.topic, p));
    }
  }

  paused(): TopicPartitions[] {
    const out = new Map<string, Set<number>>();
    for (const s of this.states.values()) {
      if (this.isPaused(s)) out.set(s.topic, (out.get(s.topic) ?? new Set()).add(s.partition));
    }
    for (const k of this.pausedPartitions) {
      const [topic, p] = k.split('\u0000') as [string, string];
      out.set(topic, (out.get(topic) ?? new Set()).add(Number(p)));
    }
    return [...out].map(([topic, ps]) => ({ topic, partitions: [...ps].sort((a, b) => a - b) }));
  }

  /**
   * Moves a partition's position to `offset`; before the partition is consumed, keeps the
   * seek for when it is. True when a consumed partition moved (the fetch loop must wake).
   */
  seek(topic: string, partition: number, offset: number): boolean {
    const state = this.get(topic, partition);
    if (!state) {
      this.pendingSeeks.set(partitionKey(topic, partition), offset);
      return false;
    }
    state.position = offset;
    state.resolved = offset;
    state.reset = false;
    state.retryAt = 0;
    state.generation++;
    return true;
  }

  /** The seek made for a partition before it was consumed, removed from the table. */
  takePendingSeek(s: PartitionState): number | undefined {
    const seek = this.pendingSeeks.get(s.key);
    if (seek !== undefined) this.pendingSeeks.delete(s.key);
    return seek;
  }

  /** The consumed partitions by topic, sorted; with `includeRevoking`, those being released too. */
  owned(includeRevoking: boolean): TopicPartitions[] {
    const by = new Map<string, number[]>();
    for (const s of this.states.values()) {
      if (s.revoking && !includeRevoking) continue;
      by.set(s.topic, [...(by.get(s.topic) ?? []), s.partition]);
    }
    return [...by].map(([topic, partitions]) => ({ topic, partitions: partitions.sort((a, b) => a - b) }));
  }
}
