/**
 * The default assignor: balanced and sticky, in the spirit of Kafka's server-side
 * `uniform` assignor (KIP-848).
 *
 * Balance, topic by topic: the subscribers of a topic each get `⌊count/n⌋` or `⌈count/n⌉`
 * of its partitions, so any two subscribers' shares of a topic differ by at most one.
 * Which subscribers take the `count % n` larger shares is chosen to keep members' totals
 * level across topics (fewest partitions so far first), so a group whose members share one
 * subscription ends with totals that also differ by at most one.
 *
 * Stickiness: among members level on totals, the larger shares go to members that already
 * held that many; every member keeps as many of its previous partitions as its share allows,
 * and only the rest move. Recomputing from its own output changes nothing, and a member
 * joining or leaving a one-topic group moves only the partitions that must move.
 */
import { tp } from '../partition-sets.js';
import { type Assignment, type AssignmentInput, subscribedTopics, subscribers } from './types.js';

/**
 * @example
 * const first = uniformAssignor({ members: [{ id: 'a', topics: ['t'] }], partitionCounts: { t: 4 }, previous: {} });
 * // { a: { t: [0, 1, 2, 3] } }
 * uniformAssignor({ members: [{ id: 'a', topics: ['t'] }, { id: 'b', topics: ['t'] }],
 *   partitionCounts: { t: 4 }, previous: first });
 * // { a: { t: [0, 1] }, b: { t: [2, 3] } } — 'a' keeps two, only two move
 */
export function uniformAssignor(input: AssignmentInput): Assignment {
  const out: Record<string, Record<string, number[]>> = {};
  const totals = new Map<string, number>();
  for (const m of input.members) {
    out[m.id] = {};
    totals.set(m.id, 0);
  }
  for (const topic of subscribedTopics(input)) {
    const count = input.partitionCounts[topic]!;
    const subs = subscribers(input.members, topic);
    const base = Math.floor(count / subs.length);
    const extra = count % subs.length;

    // Previous partitions still valid; a partition claimed twice (never by our own output)
    // stays with the first claimant in id order.
    const claimed = new Set<number>();
    const prev = new Map<string, number[]>();
    for (const m of subs) {
      const mine = [...(input.previous[m.id]?.[topic] ?? [])]
        .filter((p) => p < count && !claimed.has(p))
        .sort((a, b) => a - b);
      for (const p of mine) claimed.add(p);
      prev.set(m.id, mine);
    }

    const byPreference = [...subs].sort(
      (a, b) =>
        totals.get(a.id)! - totals.get(b.id)! ||
        Number(prev.get(b.id)!.length > base) - Number(prev.get(a.id)!.length > base) ||
        (a.id < b.id ? -1 : 1),
    );
    const share = new Map<string, number>();
    byPreference.forEach((m, i) => {
      share.set(m.id, base + (i < extra ? 1 : 0));
    });

    const taken = new Set<number>();
    for (const m of subs) {
      const keep = prev.get(m.id)!.slice(0, share.get(m.id));
      for (const p of keep) taken.add(p);
      out[m.id]![topic] = keep;
    }
    const pool: number[] = [];
    for (let p = 0; p < count; p++) if (!taken.has(p)) pool.push(p);
    let next = 0;
    for (const m of subs) {
      const mine = out[m.id]![topic]!;
      while (mine.length < share.get(m.id)!) mine.push(pool[next++]!);
      totals.set(m.id, totals.get(m.id)! + mine.length);
    }
  }
  const result: Assignment = {};
  for (const [id, set] of Object.entries(out)) result[id] = tp(set);
  return result;
}
