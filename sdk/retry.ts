/**
 * kafkajs' retry policy: exponential backoff with jitter, retrying only errors marked
 * `retriable` (server codes flagged so in API.md, 5xx answers, broken connections).
 */
import { SluiceNumberOfRetriesExceededError } from './errors.js';

/** kafkajs' retry options, with its defaults. */
export interface RetryOptions {
  /** Retries after the first attempt. @default 5 */
  retries?: number;
  /** Delay before the first retry (ms). @default 300 */
  initialRetryTime?: number;
  /** Upper bound of one delay (ms). @default 30000 */
  maxRetryTime?: number;
  /** Each delay is the previous one times this. @default 2 */
  multiplier?: number;
  /** Jitter: each delay is randomised by ± this fraction. @default 0.2 */
  factor?: number;
  /**
   * kafkajs: asked whether a crashed consumer restarts. Accepted for compatibility and not
   * called: a Sluice consumer never stops on a handler failure — the partition retries from
   * the failed offset with backoff (a `consumer.crash` event with `restart: true` each time).
   */
  restartOnFailure?: (error: Error) => Promise<boolean>;
}

export const DEFAULT_RETRY: Required<RetryOptions> = {
  retries: 5,
  initialRetryTime: 300,
  maxRetryTime: 30_000,
  multiplier: 2,
  factor: 0.2,
  restartOnFailure: async () => true,
};

/** The delay before retry number `attempt` (0-based). */
export function backoff(
  options: Required<RetryOptions>,
  attempt: number,
  random: () => number = Math.random,
): number {
  const base = Math.min(options.maxRetryTime, options.initialRetryTime * options.multiplier ** attempt);
  const jitter = 1 + (random() * 2 - 1) * options.factor;
  return Math.max(0, Math.round(Math.min(options.maxRetryTime, base * jitter)));
}

/**
 * The longest {@link withRetry} (or the inbox clients' loop) can go on with one request, ms,
 * from the start of its first attempt to the end of its last: every attempt running to
 * `requestTimeoutMs`, every backoff at its longest (jitter at `+factor`). With the defaults
 * and the HTTP transport's 30 s timeout: 6 × 30 s + (0.3 + 0.6 + 1.2 + 2.4 + 4.8 s) × 1.2 = 191.16 s.
 */
export function worstCaseRetryMs(options: RetryOptions | undefined, requestTimeoutMs: number): number {
  const o = { ...DEFAULT_RETRY, ...options };
  let total = (o.retries + 1) * requestTimeoutMs;
  for (let i = 0; i < o.retries; i++) {
    total += Math.min(o.maxRetryTime, o.initialRetryTime * o.multiplier ** i * (1 + o.factor));
  }
  return total;
}

/**
 * `options` with as many retries as fit `budgetMs` by {@link worstCaseRetryMs} (all of
 * them when they fit; none when not even one does), and whether it had to cut.
 */
export function retriesWithin(
  options: RetryOptions | undefined,
  requestTimeoutMs: number,
  budgetMs: number,
): { retry: RetryOptions; cut: boolean } {
  const o = { ...DEFAULT_RETRY, ...options };
  let retries = o.retries;
  while (retries > 0 && worstCaseRetryMs({ ...o, retries }, requestTimeoutMs) > budgetMs) retries--;
  return { retry: { ...options, retries }, cut: retries < o.retries };
}

export function isRetriable(err: unknown): boolean {
  return (err as { retriable?: unknown } | undefined)?.retriable === true;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn` until it succeeds, a non-retriable error is thrown (rethrown as is), or the
 * retries are used up ({@link SluiceNumberOfRetriesExceededError} with the last error as cause).
 * `onRetry` may veto a retry by returning false (e.g. the client was closed).
 *
 * @example
 * const meta = await withRetry({ retries: 3 }, () => api.json('admin', 'GET', '/v1/metadata'));
 */
export async function withRetry<T>(
  options: RetryOptions | undefined,
  fn: (attempt: number) => Promise<T>,
  onRetry?: (err: unknown, attempt: number, delayMs: number) => boolean | undefined,
): Promise<T> {
  const opts = { ...DEFAULT_RETRY, ...options };
  const started = Date.now();
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (!isRetriable(err)) throw err;
      if (attempt >= opts.retries) {
        throw new SluiceNumberOfRetriesExceededError(err as Error, attempt, Date.now() - started);
      }
      const delay = backoff(opts, attempt);
      if (onRetry?.(err, attempt, delay) === false) throw err;
      await sleep(delay);
    }
  }
}
