/**
 * Producer items (see `producers.ts`) as last seen by this instance, so that a commit
 * reads nothing: entries are refreshed from commits and from conflict errors. Bounded;
 * the oldest entry goes first (a forgotten entry costs one conflict, never correctness:
 * every commit conditions on the item's version).
 */
import type { ProducerItem } from './producers.js';

export class ProducerItemCache {
  private readonly items = new Map<string, ProducerItem>();
  constructor(private readonly maxEntries = 100_000) {}

  static key(partitionPk: string, producerId: string): string {
    return `${partitionPk}\u0000${producerId}`;
  }

  get(key: string): ProducerItem | undefined {
    return this.items.get(key);
  }

  set(key: string, item: ProducerItem): void {
    this.items.delete(key);
    if (this.items.size >= this.maxEntries) this.items.delete(this.items.keys().next().value as string);
    this.items.set(key, item);
  }

  delete(key: string): void {
    this.items.delete(key);
  }
}
