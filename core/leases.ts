/**
 * Fenced leases (DESIGN.md §5): one item per lease holding `{ owner, epoch, expiresAt }`,
 * changed only by compare-and-set. The epoch grows on every change of owner, so work
 * stamped with an epoch can be told apart from a deposed holder's; and {@link fenceOp}
 * puts a check on the lease item's version into a transaction, so a holder that lost the
 * lease cannot write at all.
 *
 * The lease item is never deleted (release only expires it): deleting it would restart
 * the epoch at 1 and let an old epoch be reused.
 */
import { type CasOptions, casUpdate } from './cas.js';
import type { Clock, Random } from './clock.js';
import { InvalidRequestError } from './errors.js';
import { ConflictError, type Item, type ItemKey, type MetaStore, type TransactOp } from './ports.js';

/** A lease as held: valid while `version` is the lease item's version and `expiresAt` is ahead. */
export interface Lease {
  key: ItemKey;
  owner: string;
  /** Grows by one on every change of owner; starts at 1. */
  epoch: number;
  /** Milliseconds since the epoch (of the injected clock). */
  expiresAt: number;
  /** The lease item's version when this lease was written. */
  version: number;
}

export interface LeaseOptions {
  clock: Clock;
  random: Random;
  /** Passed to {@link casUpdate}. */
  maxAttempts?: number;
}

interface LeaseState {
  owner: string;
  epoch: number;
  expiresAt: number;
}

function stateOf(item: Item | undefined): LeaseState | undefined {
  if (!item) return undefined;
  const { owner, epoch, expiresAt } = item.data;
  return {
    owner: typeof owner === 'string' ? owner : '',
    epoch: typeof epoch === 'number' ? epoch : 0,
    expiresAt: typeof expiresAt === 'number' ? expiresAt : 0,
  };
}

function toLease(item: Item): Lease {
  const s = stateOf(item)!;
  return {
    key: { pk: item.pk, sk: item.sk },
    owner: s.owner,
    epoch: s.epoch,
    expiresAt: s.expiresAt,
    version: item.version,
  };
}

function checkArgs(owner: string, ttlMs: number): void {
  if (typeof owner !== 'string' || owner.length === 0) {
    throw new InvalidRequestError('owner must be a non-empty string', 'owner');
  }
  if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0)
    throw new InvalidRequestError('ttlMs must be a positive integer', 'ttlMs');
}

/**
 * Takes the lease at `key` for `owner` for `ttlMs`, unless another owner holds an unexpired
 * lease. Taking over from another owner (or a first acquisition) bumps the epoch; an owner
 * re-acquiring its own lease keeps its epoch.
 *
 * @returns the lease, or `undefined` when someone else holds it.
 *
 * @example
 * const lease = await acquireLease(meta, keys.lease(topicId, 0), 'worker-1', 30_000, { clock, random });
 * if (lease) await meta.transact([fenceOp(lease), { type: 'delete', key: indexKey }]);
 */
export async function acquireLease(
  store: MetaStore,
  key: ItemKey,
  owner: string,
  ttlMs: number,
  options: LeaseOptions,
): Promise<Lease | undefined> {
  checkArgs(owner, ttlMs);
  let heldByOther = false;
  const item = await casUpdate(
    store,
    key,
    (current) => {
      const now = options.clock.now();
      const state = stateOf(current);
      heldByOther = state !== undefined && state.owner !== owner && state.expiresAt > now;
      if (heldByOther) return undefined;
      const epoch = state === undefined ? 1 : state.owner === owner ? state.epoch : state.epoch + 1;
      return { data: { owner, epoch, expiresAt: now + ttlMs } };
    },
    casOptions(options),
  );
  return heldByOther || !item ? undefined : toLease(item);
}

/**
 * Extends a lease still held (its item unchanged since `lease` was written) to
 * `now + ttlMs`.
 *
 * @returns the renewed lease, or `undefined` when the lease was lost (taken over or released).
 *
 * @example
 * lease = await renewLease(meta, lease, 30_000, { clock });
 * if (!lease) return; // deposed: stop the partition's background work
 */
export async function renewLease(
  store: MetaStore,
  lease: Lease,
  ttlMs: number,
  options: Pick<LeaseOptions, 'clock'>,
): Promise<Lease | undefined> {
  checkArgs(lease.owner, ttlMs);
  const expiresAt = options.clock.now() + ttlMs;
  const written = await writeIfHeld(store, lease, expiresAt);
  return written ? { ...lease, expiresAt, version: lease.version + 1 } : undefined;
}

/**
 * Gives a lease up by expiring it now, keeping owner and epoch so the next holder's epoch
 * is higher.
 *
 * @returns `true` when released, `false` when the lease had already been lost.
 *
 * @example
 * await releaseLease(meta, lease);
 */
export async function releaseLease(store: MetaStore, lease: Lease): Promise<boolean> {
  return writeIfHeld(store, lease, 0);
}

/**
 * A transaction op that fails (with a {@link ConflictError} on `lease.key`) unless the
 * lease item is still exactly as `lease` wrote it: put it in the same transaction as a
 * write only the lease holder may make.
 *
 * @example
 * await meta.transact([fenceOp(lease), { type: 'put', key, data }]);
 */
export function fenceOp(lease: Lease): TransactOp {
  return {
    type: 'check',
    key: { pk: lease.key.pk, sk: lease.key.sk },
    condition: { version: lease.version },
  };
}

async function writeIfHeld(store: MetaStore, lease: Lease, expiresAt: number): Promise<boolean> {
  try {
    await store.transact([
      {
        type: 'put',
        key: lease.key,
        data: { owner: lease.owner, epoch: lease.epoch, expiresAt },
        condition: { version: lease.version },
      },
    ]);
    return true;
  } catch (error) {
    if (error instanceof ConflictError) return false;
    throw error;
  }
}

function casOptions(options: LeaseOptions): CasOptions {
  const o: CasOptions = { clock: options.clock, random: options.random };
  if (options.maxAttempts !== undefined) o.maxAttempts = options.maxAttempts;
  return o;
}
