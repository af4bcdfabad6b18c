/**
 * Test doubles for the group coordinator: an in-memory {@link TopicView} that tests grow and
 * produce to, and a MetaStore wrapper that counts writes and can run code just before a
 * transaction (to stage a race).
 */
import type { TopicView } from '../../core/groups/ports.js';
import type { TransactOp } from '../../core/ports.js';
import { ForwardingMetaStore } from '../../storage/forwarding.js';

export class FakeTopics implements TopicView {
  private readonly topics = new Map<string, number[]>();
  calls = 0;

  /** Creates (or replaces) a topic with `partitions` empty partitions. */
  create(topic: string, partitions: number): this {
    this.topics.set(
      topic,
      Array.from({ length: partitions }, () => 0),
    );
    return this;
  }

  addPartitions(topic: string, count: number): void {
    const hwms = this.topics.get(topic);
    if (!hwms) throw new Error(`no topic ${topic}`);
    for (let i = 0; i < count; i++) hwms.push(0);
  }

  delete(topic: string): void {
    this.topics.delete(topic);
  }

  /** Appends `count` records to a partition. */
  produce(topic: string, partition: number, count: number): void {
    const hwms = this.topics.get(topic)!;
    hwms[partition] = hwms[partition]! + count;
  }

  async partitionCount(topic: string): Promise<number | undefined> {
    this.calls++;
    return this.topics.get(topic)?.length;
  }

  async highWatermarks(topic: string, partitions: readonly number[]): Promise<number[]> {
    this.calls++;
    const hwms = this.topics.get(topic);
    if (!hwms) throw new Error(`no topic ${topic}`);
    return partitions.map((p) => hwms[p]!);
  }
}

/** Counts transactions and their ops; `beforeTransact` runs (once) ahead of the next one. */
export class SpyMeta extends ForwardingMetaStore {
  transactions = 0;
  ops: TransactOp[][] = [];
  beforeTransact: (() => Promise<void>) | undefined;

  override async transact(ops: readonly TransactOp[]): Promise<void> {
    const hook = this.beforeTransact;
    this.beforeTransact = undefined;
    if (hook) await hook();
    this.transactions++;
    this.ops.push([...ops]);
    return this.inner.transact(ops);
  }
}
