import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../errors.js';
import { resolveSubscription, validateChanges } from './config.js';

describe('subscription config', () => {
  it('fills in Lambda’s event source mapping defaults', () => {
    expect(resolveSubscription({ name: 's', topic: 'orders', target: 'fn' }, 5)).toEqual({
      name: 's',
      topic: 'orders',
      target: 'fn',
      groupId: 'sluice-subscription-s',
      batchSize: 100,
      maxBatchingWindowMs: 0,
      startingPosition: 'latest',
      maxRetryAttempts: -1,
      maxRecordAgeMs: -1,
      bisectBatchOnFunctionError: false,
      reportBatchItemFailures: false,
      onFailure: null,
      enabled: true,
      filters: [],
      createdAt: 5,
    });
    expect(
      resolveSubscription({ name: 's', topic: 'o', target: 'f', startingPosition: { timestamp: 7 } }, 0)
        .startingPosition,
    ).toEqual({ timestamp: 7 });
  });

  it('names the bad field', () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ topic: 'o', target: 'f' }, 'name'],
      [{ name: 'a b', topic: 'o', target: 'f' }, 'name'],
      [{ name: 's', topic: 'bad topic', target: 'f' }, 'topic'],
      [{ name: 's', topic: 'o' }, 'target'],
      [{ name: 's', topic: 'o', target: 'f', batchSize: 0 }, 'batchSize'],
      [{ name: 's', topic: 'o', target: 'f', batchSize: 1.5 }, 'batchSize'],
      [{ name: 's', topic: 'o', target: 'f', maxRetryAttempts: -2 }, 'maxRetryAttempts'],
      [{ name: 's', topic: 'o', target: 'f', maxRecordAgeMs: 10 }, 'maxRecordAgeMs'],
      [{ name: 's', topic: 'o', target: 'f', enabled: 'yes' }, 'enabled'],
      [{ name: 's', topic: 'o', target: 'f', startingPosition: 'now' }, 'startingPosition'],
      [{ name: 's', topic: 'o', target: 'f', colour: 'red' }, 'colour'],
    ];
    for (const [input, field] of bad) {
      expect(() => resolveSubscription(input, 0)).toThrow(expect.objectContaining({ field }));
    }
    expect(() => validateChanges({ topic: 'other' })).toThrow(expect.objectContaining({ field: 'topic' }));
  });

  it('answers any input with a config or an InvalidRequestError', () => {
    fc.assert(
      fc.property(fc.anything(), (raw) => {
        try {
          const sub = resolveSubscription(raw, 0);
          expect(sub.batchSize).toBeGreaterThanOrEqual(1);
        } catch (error) {
          expect(error).toBeInstanceOf(InvalidRequestError);
        }
      }),
    );
  });
});
