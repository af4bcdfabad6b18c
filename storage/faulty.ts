/**
 * Decorators that inject storage faults, reproducibly: one seeded {@link FaultInjector}
 * drives an object store and a meta store, and the same seed with the same sequence of
 * calls gives the same faults. Faults:
 *
 * - `before`: the call fails with {@link UnavailableError} and nothing happens;
 * - `after`: the call happens, then fails with {@link UnavailableError} — the caller sees
 *   an error although the write was made (a lost response);
 * - `throttle`: the call fails with {@link ThrottledError} and nothing happens;
 * - `conflict` (transactions only): the transaction is cancelled as real DynamoDB cancels
 *   one that overlaps another on an item (`TransactionCanceledException` with reason
 *   `TransactionConflict`): the adapter's own error for it, nothing applied. A serial
 *   emulator never produces it, so tests inject it on every path that commits;
 * - `denied`: the call fails as an AWS adapter fails on a 403 `AccessDenied` (a wrong
 *   policy): `StorageMisconfiguredError`, not retriable, nothing happens;
 * - latency: the call waits `latencyMs` on the injected clock first.
 *
 * Each call draws the same number of random numbers, in call order, whatever the outcome,
 * so the schedule depends only on the seed and the order of calls.
 */
import type { Clock, Random } from '../core/clock.js';
import { seededRandom } from '../core/clock.js';
import { ThrottledError, UnavailableError } from '../core/errors.js';
import type {
  ByteRange,
  Item,
  ItemKey,
  ListPage,
  MetaStore,
  ObjectStore,
  QueryOptions,
  QueryPage,
  SortKeyRange,
  TransactOp,
} from '../core/ports.js';
import { mapAwsError, transactionCancelled } from './aws-errors.js';

/** The calls faults apply to: object store calls, then meta store calls. */
export type OpKind = 'put' | 'get' | 'delete' | 'list' | 'metaGet' | 'batchGet' | 'query' | 'transact';
export type FaultMode = 'before' | 'after' | 'throttle' | 'conflict' | 'denied';

export interface FaultRates {
  /** Probability of failing before the call. */
  before?: number;
  /** Probability of failing after the call succeeded. */
  after?: number;
  /** Probability of a throttling error (before the call). */
  throttle?: number;
  /** Probability that a transaction is cancelled for a `TransactionConflict` (`transact` only). */
  conflict?: number;
  /** Probability of an access-denied refusal (before the call). */
  denied?: number;
  /** Probability of added latency. @default 1 when latencyMs is set */
  latency?: number;
  /** Latency added, drawn uniformly from [0, latencyMs]. */
  latencyMs?: number;
}

export interface FaultyOptions {
  seed: number;
  /** Rates per kind of call; `default` applies to kinds not listed. */
  rates?: Partial<Record<OpKind | 'default', FaultRates>>;
  /** The clock latency is spent on; required when a latency is configured. */
  clock?: Clock;
}

/** One injected fault, in the order they happened. */
export interface FaultEvent {
  call: number;
  op: OpKind;
  fault: FaultMode | 'latency';
  /** Latency in ms for `latency` events. */
  ms?: number;
}

/**
 * The seeded source of faults shared by the decorators.
 *
 * @example
 * const faults = new FaultInjector({ seed: 7, rates: { transact: { after: 0.1 } } });
 * const meta = new FaultyMetaStore(new MemoryMetaStore(), faults);
 * faults.failNext('transact', 'after'); // the next transact is applied, then fails
 */
export class FaultInjector {
  private readonly random: Random;
  private readonly rates: FaultyOptions['rates'];
  private readonly clock: Clock | undefined;
  private readonly queued: { op: OpKind; mode: FaultMode }[] = [];
  private calls = 0;
  /** Every fault injected so far. */
  readonly events: FaultEvent[] = [];
  /** Off: calls pass through untouched (the random schedule does not advance). */
  enabled = true;

  constructor(options: FaultyOptions) {
    this.random = seededRandom(options.seed);
    this.rates = options.rates;
    this.clock = options.clock;
    const needsClock = Object.values(options.rates ?? {}).some((r) => (r?.latencyMs ?? 0) > 0);
    if (needsClock && !options.clock) throw new Error('FaultInjector: latency needs a clock');
  }

  /** Makes the next call of kind `op` fail with `mode`, whatever the rates say. */
  failNext(op: OpKind, mode: FaultMode): void {
    if (mode === 'conflict' && op !== 'transact')
      throw new Error('FaultInjector: only a transaction can conflict');
    this.queued.push({ op, mode });
  }

