import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../core/errors.js';
import { ItemTooLargeError, TransactionTooLargeError, type TransactOp } from '../core/ports.js';
import { checkTransaction, itemBytes, jsonBytes, numberBytes } from './limits.js';

describe('DynamoDB sizes', () => {
  it('sizes numbers by significant digits', () => {
    expect(numberBytes(0)).toBe(2);
    expect(numberBytes(7)).toBe(2);
    expect(numberBytes(12)).toBe(2);
    expect(numberBytes(123)).toBe(3);
    expect(numberBytes(1_000_000)).toBe(2); // trailing zeros are not significant
    expect(numberBytes(-0.000123)).toBe(3);
    expect(numberBytes(Number.MAX_SAFE_INTEGER)).toBe(9);
    expect(numberBytes(0.1 + 0.2)).toBe(10);
  });

  it('sizes strings in UTF-8 and documents with their overheads', () => {
    expect(jsonBytes('abc')).toBe(3);
    expect(jsonBytes('é😀')).toBe(6);
    expect(jsonBytes(true)).toBe(1);
    expect(jsonBytes(null)).toBe(1);
    expect(jsonBytes([])).toBe(3);
    expect(jsonBytes({})).toBe(3);
    expect(jsonBytes(['ab', 1])).toBe(3 + (1 + 2) + (1 + 2));
    expect(jsonBytes({ ab: 'cde' })).toBe(3 + 1 + 2 + 3);
  });

  it('counts the whole physical item: keys, version, data, ttl, token', () => {
    const key = { pk: 'topics', sk: 'orders' };
    // pk 2+6, sk 2+6, v 1+9, d 1+(3+1+2+3), tok 3+22
    expect(itemBytes(key, { id: 'abc' })).toBe(8 + 8 + 10 + 10 + 25);
    expect(itemBytes(key, { id: 'abc' }, 1_700_000_000)).toBe(61 + 3 + numberBytes(1_700_000_000));
  });
});

describe('checkTransaction', () => {
  const put = (sk: string, bytes = 10): TransactOp => ({
    type: 'put',
    key: { pk: 'p', sk },
    data: { b: 'x'.repeat(bytes) },
  });

  it('returns the total size of valid ops', () => {
    const ops = [put('a'), put('b')];
    expect(checkTransaction(ops)).toBe(itemBytes({ pk: 'p', sk: 'a' }, { b: 'x'.repeat(10) }) * 2);
    expect(checkTransaction([])).toBe(0);
  });

  it('checks items before counting ops, and ops and bytes last', () => {
    const ops = Array.from({ length: 101 }, (_, i) => put(String(i)));
    expect(() => checkTransaction(ops)).toThrow(TransactionTooLargeError);
    ops[5] = put('big', 500_000);
    expect(() => checkTransaction(ops)).toThrow(ItemTooLargeError);
    ops[7] = { type: 'check', key: { pk: 'p', sk: '1' }, condition: { absent: true } };
    expect(() => checkTransaction(ops)).toThrow(ItemTooLargeError);
  });

  it('names the offending field of a bad op', () => {
    const err = (() => {
      try {
        checkTransaction([
          put('a'),
          { type: 'put', key: { pk: 'p', sk: 'b' }, data: { x: { y: Number.NaN } } },
        ]);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as InvalidRequestError).field).toBe('ops[1].data.x.y');
  });
});
