/**
 * Decorators that make any store behave, in time, like S3 and DynamoDB: each call waits a
 * latency drawn from a log-normal distribution fitted to a published p50 and p99, DynamoDB
 * transactions that overlap on an item conflict, and each item takes writes at a bounded
 * rate. Benches use them to measure Sluice "in AWS terms" on one machine; tests use them
 * with a {@link ManualClock}. What the decorated store holds is unchanged: the model only
 * delays, cancels or throttles calls, never alters their effect.
 *
 * The model, and where its figures come from:
 *
 * - **Latency.** DynamoDB promises "single-digit millisecond" latency for reads and writes
 *   (https://aws.amazon.com/dynamodb/); a transaction makes two underlying reads or writes
 *   of every item (prepare, then commit:
 *   https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-capacity-handling),
 *   so its latency is taken as twice a write's. S3 quotes "small object latencies (and
 *   first-byte-out latencies for larger objects) of roughly 100–200 milliseconds" for its
 *   standard class
 *   (https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance-design-patterns.html);
 *   bytes then flow at about 85–90 MB/s per connection (the per-request figure of the same
 *   guide's horizontal-scaling advice,
 *   https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance-guidelines.html).
 *   Each figure is a default of {@link DYNAMODB_MODEL} / {@link S3_MODEL}; pass others to
 *   model another region, S3 Express One Zone ("single-digit millisecond", p50 ≈ 5 ms), or
 *   a measured account.
 * - **Transaction conflicts.** "There is an ongoing TransactWriteItems operation that
 *   conflicts with a concurrent TransactWriteItems request. In this case the
 *   TransactWriteItems operation fails with a TransactionCanceledException"
 *   (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html,
 *   and "Transaction conflict handling" in the guide above). Modelled as: a transaction
 *   reaches the service after half its latency and holds its items for the other half
 *   (prepare → commit); one arriving while another holds any of its items is cancelled
 *   with reason `TransactionConflict` — the very error the DynamoDB adapter raises
 *   ({@link transactionCancelled}), answered after its own remaining half.
 * - **Per-item write rate.** "Each individual partition is limited to 1,000 write units
 *   per second and 3,000 read units per second"
 *   (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/warm-throughput-scenarios.html);
 *   an item lives in one partition, so an item never takes more. A transactional write
 *   costs 2 write units per KB of the item
 *   (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-capacity-handling):
 *   a head item under 1 KB therefore takes at most 500 commits a second. Modelled as a
 *   token bucket per item holding one second of units; a write beyond it fails with
 *   {@link ThrottledError} (`ProvisionedThroughputExceededException` / `ThrottlingException`
 *   as the adapter maps it), nothing applied.
 */
import type { Clock, Random } from '../core/clock.js';
import { ThrottledError } from '../core/errors.js';
import {
  type ByteRange,
  ConflictError,
  type Item,
  type ItemKey,
  type ListPage,
  type MetaStore,
  type ObjectStore,
  type QueryOptions,
  type QueryPage,
  type SortKeyRange,
  type TransactOp,
} from '../core/ports.js';
import { transactionCancelled } from './aws-errors.js';
import { itemBytes, keyId } from './limits.js';

/** A latency distribution: log-normal through these two percentiles, in milliseconds. */
export interface LatencyModel {
  p50Ms: number;
  p99Ms: number;
}

/** DynamoDB's figures (see the module's sources). */
export interface DynamoDbModel {
  /** GetItem, BatchGetItem, Query. */
  read: LatencyModel;
  /** TransactWriteItems: two underlying writes per item. */
  transact: LatencyModel;
  /** Write units per second one item (one partition) takes. */
  itemWriteUnitsPerSecond: number;
}

/** S3's figures (see the module's sources). */
export interface S3Model {
  /** Time to first byte of a GET (or to the answer of a PUT, after its upload). */
  firstByte: LatencyModel;
  /** LIST and DELETE. */
  control: LatencyModel;
  /** Bytes per millisecond of one request's transfer (85 MB/s ≈ 85,000 B/ms). */
  bytesPerMs: number;
}

/** "Single-digit millisecond": p50 4 ms, p99 9 ms; transactions twice that. */
export const DYNAMODB_MODEL: DynamoDbModel = {
  read: { p50Ms: 4, p99Ms: 9 },
  transact: { p50Ms: 8, p99Ms: 18 },
  itemWriteUnitsPerSecond: 1000,
};

/** "Roughly 100–200 ms" small-object latency (p50 100, p99 200), 85 MB/s per request. */
export const S3_MODEL: S3Model = {
  firstByte: { p50Ms: 100, p99Ms: 200 },
  control: { p50Ms: 100, p99Ms: 200 },
  bytesPerMs: 85_000,
};

/** z of the 99th percentile of the standard normal. */
const Z99 = 2.3263478740408408;

/**
 * Draws a latency in ms from the log-normal whose median is `p50Ms` and whose 99th
 * percentile is `p99Ms`, using two uniforms of `random` (Box–Muller).
 */
export function drawLatency(model: LatencyModel, random: Random): number {
  const sigma = Math.log(model.p99Ms / model.p50Ms) / Z99;
  const u1 = Math.max(random(), Number.MIN_VALUE);
  const u2 = random();
  const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  return model.p50Ms * Math.exp(sigma * z);
}

export interface ModelledOptions {
  clock: Clock;
  random: Random;
}

