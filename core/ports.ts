/**
 * The two ports the engine sees storage through (DESIGN.md §2). Adapters live in
 * `storage/`, one per file; every adapter passes the conformance suite in `test/`.
 */

// ---------------------------------------------------------------------------------------
// ObjectStore: immutable, create-only blobs (S3).
// ---------------------------------------------------------------------------------------

/** A byte range: `start` inclusive, `end` exclusive. */
export interface ByteRange {
  start: number;
  end: number;
}

export interface ObjectInfo {
  key: string;
  size: number;
  /** Milliseconds since the epoch when the object was written. */
  lastModified: number;
}

export interface ListPage {
  objects: ObjectInfo[];
  /** Pass as `after` to get the next page; absent on the last page. */
  next?: string;
}

export interface ObjectStore {
  /** Creates `key`; throws {@link ObjectExistsError} if it exists (S3 `If-None-Match: *`). */
  put(key: string, body: Uint8Array): Promise<void>;
  /**
   * Reads a whole object or a byte range of it. A range past the end is clipped to the
   * object's size. Throws {@link ObjectNotFoundError} if the key does not exist.
   */
  get(key: string, range?: ByteRange): Promise<Uint8Array>;
  /** Deletes keys; deleting a missing key is not an error. */
  delete(keys: readonly string[]): Promise<void>;
  /** Keys starting with `prefix`, in lexicographic order, strictly after `after`. */
  list(prefix: string, options?: { after?: string; limit?: number }): Promise<ListPage>;
}

// ---------------------------------------------------------------------------------------
// MetaStore: versioned items under (pk, sk), changed by conditional writes (DynamoDB).
// ---------------------------------------------------------------------------------------

/** What an item may hold: JSON values (no binary, no undefined). */
export type Json = string | number | boolean | null | Json[] | { [key: string]: Json };
export type ItemData = { [key: string]: Json };

export interface ItemKey {
  pk: string;
  sk: string;
}

export interface Item extends ItemKey {
  /** Starts at 1 when the item is created; every write adds 1. */
  version: number;
  data: ItemData;
  /** Seconds since the epoch after which the store may delete the item (DynamoDB TTL). */
  ttl?: number;
}

/** `absent`: the item must not exist. `version`: the item must exist at exactly that version. */
export type Condition = { absent: true } | { version: number };

export type TransactOp =
  /** Creates or replaces the whole item (data and ttl). */
  | { type: 'put'; key: ItemKey; data: ItemData; ttl?: number; condition?: Condition }
  /**
   * Changes fields of an existing item: `set` replaces top-level data fields, `add` adds
   * to numeric top-level fields (a missing field counts as 0). Fails with a conflict when
   * the item does not exist.
   */
  | {
      type: 'update';
      key: ItemKey;
      set?: ItemData;
      add?: Record<string, number>;
      condition?: Condition;
    }
  | { type: 'delete'; key: ItemKey; condition?: Condition }
  /** Writes nothing; only its condition counts. */
  | { type: 'check'; key: ItemKey; condition: Condition };

/** A sort-key range; all bounds optional and combinable. */
export interface SortKeyRange {
  gte?: string;
  gt?: string;
  lte?: string;
  lt?: string;
  beginsWith?: string;
}

export interface QueryOptions {
  /** Maximum number of items in this page. */
  limit?: number;
  /** `asc` (default) or `desc` sort-key order. */
  direction?: 'asc' | 'desc';
  /** The `next` cursor of the previous page. */
  after?: string;
}

export interface QueryPage {
  items: Item[];
  next?: string;
}

export interface MetaStore {
  /** Strongly consistent read. */
  get(key: ItemKey): Promise<Item | undefined>;
  /** Strongly consistent reads of many keys; result is in the order of `keys`. */
  batchGet(keys: readonly ItemKey[]): Promise<(Item | undefined)[]>;
  query(pk: string, range?: SortKeyRange, options?: QueryOptions): Promise<QueryPage>;
  /**
   * All ops or none. Throws {@link ConflictError} when any condition fails (or an
   * `update` targets a missing item), carrying the current state of each failed op.
   * Throws {@link ItemTooLargeError} / {@link TransactionTooLargeError} before writing
   * when the limits of {@link META_LIMITS} are exceeded. At most one op per key.
   */
  transact(ops: readonly TransactOp[]): Promise<void>;
}

/** DynamoDB's limits, enforced identically by every adapter. */
export const META_LIMITS = {
  /** Bytes per item, as DynamoDB counts them (attribute names + values). */
  itemBytes: 400 * 1024,
  opsPerTransaction: 100,
  transactionBytes: 4 * 1024 * 1024,
  /** Bytes of a partition or sort key. */
  keyBytes: 1024,
} as const;

// ---------------------------------------------------------------------------------------
// Errors of the ports.
// ---------------------------------------------------------------------------------------

/** A conditional write lost. `failures` says, per failed op, what the item is now. */
export class ConflictError extends Error {
  override name = 'ConflictError';
  constructor(
    readonly failures: { index: number; key: ItemKey; current: Item | undefined }[],
    options?: { cause?: unknown },
  ) {
    super(
      `condition failed on ${failures.map((f) => `${f.key.pk}/${f.key.sk}`).join(', ') || 'a transaction'}`,
      options,
    );
  }

  /** The current item of a failed op on `key`, if that op failed. */
  currentOf(key: ItemKey): Item | undefined {
    return this.failures.find((f) => f.key.pk === key.pk && f.key.sk === key.sk)?.current;
  }

  /** True when an op on `key` is among the failures. */
  failed(key: ItemKey): boolean {
    return this.failures.some((f) => f.key.pk === key.pk && f.key.sk === key.sk);
  }
}

/** `put` of a key that exists in the object store. */
export class ObjectExistsError extends Error {
  override name = 'ObjectExistsError';
  constructor(readonly key: string) {
    super(`object ${key} already exists`);
  }
}

/** `get` of a key that does not exist in the object store. */
export class ObjectNotFoundError extends Error {
  override name = 'ObjectNotFoundError';
  constructor(readonly key: string) {
    super(`object ${key} does not exist`);
  }
}

/** An item over {@link META_LIMITS}.itemBytes, or a key over keyBytes. */
export class ItemTooLargeError extends Error {
  override name = 'ItemTooLargeError';
  constructor(
    readonly key: ItemKey,
    readonly bytes: number,
  ) {
    super(`item ${key.pk}/${key.sk} is ${bytes} bytes; the limit is ${META_LIMITS.itemBytes}`);
  }
}

/** A transaction over {@link META_LIMITS}.opsPerTransaction ops or transactionBytes. */
export class TransactionTooLargeError extends Error {
  override name = 'TransactionTooLargeError';
  constructor(
    readonly ops: number,
    readonly bytes: number,
  ) {
    super(
      `transaction of ${ops} ops and ${bytes} bytes exceeds ${META_LIMITS.opsPerTransaction} ops or ${META_LIMITS.transactionBytes} bytes`,
    );
  }
}
