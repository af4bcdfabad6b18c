/**
 * MurmurHash2 exactly as Kafka's Java client computes it (`Utils.murmur2`, seed 0x9747b28c):
 * the default partitioner of every Kafka client, so keyed records land on the same partition
 * whichever client produced them.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/**
 * Java-compatible murmur2 of `bytes`: a signed 32-bit integer, as Java's `int`.
 *
 * @example
 * murmur2(new TextEncoder().encode('21')); // -973932308, as in Kafka's UtilsTest
 */
export function murmur2(bytes: Uint8Array): number {
  const length = bytes.length;
  let h = SEED ^ length;
  const tail = length & ~3;
  for (let i = 0; i < tail; i += 4) {
    let k = bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M) ^ k;
  }
  const rest = length & 3;
  if (rest >= 3) h ^= bytes[tail + 2]! << 16;
  if (rest >= 2) h ^= bytes[tail + 1]! << 8;
  if (rest >= 1) h = Math.imul(h ^ bytes[tail]!, M);
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's `Utils.toPositive`: clears the sign bit (not Math.abs, which fails on MIN_VALUE). */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}
