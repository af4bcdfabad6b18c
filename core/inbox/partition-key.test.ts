import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inboxPartitionKey, MAX_PARTITION_KEY_CHARS } from './partition-key.js';

const topic = fc.stringMatching(/^[a-zA-Z0-9._-]{1,249}$/);
const producer = fc.record({
  id: fc.bigInt({ min: 0n, max: 10n ** 18n - 1n }).map(String),
  epoch: fc.nat(32767),
  seq: fc.nat(0x7fffffff),
});

describe('inboxPartitionKey', () => {
  it('is <producerId>:<topic>:<partition> for a producer, within 256 characters, the same for every sequence', () => {
    fc.assert(
      fc.property(topic, fc.nat(9999), producer, fc.nat(0x7fffffff), (t, partition, p, other) => {
        const key = inboxPartitionKey({ topic: t, partition, producer: p });
        expect(key.length).toBeLessThanOrEqual(MAX_PARTITION_KEY_CHARS);
        expect(key.startsWith(`${p.id}:`)).toBe(true);
        expect(key.endsWith(`:${partition}`)).toBe(true);
        if (`${p.id}:${t}:${partition}`.length <= MAX_PARTITION_KEY_CHARS) {
          expect(key).toBe(`${p.id}:${t}:${partition}`);
        }
        // Every message of the producer for the partition: one key, one shard.
        expect(inboxPartitionKey({ topic: t, partition, producer: { ...p, seq: other } })).toBe(key);
      }),
    );
  });

  it('is the event id without a producer, else random', () => {
    expect(inboxPartitionKey({ topic: 't', partition: 3, eventId: 'e-1/3' })).toBe('e-1/3');
    expect(inboxPartitionKey({ topic: 't', partition: 3, eventId: 'x'.repeat(300) })).toHaveLength(256);
    const random = [0.1, 0.7];
    const keys = random.map((r) => inboxPartitionKey({ topic: 't', partition: 0 }, () => r));
    expect(new Set(keys).size).toBe(2);
    for (const k of keys) expect(k.length).toBeGreaterThan(0);
  });
});
