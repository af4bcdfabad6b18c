import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeRuns,
  decodeSet,
  encodeRuns,
  encodeSet,
  equals,
  fromList,
  intersect,
  minus,
  toList,
  tp,
  union,
} from './partition-sets.js';

const setArb = fc
  .dictionary(fc.constantFrom('a', 'b', 'c'), fc.array(fc.nat(50), { maxLength: 20 }))
  .map((record) => tp(record));

describe('partition sets', () => {
  it('normalise: sorted, unique, no empty topics', () => {
    expect(tp({ b: [3, 1, 3], a: [], c: [0] })).toEqual({ b: [1, 3], c: [0] });
    expect(
      fromList([
        { topic: 't', partitions: [2] },
        { topic: 't', partitions: [0, 2] },
      ]),
    ).toEqual({ t: [0, 2] });
    expect(toList(tp({ z: [1], a: [0] }))).toEqual([
      { topic: 'a', partitions: [0] },
      { topic: 'z', partitions: [1] },
    ]);
  });

  it('set algebra behaves like sets', () => {
    fc.assert(
      fc.property(setArb, setArb, (a, b) => {
        expect(equals(union(minus(a, b), intersect(a, b)), a)).toBe(true);
        expect(equals(intersect(minus(a, b), b), {})).toBe(true);
        expect(equals(union(a, b), union(b, a))).toBe(true);
      }),
    );
  });

  it('runs encoding round-trips and is compact', () => {
    expect(encodeRuns([0, 1, 2, 3, 7, 9, 10])).toBe('0-3,7,9-10');
    expect(encodeRuns(Array.from({ length: 10_000 }, (_, i) => i))).toBe('0-9999');
    fc.assert(
      fc.property(setArb, (a) => {
        expect(decodeSet(encodeSet(a))).toEqual(a);
        for (const parts of Object.values(a)) expect(decodeRuns(encodeRuns(parts))).toEqual(parts);
      }),
    );
  });

  it('refuses malformed runs instead of inventing partitions', () => {
    expect(() => decodeRuns('3-1')).toThrow(/malformed/);
    expect(() => decodeRuns('x')).toThrow(/malformed/);
    expect(() => decodeRuns('0-99999999')).toThrow(/malformed/);
    expect(() => decodeSet({ t: 5 })).toThrow(/malformed/);
  });
});
