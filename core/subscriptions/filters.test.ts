import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../errors.js';
import { compileFilters, validateFilters } from './filters.js';

const enc = new TextEncoder();
const rec = (value: unknown, key: unknown = null) => ({
  value: value === null ? null : enc.encode(typeof value === 'string' ? value : JSON.stringify(value)),
  key: key === null ? null : enc.encode(typeof key === 'string' ? key : JSON.stringify(key)),
});
const matches = (pattern: unknown, value: unknown, key: unknown = null) =>
  compileFilters([{ pattern: JSON.stringify(pattern) }])(rec(value, key));

describe('subscription filters (Lambda event filtering for Kafka)', () => {
  it('matches Lambda’s documented Kafka examples', () => {
    const device = { device_ID: 'AB1234', session: { start_time: 't', duration: 162 } };
    expect(matches({ value: { device_ID: [{ prefix: 'AB' }] } }, device)).toBe(true);
    expect(matches({ value: { device_ID: [{ prefix: 'CD' }] } }, device)).toBe(false);
    // A plain string value.
    expect(matches({ value: [{ 'anything-but': ['error'] }] }, 'all good')).toBe(true);
    expect(matches({ value: [{ 'anything-but': ['error'] }] }, 'error')).toBe(false);
    // A nested pattern never matches a plain string (Lambda drops the record).
    expect(matches({ value: { device_ID: [{ prefix: 'AB' }] } }, 'AB1234')).toBe(false);
  });

  it('implements every rule of the filter syntax', () => {
    const v = { s: 'Hello.png', n: 300, b: true, z: null, e: '', list: ['x', 'y'], o: { deep: 5 } };
    const cases: [unknown, boolean][] = [
      [{ s: ['Hello.png'] }, true],
      [{ s: ['hello.png'] }, false],
      [{ s: [{ 'equals-ignore-case': 'HELLO.PNG' }] }, true],
      [{ s: [{ suffix: '.png' }] }, true],
      [{ s: [{ suffix: '.jpg' }] }, false],
      [{ s: ['nope', { prefix: 'Hel' }] }, true], // OR within a field
      [{ s: [{ prefix: 'Hel' }], n: [301] }, false], // AND across fields
      [{ n: [300] }, true],
      [{ n: [3e2] }, true],
      [{ n: ['300'] }, false],
      [{ n: [{ numeric: ['=', 300] }] }, true],
      [{ n: [{ numeric: ['>', 0, '<=', 300] }] }, true],
      [{ n: [{ numeric: ['>', 0, '<', 300] }] }, false],
      [{ n: [{ numeric: ['>=', 301] }] }, false],
      [{ s: [{ numeric: ['>', 0] }] }, false],
      [{ b: [true] }, true],
      [{ z: [null] }, true],
      [{ missing: [null] }, false],
      [{ e: [''] }, true],
      [{ s: [{ exists: true }] }, true],
      [{ missing: [{ exists: true }] }, false],
      [{ missing: [{ exists: false }] }, true],
      [{ s: [{ exists: false }] }, false],
      [{ o: [{ exists: true }] }, false], // exists only sees leaves
      [{ o: { deep: [5] } }, true],
      [{ o: { deeper: { x: [{ exists: false }] } } }, true],
      [{ missing: { x: [{ exists: false }] } }, true],
      [{ list: ['y'] }, true], // an array matches when one element does
      [{ list: [{ 'anything-but': 'x' }] }, true],
      [{ s: [{ 'anything-but': { prefix: 'Hel' } }] }, false],
      [{ s: [{ 'anything-but': { suffix: '.jpg' } }] }, true],
      [{ n: [{ 'anything-but': [300, 301] }] }, false],
      [{ missing: [{ 'anything-but': 'x' }] }, false],
      [{ o: [{ 'anything-but': 'x' }] }, false],
    ];
    for (const [pattern, expected] of cases) {
      expect({ pattern, got: matches({ value: pattern }, v) }).toEqual({ pattern, got: expected });
    }
  });

  it('reads JSON values, plain strings, null values and keys', () => {
    expect(matches({ value: [42] }, '42')).toBe(true); // JSON number
    expect(matches({ value: ['{oops'] }, '{oops')).toBe(true); // not JSON: the string
    expect(matches({ value: [null] }, null)).toBe(true); // a tombstone
    expect(matches({ key: [{ prefix: 'user-' }] }, 'v', 'user-7')).toBe(true);
    expect(matches({ key: [{ prefix: 'user-' }], value: ['v'] }, 'v', 'org-7')).toBe(false);
  });

  it('ORs the filters', () => {
    const accept = compileFilters([
      { pattern: JSON.stringify({ value: { kind: ['a'] } }) },
      { pattern: JSON.stringify({ value: { kind: ['b'] } }) },
    ]);
    expect(['a', 'b', 'c'].map((kind) => accept(rec({ kind })))).toEqual([true, true, false]);
    expect(compileFilters([])(rec('anything'))).toBe(true);
  });

  it('agrees with plain string and number comparisons (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.string({ maxLength: 3 }), (s, p) => {
        expect(matches({ value: { f: [{ prefix: p }] } }, { f: s })).toBe(s.startsWith(p));
        expect(matches({ value: { f: [{ suffix: p }] } }, { f: s })).toBe(s.endsWith(p));
        expect(matches({ value: { f: [p] } }, { f: s })).toBe(s === p);
        expect(matches({ value: { f: [{ 'anything-but': p }] } }, { f: s })).toBe(s !== p);
        expect(matches({ value: { f: [{ 'equals-ignore-case': p }] } }, { f: s })).toBe(
          s.toLowerCase() === p.toLowerCase(),
        );
      }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: -1000, max: 1000 }),
        fc.integer({ min: -1000, max: 1000 }),
        fc.integer({ min: 0, max: 1000 }),
        (n, low, width) => {
          const high = low + width;
          expect(matches({ value: { n: [{ numeric: ['>=', low, '<', high] }] } }, { n })).toBe(
            n >= low && n < high,
          );
          expect(matches({ value: { n: [{ numeric: ['>', low] }] } }, { n })).toBe(n > low);
        },
      ),
    );
  });

  it('refuses bad patterns with an InvalidRequestError naming the filter and the spot', () => {
    const bad: [unknown, RegExp][] = [
      ['nope', /filters must be an array/],
      [[{ pattern: '{' }], /filters\[0\]\.pattern: not JSON/],
      [[{ pattern: '[]' }], /not a JSON object/],
      [[{ pattern: '{}' }], /empty pattern/],
      [[{ pattern: '{"topic": ["x"]}' }], /topic: a pattern may name only value and key/],
      [[{ pattern: '{"value": {"a": "x"}}' }], /value\.a: a field takes a list of rules/],
      [[{ pattern: '{"value": {"a": []}}' }], /value\.a: an empty list/],
      [[{ pattern: '{"value": [{"wildcard": "*"}]}' }], /unknown operator "wildcard"/],
      [[{ pattern: '{"value": [{"prefix": 1}]}' }], /prefix takes a string/],
      [[{ pattern: '{"value": [{"numeric": ["<", 5, ">", 1]}]}' }], /numeric range/],
      [[{ pattern: '{"value": [{"numeric": ["!", 5]}]}' }], /unknown numeric operator/],
      [[{ pattern: '{"value": [{"exists": "yes"}]}' }], /exists takes true or false/],
      [[{ pattern: '{"value": [{"anything-but": []}]}' }], /non-empty list/],
      [[{ pattern: '{"value": [{"prefix": "a", "suffix": "b"}]}' }], /exactly one operator/],
      [[{ pattern: `{"value": ["${'x'.repeat(5000)}"]}` }], /at most 4096/],
      [[{ pattern: '{"value": ["a"]}', extra: 1 }], /filters\[0\] must be/],
      [Array.from({ length: 6 }, () => ({ pattern: '{"value": ["a"]}' })), /at most 5 filters/],
      [[{ pattern: '{"value": ["a"]}' }, { pattern: '{"value": 1}' }], /filters\[1\]\.value/],
    ];
    for (const [filters, message] of bad) {
      expect(() => validateFilters(filters)).toThrow(InvalidRequestError);
      expect(() => validateFilters(filters)).toThrow(message);
    }
    expect(validateFilters([{ pattern: '{"value": {"a": [{"prefix": "x"}]}}' }])).toHaveLength(1);
  });

  it('never throws anything but InvalidRequestError on any input (fuzz)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (json) => {
        for (const filters of [
          json,
          [{ pattern: JSON.stringify(json) }],
          [{ pattern: JSON.stringify({ value: json }) }],
        ]) {
          try {
            const ok = validateFilters(filters);
            // A valid pattern compiles and matches any record without throwing.
            compileFilters(ok)(rec({ a: 1 }));
          } catch (error) {
            expect(error).toBeInstanceOf(InvalidRequestError);
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
