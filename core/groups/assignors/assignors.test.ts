import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { size, type TopicPartitions } from '../partition-sets.js';
import { ASSIGNORS, type Assignment, type AssignmentInput, rangeAssignor, uniformAssignor } from './index.js';

const TOPICS = ['a', 'b', 'c'];

/** Random groups: up to 6 members with random subscriptions, topics of 0-20 partitions. */
const inputArb: fc.Arbitrary<AssignmentInput> = fc
  .record({
    subs: fc.array(fc.subarray(TOPICS, { minLength: 1 }), { minLength: 1, maxLength: 6 }),
    counts: fc.tuple(fc.nat(20), fc.nat(20), fc.nat(20)),
  })
  .map(({ subs, counts }) => ({
    members: subs.map((topics, i) => ({ id: `m${i}`, topics })),
    partitionCounts: { a: counts[0], b: counts[1], c: counts[2] },
    previous: {},
  }));

function checkValid(input: AssignmentInput, out: Assignment): void {
  expect(Object.keys(out).sort()).toEqual(input.members.map((m) => m.id).sort());
  for (const topic of TOPICS) {
    const count = input.partitionCounts[topic] ?? 0;
    const subs = input.members.filter((m) => m.topics.includes(topic));
    const owners = new Map<number, string>();
    for (const m of input.members) {
      for (const p of out[m.id]![topic] ?? []) {
        expect(m.topics, `${m.id} got ${topic} without subscribing`).toContain(topic);
        expect(p).toBeLessThan(count);
        expect(owners.has(p), `${topic}-${p} assigned twice`).toBe(false);
        owners.set(p, m.id);
      }
    }
    // Every partition of a subscribed topic has an owner; shares differ by at most one.
    if (subs.length > 0) {
      expect(owners.size).toBe(count);
      const shares = subs.map((m) => out[m.id]![topic]?.length ?? 0);
      expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
    }
  }
}

function moved(before: Assignment, after: Assignment): number {
  let n = 0;
  for (const [id, set] of Object.entries(after)) {
    for (const [topic, parts] of Object.entries(set)) {
      const prev = new Set(before[id]?.[topic] ?? []);
      n += parts.filter((p) => !prev.has(p)).length;
    }
  }
  return n;
}

describe.each(Object.entries(ASSIGNORS))('%s assignor', (_name, assignor) => {
  it('assigns every subscribed partition once, only to subscribers, shares within one', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        checkValid(input, assignor(input));
      }),
    );
  });

  it('is deterministic whatever the order of members', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const reversed = { ...input, members: [...input.members].reverse() };
        expect(assignor(reversed)).toEqual(assignor(input));
      }),
    );
  });
});

describe('uniformAssignor', () => {
  it('levels totals when every member has the same subscription', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 7 }),
        fc.array(fc.nat(9), { minLength: 1, maxLength: 6 }),
        (n, counts) => {
          const topics = counts.map((_, i) => `t${i}`);
          const input: AssignmentInput = {
            members: Array.from({ length: n }, (_, i) => ({ id: `m${i}`, topics })),
            partitionCounts: Object.fromEntries(topics.map((t, i) => [t, counts[i]!])),
            previous: {},
          };
          const totals = Object.values(uniformAssignor(input)).map(size);
          expect(Math.max(...totals) - Math.min(...totals)).toBeLessThanOrEqual(1);
        },
      ),
    );
  });

  it('gives one partition to each member for three one-partition topics (not all to one)', () => {
    const first = uniformAssignor({
      members: [{ id: 'm0', topics: ['a', 'b', 'c'] }],
      partitionCounts: { a: 1, b: 1, c: 1 },
      previous: {},
    });
    const out = uniformAssignor({
      members: ['m0', 'm1', 'm2'].map((id) => ({ id, topics: ['a', 'b', 'c'] })),
      partitionCounts: { a: 1, b: 1, c: 1 },
      previous: first,
    });
    expect(Object.values(out).map(size)).toEqual([1, 1, 1]);
    expect(out.m0).toEqual({ a: [0] });
  });

  it('changes nothing when recomputed from its own output', () => {
    fc.assert(
      fc.property(inputArb, (input) => {
        const once = uniformAssignor(input);
        expect(uniformAssignor({ ...input, previous: once })).toEqual(once);
      }),
    );
  });

  it('is sticky through random changes: stays valid and keeps what it can', () => {
    fc.assert(
      fc.property(inputArb, inputArb, (a, b) => {
        const before = uniformAssignor(a);
        const after = uniformAssignor({ ...b, previous: before });
        checkValid(b, after);
      }),
    );
  });

  it('moves only the joiner share when a member joins a one-topic group', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.nat(40), (n, count) => {
        const members = Array.from({ length: n }, (_, i) => ({ id: `m${i}`, topics: ['t'] }));
        const before = uniformAssignor({ members, partitionCounts: { t: count }, previous: {} });
        const joined = [...members, { id: 'new', topics: ['t'] }];
        const after = uniformAssignor({ members: joined, partitionCounts: { t: count }, previous: before });
        expect(moved(before, after)).toBe(size(after.new!));
        expect(size(after.new!)).toBe(Math.floor(count / (n + 1)));
      }),
    );
  });

  it('lets every remaining member keep its partitions when one leaves a one-topic group', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 8 }), fc.nat(40), fc.nat(), (n, count, pick) => {
        const members = Array.from({ length: n }, (_, i) => ({ id: `m${i}`, topics: ['t'] }));
        const before = uniformAssignor({ members, partitionCounts: { t: count }, previous: {} });
        const gone = members[pick % n]!.id;
        const rest = members.filter((m) => m.id !== gone);
        const after = uniformAssignor({ members: rest, partitionCounts: { t: count }, previous: before });
        for (const m of rest) {
          const kept = new Set<number>(after[m.id]!.t ?? []);
          for (const p of before[m.id]!.t ?? []) expect(kept.has(p)).toBe(true);
        }
      }),
    );
  });

  it('moves no partition of an existing member when a topic grows', () => {
    const members = ['x', 'y', 'z'].map((id) => ({ id, topics: ['t'] }));
    const before = uniformAssignor({ members, partitionCounts: { t: 6 }, previous: {} });
    const after = uniformAssignor({ members, partitionCounts: { t: 9 }, previous: before });
    for (const m of members) expect(after[m.id]!.t).toEqual(expect.arrayContaining([...before[m.id]!.t!]));
  });
});

describe('rangeAssignor', () => {
  it("gives each member one contiguous range, Kafka's way", () => {
    const out = rangeAssignor({
      members: [
        { id: 'b', topics: ['t', 'u'] },
        { id: 'a', topics: ['t'] },
        { id: 'c', topics: ['t', 'u'] },
      ],
      partitionCounts: { t: 7, u: 3 },
      previous: {},
    });
    const expected: Record<string, TopicPartitions> = {
      a: { t: [0, 1, 2] },
      b: { t: [3, 4], u: [0, 1] },
      c: { t: [5, 6], u: [2] },
    };
    expect(out).toEqual(expected);
  });
});
