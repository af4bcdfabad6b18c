/**
 * Kafka's range assignor: per topic, members in id order each take one contiguous range of
 * partitions, the first `count % members` of them one more. Not sticky: a member joining
 * with a small id shifts every range. Each member's share of a topic differs from any other
 * subscriber's by at most one.
 */
import { tp } from '../partition-sets.js';
import { type Assignment, type AssignmentInput, subscribedTopics, subscribers } from './types.js';

/**
 * @example
 * rangeAssignor({ members: [{ id: 'a', topics: ['t'] }, { id: 'b', topics: ['t'] }],
 *   partitionCounts: { t: 5 }, previous: {} });
 * // { a: { t: [0, 1, 2] }, b: { t: [3, 4] } }
 */
export function rangeAssignor(input: AssignmentInput): Assignment {
  const out: Record<string, Record<string, number[]>> = {};
  for (const m of input.members) out[m.id] = {};
  for (const topic of subscribedTopics(input)) {
    const count = input.partitionCounts[topic]!;
    const subs = subscribers(input.members, topic);
    const base = Math.floor(count / subs.length);
    const extra = count % subs.length;
    let next = 0;
    subs.forEach((m, i) => {
      const n = base + (i < extra ? 1 : 0);
      if (n > 0) out[m.id]![topic] = Array.from({ length: n }, (_, k) => next + k);
      next += n;
    });
  }
  const result: Assignment = {};
  for (const [id, set] of Object.entries(out)) result[id] = tp(set);
  return result;
}
