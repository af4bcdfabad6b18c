/**
 * A MetaStore that passes every call to another: the base of decorators that watch or change
 * only some calls (the notifying store, the tests' and benches' counters and spies), so each
 * overrides what it is about and inherits the rest.
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

export class ForwardingMetaStore implements MetaStore {
  constructor(readonly inner: MetaStore) {}

  get(key: ItemKey): Promise<Item | undefined> {
    return this.inner.get(key);
  }

  batchGet(keys: readonly ItemKey[]): Promise<(Item | undefined)[]> {
    return this.inner.batchGet(keys);
  }

  query(pk: string, range?: SortKeyRange, options?: QueryOptions): Promise<QueryPage> {
    return this.inner.query(pk, range, options);
  }

  transact(ops: readonly TransactOp[]): Promise<void> {
    return this.inner.transact(ops);
  }
}
