import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../core/errors.js';
import { compareUtf8, decodeCursor, encodeCursor, inRange } from './query.js';

describe('compareUtf8', () => {
  it('orders strings exactly like their UTF-8 bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        expect(Math.sign(compareUtf8(a, b))).toBe(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
      }),
      { numRuns: 2000 },
    );
  });

  it('differs from UTF-16 order above U+FFFF', () => {
    expect('😀' < '\uFFFD').toBe(true);
    expect(compareUtf8('😀', '\uFFFD')).toBeGreaterThan(0);
  });
});

describe('inRange', () => {
  it('applies every bound', () => {
    const r = { gt: 'a', lte: 'c', beginsWith: 'b' };
    expect(['a', 'b', 'b1', 'c', 'c1'].filter((s) => inRange(s, r))).toEqual(['b', 'b1']);
    expect(inRange('x', undefined)).toBe(true);
  });
});

describe('cursors', () => {
  it('round-trip any sort key and refuse anything else', () => {
    fc.assert(
      fc.property(fc.string(), (sk) => {
        expect(decodeCursor(encodeCursor(sk))).toBe(sk);
      }),
    );
    for (const bad of ['', 'nope', Buffer.from('{"x":1}').toString('base64url')]) {
      expect(() => decodeCursor(bad)).toThrow(InvalidRequestError);
    }
  });
});
