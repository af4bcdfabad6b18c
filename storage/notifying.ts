/**
 * A MetaStore decorator that tells listeners which items a committed transaction wrote —
 * what a DynamoDB stream does for the table in AWS. `sluice dev` uses it to trigger
 * subscriptions when a partition's head changes, with no polling (DESIGN.md "Subscriptions").
 * Listeners run after the write is durable and never delay or fail it.
 */
import type { ItemKey, TransactOp } from '../core/ports.js';
import { ForwardingMetaStore } from './forwarding.js';

export type ChangeListener = (changed: ItemKey[]) => void;

export class NotifyingMetaStore extends ForwardingMetaStore {
  private readonly listeners = new Set<ChangeListener>();

  /** Calls `listener` with the keys written (not merely checked) by each committed transaction. */
  onChange(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  override async transact(ops: readonly TransactOp[]): Promise<void> {
    await this.inner.transact(ops);
    if (this.listeners.size === 0) return;
    const changed = ops.filter((op) => op.type !== 'check').map((op) => ({ pk: op.key.pk, sk: op.key.sk }));
    if (changed.length === 0) return;
    for (const listener of this.listeners) {
      queueMicrotask(() => listener(changed));
    }
  }
}
