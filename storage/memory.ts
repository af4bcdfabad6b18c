/**
 * In-memory adapters of both ports: the reference semantics for the conformance suite and
 * the fastest store for unit tests. Every call copies values in and out, so callers can
 * never change stored state by mutating what they passed or got back.
 */
import type {
  ByteRange,
  Item,
  ItemKey,
  ListPage,
  MetaStore,
  ObjectInfo,
  ObjectStore,
  QueryOptions,
  QueryPage,
  SortKeyRange,
  TransactOp,
} from '../core/ports.js';
import { ObjectExistsError, ObjectNotFoundError } from '../core/ports.js';
import { checkKey, checkTransaction, itemBytes } from './limits.js';
import { checkByteRange, checkObjectKey, parseListOptions } from './object-args.js';
import { planTransaction } from './plan.js';
import { compareUtf8, encodeCursor, inRange, parseQuery, QUERY_PAGE_BYTES } from './query.js';

/** Where `lastModified` comes from; defaults to the wall clock. */
export interface MemoryStoreOptions {
  now?: () => number;
}

/**
 * An ObjectStore in a Map.
 *
 * @example
 * const objects = new MemoryObjectStore();
 * await objects.put('data/a.seg', new Uint8Array([1, 2, 3]));
 * await objects.get('data/a.seg', { start: 1, end: 9 }); // Uint8Array [2, 3]
 */
export class MemoryObjectStore implements ObjectStore {
  private readonly objects = new Map<string, { body: Uint8Array; lastModified: number }>();
  private readonly now: () => number;

  constructor(options: MemoryStoreOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    checkObjectKey(key);
    if (this.objects.has(key)) throw new ObjectExistsError(key);
    this.objects.set(key, { body: Uint8Array.from(body), lastModified: this.now() });
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array> {
    checkObjectKey(key);
    checkByteRange(range);
    const obj = this.objects.get(key);
    if (!obj) throw new ObjectNotFoundError(key);
    if (!range) return Uint8Array.from(obj.body);
    return obj.body.slice(Math.min(range.start, obj.body.length), Math.min(range.end, obj.body.length));
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) checkObjectKey(key);
    for (const key of keys) this.objects.delete(key);
  }

  async list(prefix: string, options?: { after?: string; limit?: number }): Promise<ListPage> {
    const limit = parseListOptions(prefix, options);
    const after = options?.after;
    const matching: ObjectInfo[] = [];
    for (const [key, obj] of this.objects) {
      if (!key.startsWith(prefix)) continue;
      if (after !== undefined && compareUtf8(key, after) <= 0) continue;
      matching.push({ key, size: obj.body.length, lastModified: obj.lastModified });
    }
    matching.sort((a, b) => compareUtf8(a.key, b.key));
    const objects = matching.slice(0, limit);
    const page: ListPage = { objects };
    if (matching.length > limit) page.next = objects[objects.length - 1]!.key;
    return page;
  }
}

/**
 * A MetaStore in a Map, with DynamoDB's semantics and limits.
 *
 * @example
 * const meta = new MemoryMetaStore();
 * await meta.transact([{ type: 'put', key: { pk: 'topics', sk: 'orders' }, data: { id: 't1' }, condition: { absent: true } }]);
 * (await meta.get({ pk: 'topics', sk: 'orders' }))?.version; // 1
 */
export class MemoryMetaStore implements MetaStore {
  private readonly partitions = new Map<string, Map<string, Item>>();

  async get(key: ItemKey): Promise<Item | undefined> {
    checkKey(key);
    return this.read(key);
  }

  async batchGet(keys: readonly ItemKey[]): Promise<(Item | undefined)[]> {
    for (const key of keys) checkKey(key);
    return keys.map((key) => this.read(key));
  }

  async query(pk: string, range?: SortKeyRange, options?: QueryOptions): Promise<QueryPage> {
    const q = parseQuery(pk, range, options);
    const partition = this.partitions.get(pk);
    let items = partition ? [...partition.values()].filter((item) => inRange(item.sk, q.range)) : [];
    items.sort((a, b) => compareUtf8(a.sk, b.sk));
    if (q.desc) items.reverse();
    if (q.afterSk !== undefined) {
      const after = q.afterSk;
      items = items.filter((item) =>
        q.desc ? compareUtf8(item.sk, after) < 0 : compareUtf8(item.sk, after) > 0,
      );
    }
    const page: QueryPage = { items: [] };
    let bytes = 0;
    for (const item of items) {
      if ((q.limit !== undefined && page.items.length >= q.limit) || bytes >= QUERY_PAGE_BYTES) {
        page.next = encodeCursor(page.items[page.items.length - 1]!.sk);
        break;
      }
      page.items.push(structuredClone(item));
      bytes += itemBytes(item, item.data, item.ttl);
    }
    return page;
  }

  async transact(ops: readonly TransactOp[]): Promise<void> {
    checkTransaction(ops);
    const writes = planTransaction(
      ops,
      ops.map((op) => this.partitions.get(op.key.pk)?.get(op.key.sk)),
    );
    for (const { key, item } of writes) {
      let partition = this.partitions.get(key.pk);
      if (item) {
        if (!partition) this.partitions.set(key.pk, (partition = new Map()));
        partition.set(key.sk, item);
      } else if (partition) {
        partition.delete(key.sk);
        if (partition.size === 0) this.partitions.delete(key.pk);
      }
    }
  }

  private read(key: ItemKey): Item | undefined {
    const item = this.partitions.get(key.pk)?.get(key.sk);
    return item && structuredClone(item);
  }
}
