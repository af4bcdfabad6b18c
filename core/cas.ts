/**
 * The one compare-and-set primitive of the system (DESIGN.md §2): read an item, compute
 * its next state, write it conditioned on the version that was read, and on a lost race
 * retry from the current state the {@link ConflictError} carries — no extra read.
 * Offsets, leases and group epochs are all built on it.
 */
import type { Clock, Random } from './clock.js';
import { UnavailableError } from './errors.js';
import {
  type Condition,
  ConflictError,
  type Item,
  type ItemData,
  type ItemKey,
  type MetaStore,
} from './ports.js';

export interface CasOptions {
  clock: Clock;
  random: Random;
  /** Attempts before giving up with {@link UnavailableError}. @default 20 */
  maxAttempts?: number;
  /** First backoff ceiling; doubles per attempt. @default 5 */
  baseDelayMs?: number;
  /** Largest backoff ceiling. @default 500 */
  maxDelayMs?: number;
}

/** The next state wanted: new data (and ttl), a deletion, or `undefined` for no change. */
export type Mutation = { data: ItemData; ttl?: number } | { delete: true } | undefined;

/** Full-jitter exponential backoff: uniform in [0, min(max, base * 2^attempt)). */
export function backoffDelay(attempt: number, random: Random, baseDelayMs = 5, maxDelayMs = 500): number {
  const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** attempt);
  return Math.floor(random() * ceiling);
}

/**
 * Reads `key` (strongly), asks `mutate` for its next state and writes it conditioned on
 * the version read (or on absence), retrying lost races with full-jitter backoff.
 * `mutate` may run several times and must not have side effects. Its errors propagate
 * untouched.
 *
 * @returns the item as written; the current item when `mutate` wants no change;
 *   `undefined` when the item was deleted or is absent.
 * @throws {@link UnavailableError} (cause: the last {@link ConflictError}) after
 *   `maxAttempts` lost races.
 *
 * @example
 * const head = await casUpdate(meta, keys.producerCounter, (cur) => ({
 *   data: { next: ((cur?.data.next as number | undefined) ?? 0) + 1 },
 * }), { clock, random });
 */
export async function casUpdate(
  store: MetaStore,
  key: ItemKey,
  mutate: (current: Item | undefined) => Mutation | Promise<Mutation>,
  options: CasOptions,
): Promise<Item | undefined> {
  const maxAttempts = options.maxAttempts ?? 20;
  let current = await store.get(key);
  let lastConflict: ConflictError | undefined;
  for (let attempt = 0; attempt < maxAttempts; attempt++) {
    const mutation = await mutate(current);
    if (mutation === undefined) return current;
    const condition: Condition = current ? { version: current.version } : { absent: true };
    try {
      if ('delete' in mutation) {
        if (current === undefined) return undefined;
        await store.transact([{ type: 'delete', key, condition }]);
        return undefined;
      }
      const written: Item = {
        pk: key.pk,
        sk: key.sk,
        version: (current?.version ?? 0) + 1,
        data: structuredClone(mutation.data),
      };
      if (mutation.ttl !== undefined) written.ttl = mutation.ttl;
      await store.transact([
        mutation.ttl === undefined
          ? { type: 'put', key, data: mutation.data, condition }
          : { type: 'put', key, data: mutation.data, ttl: mutation.ttl, condition },
      ]);
      return written;
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      lastConflict = error;
      current = error.currentOf(key);
    }
    if (attempt + 1 < maxAttempts) {
      await options.clock.sleep(
        backoffDelay(attempt, options.random, options.baseDelayMs, options.maxDelayMs),
      );
    }
  }
  throw new UnavailableError(`compare-and-set of ${key.pk}/${key.sk} lost ${maxAttempts} races in a row`, {
    cause: lastConflict,
  });
}
