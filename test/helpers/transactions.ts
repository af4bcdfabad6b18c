/**
 * The log engine plus a transaction coordinator and a group coordinator over the same
 * stores, on virtual time: what the handlers build, for the transaction suites.
 */
import { GroupCoordinator } from '../../core/groups/coordinator.js';
import type { MetaStore, ObjectStore } from '../../core/ports.js';
import { TransactionCoordinator, type TransactionDeps } from '../../core/transactions/index.js';
import { engine } from './engine.js';

const dec = new TextDecoder();

export function txEngine(
  stores?: { meta: MetaStore; objects: ObjectStore },
  seed = 1,
  /** Coordinator options (e.g. a lower `maxTransactItems` so commits take the large path). */
  options: Pick<TransactionDeps, 'maxTransactItems' | 'onCommitStep'> = {},
) {
  const e = engine(stores, seed);
  const topicView = {
    async partitionCount(topic: string) {
      try {
        return (await e.topics.get(topic)).partitions;
      } catch {
        return undefined;
      }
    },
    highWatermarks: (topic: string, partitions: readonly number[]) =>
      e.reader.highWatermarks(topic, partitions),
  };
  const tx = new TransactionCoordinator({
    meta: e.meta,
    appender: e.appender,
    topicView,
    clock: e.clock,
    random: e.random,
    ...options,
  });
  const groups = new GroupCoordinator({ meta: e.meta, topics: topicView, clock: e.clock, random: e.random });
  /** Every visible record of a partition: offset, key and value as strings. */
  async function readAll(topic: string, partition: number) {
    const out: { offset: number; key: string; value: string }[] = [];
    let offset = 0;
    for (;;) {
      const r = await e.reader.fetchRecords(topic, partition, offset, { maxBytes: 4 << 20 });
      out.push(
        ...r.records.map((x) => ({
          offset: x.offset,
          key: x.key ? dec.decode(x.key) : '',
          value: dec.decode(x.value!),
        })),
      );
      if (r.nextOffset >= r.highWatermark) return out;
      offset = r.nextOffset;
    }
  }
  return { ...e, tx, groups, topicView, readAll };
}

export type TxEngine = ReturnType<typeof txEngine>;