  /**
   * Runs `call` under the faults decided for this call of kind `op`.
   * @internal used by the decorators
   */
  async run<T>(op: OpKind, call: () => Promise<T>): Promise<T> {
    if (!this.enabled) return call();
    const n = this.calls++;
    const rates = this.rates?.[op] ?? this.rates?.default ?? {};
    // Always draw four numbers so the schedule does not depend on outcomes.
    const [rLatency, rMs, rFault, rAfter] = [this.random(), this.random(), this.random(), this.random()];
    const latencyMs = rates.latencyMs ?? 0;
    if (latencyMs > 0 && rLatency < (rates.latency ?? 1)) {
      const ms = Math.round(rMs * latencyMs);
      this.events.push({ call: n, op, fault: 'latency', ms });
      await this.clock!.sleep(ms);
    }
    let mode: FaultMode | undefined;
    const queued = this.queued.findIndex((q) => q.op === op);
    if (queued >= 0) mode = this.queued.splice(queued, 1)[0]!.mode;
    else if (rFault < (rates.throttle ?? 0)) mode = 'throttle';
    else if (rFault < (rates.throttle ?? 0) + (rates.before ?? 0)) mode = 'before';
    else if (
      op === 'transact' &&
      rFault < (rates.throttle ?? 0) + (rates.before ?? 0) + (rates.conflict ?? 0)
    )
      mode = 'conflict';
    else if (
      rFault >= (rates.throttle ?? 0) + (rates.before ?? 0) + (rates.conflict ?? 0) &&
      rFault < (rates.throttle ?? 0) + (rates.before ?? 0) + (rates.conflict ?? 0) + (rates.denied ?? 0)
    )
      mode = 'denied';
    else if (rAfter < (rates.after ?? 0)) mode = 'after';
    if (mode) this.events.push({ call: n, op, fault: mode });
    if (mode === 'throttle') throw new ThrottledError(`injected throttling of ${op} (call ${n})`);
    if (mode === 'before') throw new UnavailableError(`injected failure before ${op} (call ${n})`);
    if (mode === 'conflict') throw transactionCancelled(['TransactionConflict'], `injected (call ${n})`);
    if (mode === 'denied') {
      throw mapAwsError(
        Object.assign(new Error(`injected AccessDenied of ${op} (call ${n})`), {
          name: 'AccessDenied',
          $metadata: { httpStatusCode: 403 },
        }),
        op,
        'the injected store',
      );
    }
    const result = await call();
    if (mode === 'after') throw new UnavailableError(`injected failure after ${op} succeeded (call ${n})`);
    return result;
  }
}

/** An ObjectStore whose calls fail as its {@link FaultInjector} decides. */
export class FaultyObjectStore implements ObjectStore {
  constructor(
    readonly inner: ObjectStore,
    readonly faults: FaultInjector,
  ) {}

  put(key: string, body: Uint8Array): Promise<void> {
    return this.faults.run('put', () => this.inner.put(key, body));
  }

  get(key: string, range?: ByteRange): Promise<Uint8Array> {
    return this.faults.run('get', () => this.inner.get(key, range));
  }

  delete(keys: readonly string[]): Promise<void> {
    return this.faults.run('delete', () => this.inner.delete(keys));
  }

  list(prefix: string, options?: { after?: string; limit?: number }): Promise<ListPage> {
    return this.faults.run('list', () => this.inner.list(prefix, options));
  }
}

/** A MetaStore whose calls fail as its {@link FaultInjector} decides. */
export class FaultyMetaStore implements MetaStore {
  constructor(
    readonly inner: MetaStore,
    readonly faults: FaultInjector,
  ) {}

  get(key: ItemKey): Promise<Item | undefined> {
    return this.faults.run('metaGet', () => this.inner.get(key));
  }

  batchGet(keys: readonly ItemKey[]): Promise<(Item | undefined)[]> {
    return this.faults.run('batchGet', () => this.inner.batchGet(keys));
  }

  query(pk: string, range?: SortKeyRange, options?: QueryOptions): Promise<QueryPage> {
    return this.faults.run('query', () => this.inner.query(pk, range, options));
  }

  transact(ops: readonly TransactOp[]): Promise<void> {
    return this.faults.run('transact', () => this.inner.transact(ops));
  }
}
