/**
 * Choosing a partition for a record. A partitioner is a plain function, so a custom one is
 * just `({ topic, partitionCount, key }) => number`.
 *
 * - default: keyed records by `toPositive(murmur2(key)) % partitionCount`, byte-for-byte
 *   Kafka's default partitioner; keyless records sticky (below).
 * - sticky: keyless records of a topic all go to one randomly chosen partition until
 *   `nextBatch()` is called (the producer calls it when it closes a batch/request), then a
 *   different partition is picked. Few, large batches are what make Sluice cheap.
 * - round-robin: every record to the next partition of its topic, key or not.
 */
import { seededRandom } from '../clock.js';
import { InvalidRequestError } from '../errors.js';
import { murmur2, toPositive } from './murmur2.js';

/** Returns the partition (0 ≤ p < partitionCount) of one record. */
export type Partitioner = (args: { topic: string; partitionCount: number; key: Uint8Array | null }) => number;

/** A partitioner that holds keyless records on one partition until told to move on. */
export interface StickyPartitioner extends Partitioner {
  /** Ends the current stickiness: of `topic`, or of every topic when omitted. */
  nextBatch(topic?: string): void;
}

/**
 * Kafka's default partition of a keyed record.
 *
 * @example
 * defaultPartition(new TextEncoder().encode('user-42'), 12);
 */
export function defaultPartition(key: Uint8Array, partitionCount: number): number {
  checkCount(partitionCount);
  return toPositive(murmur2(key)) % partitionCount;
}

/**
 * murmur2 for keyed records, sticky for keyless ones. Pass the injected `random`; without it a
 * fixed-seed generator is used, which is deterministic (good for tests, not for spreading load).
 *
 * @example
 * const partitioner = createDefaultPartitioner(random);
 * const p = partitioner({ topic: 'orders', partitionCount: 6, key: null });
 * partitioner.nextBatch(); // after the request is sent
 */
export function createDefaultPartitioner(random?: () => number): StickyPartitioner {
  return createStickyPartitioner(random ?? seededRandom(0x5eed));
}

/**
 * Keyless records stick to one partition per topic until `nextBatch()`; keyed records use
 * murmur2 so that a key always maps to the same partition.
 *
 * @example
 * const sticky = createStickyPartitioner(random);
 * sticky({ topic: 't', partitionCount: 3, key: null }) === sticky({ topic: 't', partitionCount: 3, key: null }); // true
 */
export function createStickyPartitioner(random: () => number): StickyPartitioner {
  const current = new Map<string, { partition: number; count: number }>();
  const previous = new Map<string, number>();
  const partitioner = ({ topic, partitionCount, key }: Parameters<Partitioner>[0]): number => {
    if (key !== null) return defaultPartition(key, partitionCount);
    checkCount(partitionCount);
    const stuck = current.get(topic);
    if (stuck !== undefined && stuck.count === partitionCount) return stuck.partition;
    const partition = pickNew(random, partitionCount, previous.get(topic));
    current.set(topic, { partition, count: partitionCount });
    return partition;
  };
  return Object.assign(partitioner, {
    nextBatch(topic?: string): void {
      const topics = topic === undefined ? [...current.keys()] : [topic];
      for (const t of topics) {
        const stuck = current.get(t);
        if (stuck === undefined) continue;
        previous.set(t, stuck.partition);
        current.delete(t);
      }
    },
  });
}

/**
 * Every record of a topic goes to the next partition in turn, whatever its key
 * (Kafka's RoundRobinPartitioner).
 *
 * @example
 * const rr = createRoundRobinPartitioner();
 * [0, 1, 2].map(() => rr({ topic: 't', partitionCount: 2, key: null })); // [0, 1, 0]
 */
export function createRoundRobinPartitioner(): Partitioner {
  const counters = new Map<string, number>();
  return ({ topic, partitionCount }) => {
    checkCount(partitionCount);
    const n = counters.get(topic) ?? 0;
    counters.set(topic, (n + 1) % 0x7fffffff);
    return n % partitionCount;
  };
}

/** A uniformly random partition, different from `avoid` when there is a choice (as Kafka's sticky does). */
function pickNew(random: () => number, count: number, avoid: number | undefined): number {
  if (avoid === undefined || avoid >= count || count === 1) return Math.floor(random() * count) % count;
  return (avoid + 1 + (Math.floor(random() * (count - 1)) % (count - 1))) % count;
}

function checkCount(partitionCount: number): void {
  if (!Number.isInteger(partitionCount) || partitionCount < 1) {
    throw new InvalidRequestError(
      `partitionCount must be a positive integer, got ${partitionCount}`,
      'partitionCount',
    );
  }
}