/** What the meta model did, for benches and tests. */
export interface ModelStats {
  /** Transactions asked for. */
  transactions: number;
  /** Transactions applied. */
  committed: number;
  /** Cancelled for `TransactionConflict`. */
  conflicts: number;
  /** Refused for the item write rate. */
  throttles: number;
  /** Reached the items, then failed a condition (ConflictError). */
  conditionFailures: number;
}

/**
 * A MetaStore in DynamoDB's time: latencies, conflicting overlapping transactions and the
 * per-item write rate. Share one instance among every engine that stands for a separate
 * Lambda instance: the conflicts and rates it models are those of the one table.
 *
 * @example
 * const meta = new ModelledMetaStore(new MemoryMetaStore(), { clock, random });
 */
export class ModelledMetaStore implements MetaStore {
  readonly stats: ModelStats = {
    transactions: 0,
    committed: 0,
    conflicts: 0,
    throttles: 0,
    conditionFailures: 0,
  };
  /** Items held by a transaction between its prepare and commit. */
  private readonly held = new Set<string>();
  /** Token bucket per item: units left and when they were counted. */
  private readonly buckets = new Map<string, { units: number; at: number }>();

  constructor(
    readonly inner: MetaStore,
    private readonly options: ModelledOptions,
    readonly model: DynamoDbModel = DYNAMODB_MODEL,
  ) {}

  private async wait(latency: LatencyModel): Promise<void> {
    await this.options.clock.sleep(drawLatency(latency, this.options.random));
  }

  async get(key: ItemKey): Promise<Item | undefined> {
    await this.wait(this.model.read);
    return this.inner.get(key);
  }

  async batchGet(keys: readonly ItemKey[]): Promise<(Item | undefined)[]> {
    await this.wait(this.model.read);
    return this.inner.batchGet(keys);
  }

  async query(pk: string, range?: SortKeyRange, options?: QueryOptions): Promise<QueryPage> {
    await this.wait(this.model.read);
    return this.inner.query(pk, range, options);
  }

  async transact(ops: readonly TransactOp[]): Promise<void> {
    const { clock, random } = this.options;
    this.stats.transactions++;
    const half = drawLatency(this.model.transact, random) / 2;
    await clock.sleep(half);
    const ids = ops.map((op) => keyId(op.key));
    const overlapping = ids.filter((id) => this.held.has(id));
    if (overlapping.length > 0) {
      this.stats.conflicts++;
      await clock.sleep(half);
      throw transactionCancelled(
        ids.map((id) => (this.held.has(id) ? 'TransactionConflict' : 'None')),
        'modelled: an overlapping transaction holds an item',
      );
    }
    if (!this.takeWriteUnits(ops)) {
      this.stats.throttles++;
      await clock.sleep(half);
      throw new ThrottledError('modelled: an item is over its partition write rate (1,000 WCU/s)');
    }
    for (const id of ids) this.held.add(id);
    try {
      await clock.sleep(half);
      await this.inner.transact(ops);
      this.stats.committed++;
    } catch (err) {
      if (err instanceof ConflictError) this.stats.conditionFailures++;
      throw err;
    } finally {
      for (const id of ids) this.held.delete(id);
    }
  }

  /** Takes the write units of `ops` from their items' buckets: all or none. */
  private takeWriteUnits(ops: readonly TransactOp[]): boolean {
    const now = this.options.clock.now();
    const rate = this.model.itemWriteUnitsPerSecond;
    const costs = ops.map((op) => {
      const id = keyId(op.key);
      const bucket = this.buckets.get(id) ?? { units: rate, at: now };
      bucket.units = Math.min(rate, bucket.units + ((now - bucket.at) * rate) / 1000);
      bucket.at = now;
      this.buckets.set(id, bucket);
      return { bucket, units: transactionalWriteUnits(op) };
    });
    if (costs.some((c) => c.bucket.units < c.units)) return false;
    for (const c of costs) c.bucket.units -= c.units;
    return true;
  }
}

/** Write units of one op in a transaction: 2 per KB of the item (1 KB for a delete or check). */
export function transactionalWriteUnits(op: TransactOp): number {
  const bytes =
    op.type === 'put'
      ? itemBytes(op.key, op.data, op.ttl)
      : op.type === 'update'
        ? itemBytes(op.key, op.set ?? {})
        : 1;
  return 2 * Math.max(1, Math.ceil(bytes / 1024));
}

/**
 * An ObjectStore in S3's time: every call waits a first-byte latency, plus the transfer of
 * its bytes (uploaded for a PUT, downloaded for a GET) at one connection's rate.
 */
export class ModelledObjectStore implements ObjectStore {
  constructor(
    readonly inner: ObjectStore,
    private readonly options: ModelledOptions,
    readonly model: S3Model = S3_MODEL,
  ) {}

  private async wait(latency: LatencyModel, bytes: number): Promise<void> {
    const ms = drawLatency(latency, this.options.random) + bytes / this.model.bytesPerMs;
    await this.options.clock.sleep(ms);
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    await this.wait(this.model.firstByte, body.length);
    return this.inner.put(key, body);
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array> {
    const bytes = await this.inner.get(key, range);
    await this.wait(this.model.firstByte, bytes.length);
    return bytes;
  }

  async delete(keys: readonly string[]): Promise<void> {
    await this.wait(this.model.control, 0);
    return this.inner.delete(keys);
  }

  async list(prefix: string, options?: { after?: string; limit?: number }): Promise<ListPage> {
    await this.wait(this.model.control, 0);
    return this.inner.list(prefix, options);
  }
}
