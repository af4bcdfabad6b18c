/**
 * A partition's maintenance lease as held through a pass (DESIGN.md §5): taken once,
 * renewed at half-life between steps, and checked by every transaction the pass commits,
 * so a worker that lost the lease (a long GC pause, a slow rewrite) cannot write at all.
 */

import { backoffDelay } from '../cas.js';
import { SluiceError } from '../errors.js';
import { keys } from '../keys.js';
import { acquireLease, fenceOp, type Lease, releaseLease, renewLease } from '../leases.js';
import { ConflictError, type TransactOp } from '../ports.js';
import type { MaintenanceDeps } from './options.js';

/** The lease was taken over (or expired and taken) while the pass ran: stop, change nothing more. */
export class LeaseLostError extends Error {
  override name = 'LeaseLostError';
  constructor(
    readonly pk: string,
    options?: { cause?: unknown },
  ) {
    super(`lost the maintenance lease of ${pk}`, options);
  }
}

/** Retries of a retriable failure per transaction. */
const RETRIES = 4;

export class PartitionLease {
  private constructor(
    private readonly deps: MaintenanceDeps,
    private lease: Lease,
    private readonly ttlMs: number,
  ) {}

  /**
   * Takes the lease of one partition, or returns `undefined` when another worker holds it.
   *
   * @example
   * const lease = await PartitionLease.acquire(deps, topicId, 0, 60_000);
   * if (lease) try { await lease.transact([{ type: 'delete', key }]); } finally { await lease.release(); }
   */
  static async acquire(
    deps: MaintenanceDeps,
    topicId: string,
    partition: number,
    ttlMs: number,
  ): Promise<PartitionLease | undefined> {
    const lease = await acquireLease(deps.meta, keys.lease(topicId, partition), deps.owner, ttlMs, deps);
    return lease && new PartitionLease(deps, lease, ttlMs);
  }

  get epoch(): number {
    return this.lease.epoch;
  }

  /** Renews the lease when half of it has run out; throws {@link LeaseLostError} if it is gone. */
  async keepAlive(): Promise<void> {
    if (this.deps.clock.now() < this.lease.expiresAt - this.ttlMs / 2) return;
    const renewed = await renewLease(this.deps.meta, this.lease, this.ttlMs, this.deps);
    if (!renewed) throw new LeaseLostError(this.lease.key.pk);
    this.lease = renewed;
  }

  /** The check that fails unless the lease is still ours, to put in a transaction. */
  fence(): TransactOp {
    return fenceOp(this.lease);
  }

  /**
   * Commits `ops` with the fence. A conflict on the lease becomes {@link LeaseLostError};
   * a conflict elsewhere is rethrown as is. Retriable failures (throttling, a transaction
   * conflict, a timeout) are retried a few times: every maintenance transaction holds an
   * op conditioned on a version it changes (or is idempotent, like the progress item), so
   * one that had in fact landed cannot land twice — its retry fails with a conflict.
   */
  async transact(ops: readonly TransactOp[]): Promise<void> {
    await this.commit(() => [this.fence(), ...ops]);
  }

  /**
   * Commits `ops` and deletes the lease item itself, conditioned on its version (the
   * fence): the last write of a deleted topic's partition, whose id is never reused.
   */
  async transactAndDelete(ops: readonly TransactOp[]): Promise<void> {
    await this.commit(() => [
      ...ops,
      { type: 'delete', key: this.lease.key, condition: { version: this.lease.version } },
    ]);
  }

  private async commit(build: () => TransactOp[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      await this.keepAlive();
      try {
        await this.deps.meta.transact(build());
        return;
      } catch (err) {
        if (err instanceof ConflictError && err.failed(this.lease.key)) {
          throw new LeaseLostError(this.lease.key.pk, { cause: err });
        }
        if (!(err instanceof SluiceError && err.retriable) || attempt >= RETRIES) throw err;
      }
      await this.deps.clock.sleep(backoffDelay(attempt, this.deps.random, 20, 1000));
    }
  }

  /** Gives the lease up (best effort: a lost lease needs no release). */
  async release(): Promise<void> {
    await releaseLease(this.deps.meta, this.lease).catch(() => false);
  }
}
