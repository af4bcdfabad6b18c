/**
 * How far back the batcher reads its ledger to decide one delivery (docs/design.md §12,
 * "Exactly once: a ledger"). A copy of a message can only have been committed after the
 * message was first put in the inbox, so the ledger from then on — minus the clock-skew
 * margin — holds it if it was. When that was is known from three times:
 *
 * - `firstReceivedAt`: this delivery's first receive (a redelivery of the same inbox
 *   message has the same);
 * - `at`: when the sender first tried to send the message (its retries resend the same
 *   body, so a retry that lands as a second inbox message names the first attempt's time);
 * - `prevAt`: for an ordered message, when its predecessor was acknowledged (its commit must
 *   be read too, to know the message may follow it), unless older than the order horizon.
 *
 * Bounded below by the retry horizon: a sender retries a message for at most
 * {@link INBOX_RETRY_HORIZON_MS} minus the skew after its first attempt, so an `at` older than
 * `sentAt − horizon` (the delivery's arrival, the inbox's clock) is a wrong clock, not an
 * old first attempt — and an `at` later than the arrival plus the skew is a clock ahead,
 * which says nothing of when the first attempt was: both read the whole horizon. With
 * `at` ≈ arrival (steady state) the range is the one the arrival alone would give.
 */
import { INBOX_ORDER_HORIZON_MS, INBOX_RETRY_HORIZON_MS, INBOX_SKEW_MS } from './queue.js';

export interface LedgerReachInput {
  /** When the inbox accepted this copy, ms (SQS SentTimestamp, Kinesis arrival). */
  sentAt: number;
  /** When this copy was first received, ms (≥ sentAt). */
  firstReceivedAt: number;
  /** The message's `at`: its sender's first attempt, ms, sender's clock; absent on old messages. */
  at?: number;
  /** The message's `prevAt` when its order matters (it names a predecessor), ms. */
  prevAt?: number;
}

export interface LedgerReachOptions {
  skewMs: number;
  retryHorizonMs: number;
  orderHorizonMs: number;
}

export const DEFAULT_LEDGER_REACH: LedgerReachOptions = {
  skewMs: INBOX_SKEW_MS,
  retryHorizonMs: INBOX_RETRY_HORIZON_MS,
  orderHorizonMs: INBOX_ORDER_HORIZON_MS,
};

/**
 * The earliest ledger time (ms) that can hold a commit this delivery must know about: a
 * commit of another copy of it, or of its predecessor. Never earlier than
 * `min(sentAt − retryHorizon, now − orderHorizon − skew)`, never below 0.
 *
 * @example
 * ledgerReach({ sentAt: t, firstReceivedAt: t + 200, at: t - 12_000 }, now) // t - 17_000
 */
export function ledgerReach(
  d: LedgerReachInput,
  now: number,
  options: LedgerReachOptions = DEFAULT_LEDGER_REACH,
): number {
  const { skewMs, retryHorizonMs, orderHorizonMs } = options;
  const floor = d.sentAt - retryHorizonMs;
  let from = d.firstReceivedAt - skewMs;
  if (d.at !== undefined) {
    // A clock ahead of the inbox's by more than the skew: the first attempt is unknown.
    from = Math.min(from, d.at > d.sentAt + skewMs ? floor : Math.max(d.at - skewMs, floor));
  }
  if (d.prevAt !== undefined) {
    from = Math.min(from, Math.max(d.prevAt, now - orderHorizonMs) - skewMs);
  }
  return Math.max(0, from);
}
