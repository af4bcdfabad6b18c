import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_LEDGER_REACH, ledgerReach } from './ledger-reach.js';
import { INBOX_ORDER_HORIZON_MS, INBOX_RETRY_HORIZON_MS, INBOX_SKEW_MS } from './queue.js';

const T = 1_800_000_000_000;
const H = INBOX_RETRY_HORIZON_MS;
const S = INBOX_SKEW_MS;
const O = INBOX_ORDER_HORIZON_MS;

/** A delivery's times around T (ms), `at` and `prevAt` anywhere from days before to hours after. */
const times = fc
  .record({
    sentAt: fc.integer({ min: T - 3_600_000, max: T }),
    receiveLag: fc.integer({ min: 0, max: 3_600_000 }),
    at: fc.option(fc.integer({ min: T - 3 * 86_400_000, max: T + 3_600_000 }), { nil: undefined }),
    prevAt: fc.option(fc.integer({ min: T - 3 * 86_400_000, max: T + 3_600_000 }), { nil: undefined }),
    nowLag: fc.integer({ min: 0, max: 3_600_000 }),
  })
  .map(({ sentAt, receiveLag, at, prevAt, nowLag }) => {
    const firstReceivedAt = sentAt + receiveLag;
    return { d: { sentAt, firstReceivedAt, at, prevAt }, now: firstReceivedAt + nowLag };
  });

describe('ledgerReach: how far back a delivery is decided from', () => {
  it('never later than any time a copy or the predecessor may have been committed (minus the skew)', () => {
    fc.assert(
      fc.property(times, ({ d, now }) => {
        const r = ledgerReach(d, now);
        expect(r).toBeLessThanOrEqual(d.firstReceivedAt - S);
        // A first attempt within the retry horizon of the arrival (and not ahead of it) is reached.
        if (d.at !== undefined && d.at >= d.sentAt - H + S && d.at <= d.sentAt + S) {
          expect(r).toBeLessThanOrEqual(d.at - S);
        }
        // A sender's clock ahead of the inbox's: the whole horizon.
        if (d.at !== undefined && d.at > d.sentAt + S) expect(r).toBeLessThanOrEqual(d.sentAt - H);
        // A predecessor acknowledged within the order horizon is reached.
        if (d.prevAt !== undefined && d.prevAt >= now - O) expect(r).toBeLessThanOrEqual(d.prevAt - S);
      }),
    );
  });

  it('never earlier than the horizons, whatever the sender’s clock says', () => {
    fc.assert(
      fc.property(times, ({ d, now }) => {
        const r = ledgerReach(d, now);
        expect(r).toBeGreaterThanOrEqual(Math.min(d.sentAt - H, now - O - S));
        if (d.prevAt === undefined) expect(r).toBeGreaterThanOrEqual(d.sentAt - H);
      }),
    );
  });

  it('in steady state (first attempt just before the arrival) reads what the arrival alone would', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: S }), fc.integer({ min: 0, max: 2_000 }), (early, lag) => {
        const sentAt = T;
        const d = { sentAt, firstReceivedAt: sentAt + lag, at: sentAt - early };
        // Earlier than without `at` by the time from first attempt to first receive only.
        expect(ledgerReach(d, d.firstReceivedAt)).toBe(d.at - S);
        expect(ledgerReach({ ...d, at: undefined }, d.firstReceivedAt)).toBe(d.firstReceivedAt - S);
      }),
    );
  });

  it('a retry landing 10 s or 60 s after its first attempt reaches back to it', () => {
    for (const late of [10_000, 60_000]) {
      const d = { sentAt: T + late, firstReceivedAt: T + late + 100, at: T };
      expect(ledgerReach(d, d.firstReceivedAt + 50)).toBe(T - S);
      // Without `at` (an older sender) only the skew before its own receive: the gap this closes.
      expect(ledgerReach({ ...d, at: undefined }, d.firstReceivedAt + 50)).toBeGreaterThan(T);
    }
  });

  it('takes the options', () => {
    const d = { sentAt: T, firstReceivedAt: T, at: T - 10 * 60_000 };
    expect(ledgerReach(d, T)).toBe(T - H);
    expect(ledgerReach(d, T, { ...DEFAULT_LEDGER_REACH, retryHorizonMs: 60 * 60_000 })).toBe(d.at - S);
  });
});
