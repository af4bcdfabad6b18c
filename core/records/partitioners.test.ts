import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../clock.js';
import { InvalidRequestError } from '../errors.js';
import { murmur2, toPositive } from './murmur2.js';
import {
  createDefaultPartitioner,
  createRoundRobinPartitioner,
  createStickyPartitioner,
  defaultPartition,
} from './partitioners.js';

const require = createRequire(import.meta.url);
const kafkajsMurmur2 = require('kafkajs/src/producer/partitioners/default/murmur2') as (
  key: Buffer,
) => number;
const utf8 = (s: string) => new TextEncoder().encode(s);

// Kafka's clients/src/test/java/org/apache/kafka/common/utils/UtilsTest.java (testMurmur2).
const KAFKA_UTILS_TEST: Record<string, number> = {
  '21': -973932308,
  foobar: -790332482,
  'a-little-bit-long-string': -985981536,
  'a-little-bit-longer-string': -1486304829,
  lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8: -58897971,
  abc: 479470107,
};
// kafkajs src/producer/partitioners/default/murmur2.spec.js, generated with the Java client.
const KAFKAJS_SPEC: Record<string, number> = {
  '0': 971027396,
  '1': -1993445489,
  '128': -326012175,
  '2187': -1508407203,
  '16384': -325739742,
  '78125': -1654490814,
  '279936': 1462227128,
  '823543': -2014198330,
  '2097152': 607668903,
  '4782969': -1182699775,
  '10000000': -1830336757,
  '19487171': -1603849305,
  '35831808': -857013643,
  '62748517': -1167431028,
  '105413504': -381294639,
  '170859375': -1658323481,
  '100:48069': 1009543857,
};

describe('murmur2', () => {
  it("matches the Java client's known answers", () => {
    for (const [key, hash] of Object.entries({ ...KAFKA_UTILS_TEST, ...KAFKAJS_SPEC })) {
      expect(murmur2(utf8(key)), key).toBe(hash);
    }
  });

  it("agrees with kafkajs's Java-compatible murmur2 on random bytes, every tail length", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (key) => {
        expect(murmur2(key)).toBe(kafkajsMurmur2(Buffer.from(key)));
      }),
      { numRuns: 2000 },
    );
  });

  it('toPositive clears the sign bit (never Math.abs)', () => {
    expect(toPositive(-2147483648)).toBe(0);
    expect(toPositive(-1)).toBe(2147483647);
    expect(toPositive(5)).toBe(5);
  });
});

describe('partitioners', () => {
  it('defaultPartition is toPositive(murmur2(key)) % n, always in range', () => {
    // '21' hashes to -973932308 → & 0x7fffffff = 1173551340.
    expect(defaultPartition(utf8('21'), 1000)).toBe(1173551340 % 1000);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 32 }), fc.integer({ min: 1, max: 10_000 }), (key, n) => {
        const p = defaultPartition(key, n);
        expect(p).toBe(toPositive(kafkajsMurmur2(Buffer.from(key))) % n);
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThan(n);
      }),
    );
  });

  it('default partitioner: keyed by murmur2, keyless sticky until nextBatch, then another partition', () => {
    const partitioner = createDefaultPartitioner(seededRandom(7));
    expect(partitioner({ topic: 't', partitionCount: 12, key: utf8('foobar') })).toBe(
      defaultPartition(utf8('foobar'), 12),
    );
    const first = partitioner({ topic: 't', partitionCount: 12, key: null });
    for (let i = 0; i < 50; i++)
      expect(partitioner({ topic: 't', partitionCount: 12, key: null })).toBe(first);
    partitioner.nextBatch();
    const second = partitioner({ topic: 't', partitionCount: 12, key: null });
    expect(second).not.toBe(first);
  });

  it('sticky partitioner: stickiness is per topic, nextBatch(topic) moves only that topic', () => {
    const sticky = createStickyPartitioner(seededRandom(1));
    const a = sticky({ topic: 'a', partitionCount: 50, key: null });
    const b = sticky({ topic: 'b', partitionCount: 50, key: null });
    sticky.nextBatch('a');
    expect(sticky({ topic: 'b', partitionCount: 50, key: null })).toBe(b);
    expect(sticky({ topic: 'a', partitionCount: 50, key: null })).not.toBe(a);
  });

  it('sticky partitioner re-picks when the partition count changes, and spreads over batches', () => {
    const sticky = createStickyPartitioner(seededRandom(3));
    expect(sticky({ topic: 't', partitionCount: 1, key: null })).toBe(0);
    const seen = new Set<number>();
    for (let i = 0; i < 400; i++) {
      const p = sticky({ topic: 't', partitionCount: 8, key: null });
      expect(p).toBeLessThan(8);
      seen.add(p);
      sticky.nextBatch();
    }
    expect(seen.size).toBe(8);
  });

  it('round-robin cycles through partitions per topic, ignoring keys', () => {
    const rr = createRoundRobinPartitioner();
    const seq = Array.from({ length: 7 }, (_, i) =>
      rr({ topic: 'x', partitionCount: 3, key: utf8(`k${i}`) }),
    );
    expect(seq).toEqual([0, 1, 2, 0, 1, 2, 0]);
    expect(rr({ topic: 'y', partitionCount: 3, key: null })).toBe(0);
  });

  it('rejects a partition count that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      expect(() => defaultPartition(utf8('k'), bad)).toThrow(InvalidRequestError);
      expect(() => createRoundRobinPartitioner()({ topic: 't', partitionCount: bad, key: null })).toThrow(
        InvalidRequestError,
      );
      expect(() => createDefaultPartitioner()({ topic: 't', partitionCount: bad, key: null })).toThrow(
        InvalidRequestError,
      );
    }
  });
});
