/**
 * A MetaStore decorator that tells listeners which items a committed transaction wrote —
 * what a DynamoDB stream does for the table in AWS. `sluice dev` uses it to trigger
 * subscriptions when a partition's head changes, with no polling (DESIGN.md "Subscriptions").
 * Listeners run after the write is durable and never delay or fail it.
 */
import type {
  Item,
  ItemKey,
  MetaStore,
  QueryOptions,
  QueryPage,
  SortKeyRange,
  TransactOp,
} from '../core/ports.js';

export type ChangeListener = (changed: ItemKey[]) => void;

export class NotifyingMetaStore implements MetaStore {
  private readonly listeners = new Set<ChangeListener>();

  constructor(private readonly inner: MetaStore) {}

  /** Calls `listener` with the keys written (not merely checked) by each committed transaction. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  get(key: ItemKey): Promise<Item | undefined> {
    return this.inner.get(key);
  }

  batchGet(keys: readonly ItemKey[]): Promise<(Item | undefined)[]> {
    return this.inner.batchGet(keys);
  }

  query(pk: string, range?: SortKeyRange, options?: QueryOptions): Promise<QueryPage> {
    return this.inner.query(pk, range, options);
  }

  async transact(ops: readonly TransactOp[]): Promise<void> {
    await this.inner.transact(ops);
    if (this.listeners.size === 0) return;
    const changed = ops.filter((op) => op.type !== 'check').map((op) => ({ pk: op.key.pk, sk: op.key.sk }));
    if (changed.length === 0) return;
    for (const listener of this.listeners) {
      queueMicrotask(() => listener(changed));
    }
  }
}
