import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { INBOX_RETRY_HORIZON_MS, INBOX_SKEW_MS } from '../core/inbox/queue.js';
import { backoff, DEFAULT_RETRY, retriesWithin, worstCaseRetryMs } from './retry.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from './transport/http.js';

describe('the retry budget of an inbox send', () => {
  it('with the defaults fits the sender retry horizon, less the clock-skew margin', () => {
    const worst = worstCaseRetryMs(undefined, DEFAULT_REQUEST_TIMEOUT_MS);
    // 6 attempts of 30 s, backoffs 0.3, 0.6, 1.2, 2.4, 4.8 s at +20 % jitter.
    expect(worst).toBe(6 * 30_000 + 9_300 * 1.2);
    expect(worst + INBOX_SKEW_MS).toBeLessThanOrEqual(INBOX_RETRY_HORIZON_MS);
    expect(
      retriesWithin(undefined, DEFAULT_REQUEST_TIMEOUT_MS, INBOX_RETRY_HORIZON_MS - INBOX_SKEW_MS),
    ).toEqual({
      retry: { retries: DEFAULT_RETRY.retries },
      cut: false,
    });
  });

  it('bounds every real schedule of backoffs', () => {
    fc.assert(
      fc.property(
        fc.record({
          retries: fc.nat(12),
          initialRetryTime: fc.integer({ min: 1, max: 5_000 }),
          maxRetryTime: fc.integer({ min: 1, max: 60_000 }),
          multiplier: fc.integer({ min: 1, max: 4 }),
          factor: fc.double({ min: 0, max: 0.9, noNaN: true }),
        }),
        fc.integer({ min: 0, max: 60_000 }),
        fc.array(fc.double({ min: 0, max: 0.999999, noNaN: true }), { minLength: 12, maxLength: 12 }),
        (options, timeout, randoms) => {
          const o = { ...DEFAULT_RETRY, ...options };
          let total = (o.retries + 1) * timeout;
          for (let i = 0; i < o.retries; i++) total += backoff(o, i, () => randoms[i]!);
          // backoff rounds to the millisecond: at most half a millisecond over per retry.
          expect(total).toBeLessThanOrEqual(worstCaseRetryMs(o, timeout) + o.retries);
        },
      ),
    );
  });

  it('cuts configured retries that would outlast the horizon, and says so', () => {
    const budget = INBOX_RETRY_HORIZON_MS - INBOX_SKEW_MS;
    const { retry, cut } = retriesWithin({ retries: 20, maxRetryTime: 30_000 }, 30_000, budget);
    expect(cut).toBe(true);
    expect(retry.retries).toBeLessThan(20);
    expect(worstCaseRetryMs(retry, 30_000)).toBeLessThanOrEqual(budget);
    expect(worstCaseRetryMs({ ...retry, retries: retry.retries! + 1 }, 30_000)).toBeGreaterThan(budget);
    // A timeout longer than the budget leaves no retry at all (one attempt: no second copy).
    expect(retriesWithin({}, budget + 1, budget).retry.retries).toBe(0);
  });
});
