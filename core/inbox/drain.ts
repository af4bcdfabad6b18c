/**
 * One round of draining the inbox by polling: receive for up to a batch window, commit,
 * then delete what is in the log and let held-back messages come back soon. `sluice dev`
 * runs it in a loop; in AWS an SQS event source mapping does the receiving and deleting
 * and calls {@link InboxBatcher.commit} directly (`lambdas/batcher.ts`). A crash anywhere
 * leaves the messages in the queue: before the commit they are committed on redelivery,
 * after it they are recognised in the ledger and deleted.
 */
import type { BatchOutcome, InboxBatcher } from './batcher.js';
import type { InboxDelivery, InboxQueue } from './queue.js';

export interface DrainOptions {
  /** Messages per batch at most. Default 5000 (the ledger item of a batch stays < 400 KB). */
  maxMessages?: number;
  /** How long to keep receiving after the first message, ms. Default 1000. */
  windowMs?: number;
  /** How long to wait for a first message, ms. Default 0. */
  waitMs?: number;
  /** When held-back messages become visible again, ms. Default 500. */
  holdBackMs?: number;
  /** Receive calls of one round at most (guards against a stuck clock). Default 1000. */
  maxReceives?: number;
}

/** @returns the outcome of the round, or `undefined` when the queue was empty. */
export async function drainOnce(
  queue: InboxQueue,
  batcher: InboxBatcher,
  options: DrainOptions = {},
): Promise<BatchOutcome | undefined> {
  const max = options.maxMessages ?? 5000;
  const window = options.windowMs ?? 1000;
  const got: InboxDelivery[] = await queue.receive(Math.min(10, max), options.waitMs ?? 0);
  if (got.length === 0) return undefined;
  const until = Date.now() + window;
  for (let i = 0; got.length < max && i < (options.maxReceives ?? 1000); i++) {
    let more: InboxDelivery[];
    try {
      more = await queue.receive(Math.min(10, max - got.length), 0);
    } catch {
      // Throttled or unavailable while gathering: commit what is held rather than leave it
      // hidden until the visibility timeout.
      break;
    }
    if (more.length === 0) {
      if (Date.now() >= until) break;
      await new Promise((r) => setTimeout(r, Math.min(50, until - Date.now())));
      continue;
    }
    got.push(...more);
    if (Date.now() >= until) break;
  }
  const outcome = await batcher.commit(got);
  await queue.delete([...outcome.committed, ...outcome.duplicates].map((d) => d.receipt));
  if (outcome.heldBack.length > 0) {
    await queue.release(
      outcome.heldBack.map((d) => d.receipt),
      options.holdBackMs ?? 500,
    );
  }
  return outcome;
}
