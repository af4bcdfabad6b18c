/**
 * What an assignor sees and returns. Assignors are pure and deterministic: every Lambda
 * that recomputes a target from the same group item must reach the same answer, and a
 * compare-and-set retry recomputes it from scratch.
 */
import type { TopicPartitions } from '../partition-sets.js';

export interface AssignorMember {
  id: string;
  /** Subscribed topics. */
  topics: readonly string[];
}

export interface AssignmentInput {
  /** The members to assign to; order does not matter. */
  members: readonly AssignorMember[];
  /** Partition count per topic; a topic absent or at 0 has nothing to assign. */
  partitionCounts: Readonly<Record<string, number>>;
  /** The previous target per member id (stickiness); may name departed members and partitions. */
  previous: Readonly<Record<string, TopicPartitions>>;
}

/** A target assignment: member id → partitions; every member of the input has an entry. */
export type Assignment = Record<string, TopicPartitions>;

export type Assignor = (input: AssignmentInput) => Assignment;

/** Members subscribed to `topic`, by id. */
export function subscribers(members: readonly AssignorMember[], topic: string): AssignorMember[] {
  return members
    .filter((m) => m.topics.includes(topic))
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Topics with partitions that some member subscribes to, in name order. */
export function subscribedTopics(input: AssignmentInput): string[] {
  const topics = new Set<string>();
  for (const m of input.members)
    for (const t of m.topics) if ((input.partitionCounts[t] ?? 0) > 0) topics.add(t);
  return [...topics].sort();
}
