/**
 * Decorators that count what the engine asks of storage — requests, bytes, and DynamoDB
 * capacity units — to feed a cost model. They count at the port, so the same numbers come
 * out whatever adapter sits underneath; every call counts, failed ones too (AWS bills
 * those as well).
 *
 * Capacity units follow DynamoDB's on-demand rules, estimated from what the port sees:
 * - reads are strongly consistent: 1 RCU per 4 KB of each item read (GetItem/BatchGetItem,
 *   a missing item still costs 1), a query 1 RCU per 4 KB of all its items together (min 1);
 * - a write costs 1 WCU per 1 KB of the item written (a put's whole item, an update's key
 *   and changed fields — a lower bound, the port does not see the merged item — and 1 for a
 *   delete); a lone `check` is a consistent read (1 RCU);
 * - in a transaction of several ops every op, checks included, costs twice.
 */
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
import { itemBytes } from './limits.js';

export interface StorageCounts {
  s3: { put: number; get: number; delete: number; list: number; bytesIn: number; bytesOut: number };
  dynamo: {
    get: number;
    batchGet: number;
    query: number;
    transact: number;
    /** Items in write requests (ops of `transact`, checks included). */
    writeItems: number;
    rcu: number;
    wcu: number;
  };
}

function zero(): StorageCounts {
  return {
    s3: { put: 0, get: 0, delete: 0, list: 0, bytesIn: 0, bytesOut: 0 },
    dynamo: { get: 0, batchGet: 0, query: 0, transact: 0, writeItems: 0, rcu: 0, wcu: 0 },
  };
}

/** The counters shared by a metered object store and meta store. */
export class Meter {
  private counts = zero();

  /** A copy of the counts so far. */
  snapshot(): StorageCounts {
    return structuredClone(this.counts);
  }

  reset(): void {
    this.counts = zero();
  }

  /** @internal */
  get c(): StorageCounts {
    return this.counts;
  }
}

const KB = 1024;
const S3_DELETE_CHUNK = 1000;
const BATCH_GET_CHUNK = 100;

function readUnits(item: Item | undefined): number {
  return item ? Math.max(1, Math.ceil(itemBytes(item, item.data, item.ttl) / (4 * KB))) : 1;
}

function writeUnits(op: TransactOp): number {
  try {
    switch (op.type) {
      case 'put':
        return Math.max(1, Math.ceil(itemBytes(op.key, op.data, op.ttl) / KB));
      case 'update':
        return Math.max(1, Math.ceil(itemBytes(op.key, { ...op.set, ...op.add }) / KB));
      default:
        return 1;
    }
  } catch {
    // A malformed op: the store underneath refuses it with the proper error.
    return 1;
  }
}

/**
 * Counts S3 requests and bytes.
 *
 * @example
 * const meter = new Meter();
 * const objects = new MeteredObjectStore(new MemoryObjectStore(), meter);
 * await objects.put('k', bytes);
 * meter.snapshot().s3; // { put: 1, bytesIn: bytes.length, ... }
 */
export class MeteredObjectStore implements ObjectStore {
  constructor(
    readonly inner: ObjectStore,
    readonly meter: Meter = new Meter(),
  ) {}

  async put(key: string, body: Uint8Array): Promise<void> {
    this.meter.c.s3.put++;
    this.meter.c.s3.bytesIn += body.length;
    return this.inner.put(key, body);
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array> {
    this.meter.c.s3.get++;
    const bytes = await this.inner.get(key, range);
    this.meter.c.s3.bytesOut += bytes.length;
    return bytes;
  }

  async delete(keys: readonly string[]): Promise<void> {
    this.meter.c.s3.delete += Math.ceil(new Set(keys).size / S3_DELETE_CHUNK);
    return this.inner.delete(keys);
  }

  async list(prefix: string, options?: { after?: string; limit?: number }): Promise<ListPage> {
    this.meter.c.s3.list++;
    return this.inner.list(prefix, options);
  }
}

/**
 * Counts DynamoDB requests and capacity units.
 *
 * @example
 * const meta = new MeteredMetaStore(new MemoryMetaStore(), meter);
 * await meta.get({ pk: 'a', sk: 'b' });
 * meter.snapshot().dynamo; // { get: 1, rcu: 1, ... }
 */
export class MeteredMetaStore implements MetaStore {
  constructor(
    readonly inner: MetaStore,
    readonly meter: Meter = new Meter(),
  ) {}

  async get(key: ItemKey): Promise<Item | undefined> {
    const d = this.meter.c.dynamo;
    d.get++;
    const item = await this.inner.get(key);
    d.rcu += readUnits(item);
    return item;
  }

  async batchGet(keys: readonly ItemKey[]): Promise<(Item | undefined)[]> {
    const d = this.meter.c.dynamo;
    const unique = new Map(keys.map((k) => [`${k.pk.length}:${k.pk}${k.sk}`, k]));
    d.batchGet += Math.ceil(unique.size / BATCH_GET_CHUNK);
    const items = await this.inner.batchGet(keys);
    const seen = new Set<string>();
    keys.forEach((k, i) => {
      const id = `${k.pk.length}:${k.pk}${k.sk}`;
      if (seen.has(id)) return;
      seen.add(id);
      d.rcu += readUnits(items[i]);
    });
    return items;
  }

  async query(pk: string, range?: SortKeyRange, options?: QueryOptions): Promise<QueryPage> {
    const d = this.meter.c.dynamo;
    d.query++;
    const page = await this.inner.query(pk, range, options);
    const bytes = page.items.reduce((sum, item) => sum + itemBytes(item, item.data, item.ttl), 0);
    d.rcu += Math.max(1, Math.ceil(bytes / (4 * KB)));
    return page;
  }

  async transact(ops: readonly TransactOp[]): Promise<void> {
    const d = this.meter.c.dynamo;
    if (ops.length > 0) {
      d.transact++;
      d.writeItems += ops.length;
      if (ops.length === 1 && ops[0]!.type === 'check') d.rcu += 1;
      else {
        const factor = ops.length > 1 ? 2 : 1;
        for (const op of ops) d.wcu += factor * writeUnits(op);
      }
    }
    return this.inner.transact(ops);
  }
}
