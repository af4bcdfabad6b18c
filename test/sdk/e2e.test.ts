/**
 * The SDK end to end against `sluice dev` (real HTTP, real handlers) over the embedded
 * store (files + SQLite) and over S3 + DynamoDB on moto.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defaultPartition, readBatchHeader } from '../../core/records/index.js';
import { BATCHES_CONTENT_TYPE, parseFetchFrames } from '../../core/wire.js';
import { CompressionTypes, type Consumer, type KafkaMessage } from '../../sdk/index.js';
import { type Harness, startHarness, topicName, waitFor } from './harness.js';

type Seen = { partition: number; offset: number; key: string | null; value: string | null };

function collect(consumer: Consumer, into: Seen[]) {
  return consumer.run({
    eachMessage: async ({ partition, message }) => {
      into.push({
        partition,
        offset: Number(message.offset),
        key: message.key?.toString() ?? null,
        value: message.value?.toString() ?? null,
      });
    },
  });
}

describe.each(['sqlite', 'aws'] as const)('SDK against sluice dev (%s)', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(kind);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('round-trips keys, values, headers and timestamps; RecordMetadata as kafkajs', async () => {
    const topic = topicName('round-trip');
    const admin = h.sluice.admin();
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] })).toBe(true);
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] })).toBe(false);

    const producer = h.sluice.producer();
    await producer.connect();
    const meta = await producer.send({
      topic,
      messages: [
        { key: 'user-1', value: 'string value', headers: { trace: 'abc', multi: ['x', Buffer.from('y')] } },
        { key: Buffer.from('user-2'), value: Buffer.from([0, 1, 2, 255]), timestamp: '1700000000000' },
        { key: new TextEncoder().encode('user-3'), value: new TextEncoder().encode('uint8') },
        { key: 'user-1', value: null },
      ],
    });
    for (const m of meta) {
      expect(m).toMatchObject({ topicName: topic, errorCode: 0 });
      expect(m.baseOffset).toMatch(/^\d+$/);
      expect(Number(m.logAppendTime)).toBeGreaterThan(Date.now() - 60_000);
    }
    const enc = new TextEncoder();
    const expectedPartition = (k: string) => defaultPartition(enc.encode(k), 3);
    expect(new Set(meta.map((m) => m.partition))).toEqual(
      new Set(['user-1', 'user-2', 'user-3'].map(expectedPartition)),
    );

    const consumer = h.sluice.consumer({ maxWaitTimeInMs: 200 });
    const got: { partition: number; message: KafkaMessage }[] = [];
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => void got.push({ partition, message }),
    });
    await waitFor(() => got.length === 4, 15_000, '4 messages');
    await consumer.disconnect();
    await producer.disconnect();

    const byKey = (k: string) => got.filter((g) => g.message.key?.toString() === k);
    const [first, tomb] = byKey('user-1');
    expect(first!.partition).toBe(expectedPartition('user-1'));
    expect(first!.message.value!.toString()).toBe('string value');
    expect(first!.message.headers.trace!.toString()).toBe('abc');
    expect((first!.message.headers.multi as Buffer[]).map(String)).toEqual(['x', 'y']);
    expect(tomb!.message.value).toBeNull();
    expect(Number(tomb!.message.offset)).toBeGreaterThan(Number(first!.message.offset));
    const [two] = byKey('user-2');
    expect([...two!.message.value!]).toEqual([0, 1, 2, 255]);
    expect(two!.message.timestamp).toBe('1700000000000');
    expect(byKey('user-3')[0]!.message.value!.toString()).toBe('uint8');
  });

  it('carries headers exactly from producer to consumer and to JSON fetch: repeats, null vs empty, binary', async () => {
    const topic = topicName('headers');
    await h.sluice.admin().createTopics({ topics: [{ topic, numPartitions: 1 }] });
    const producer = h.sluice.producer();
    const headers = { dup: ['1', '2'], nul: null, empty: '', bin: Buffer.from([0, 255]) };
    await producer.send({ topic, messages: [{ value: 'x', headers }] });
    await producer.disconnect();
    const consumer = h.sluice.consumer({ maxWaitTimeInMs: 200 });
    const got: KafkaMessage[] = [];
    consumer.assign([{ topic, partitions: [0] }]);
    consumer.seek({ topic, partition: 0, offset: '0' });
    await consumer.run({ eachMessage: async ({ message }) => void got.push(message) });
    await waitFor(() => got.length === 1, 15_000, 'the message');
    await consumer.disconnect();
    // As kafkajs: a repeated key is an array, a null header is null, an empty one an empty Buffer.
    expect(got[0]!.headers).toEqual({
      dup: [Buffer.from('1'), Buffer.from('2')],
      nul: null,
      empty: Buffer.alloc(0),
      bin: Buffer.from([0, 255]),
    });
    // The JSON API sees every header, in order.
    const res = await fetch(`${h.url}/v1/fetch?topic=${topic}&partition=0&offset=0`);
    const body = (await res.json()) as { records: { headerList: unknown }[] };
    expect(body.records[0]!.headerList).toEqual([
      { key: 'dup', value: '1' },
      { key: 'dup', value: '2' },
      { key: 'nul', value: null },
      { key: 'empty', value: '' },
      { key: 'bin', value: Buffer.from([0, 255]).toString('utf8') },
    ]);
  });

  it('sends each compression codec as such and reads it back', async () => {
    const topic = topicName('codecs');
    await h.sluice.admin().createTopics({ topics: [{ topic, numPartitions: 1 }] });
    const codecs = [
      CompressionTypes.GZIP,
      CompressionTypes.Snappy,
      CompressionTypes.LZ4,
      CompressionTypes.ZSTD,
    ];
    const producer = h.sluice.producer();
    for (const codec of codecs) {
      const messages = Array.from({ length: 50 }, (_, i) => ({
        key: `k${i}`,
        value: `codec ${codec} message ${i} `.repeat(5),
      }));
      await producer.send({ topic, messages, compression: codec });
    }
    await producer.disconnect();

    // The stored batches carry the codec the producer chose (the server never re-encodes).
    const res = await fetch(`${h.url}/v1/fetch`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: BATCHES_CONTENT_TYPE },
      body: JSON.stringify({ partitions: [{ topic, partition: 0, offset: 0 }] }),
    });
    const [frame] = parseFetchFrames(new Uint8Array(await res.arrayBuffer()));
    expect(frame!.batches.map((b) => readBatchHeader(b.bytes).compression)).toEqual(codecs);

    const consumer = h.sluice.consumer({ maxWaitTimeInMs: 200 });
    const seen: Seen[] = [];
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await collect(consumer, seen);
    await waitFor(() => seen.length === 200, 15_000, '200 messages');
    await consumer.disconnect();
    expect(seen.map((s) => s.offset)).toEqual(Array.from({ length: 200 }, (_, i) => i));
    expect(seen[150]!.value).toBe(`codec ${CompressionTypes.ZSTD} message 0 `.repeat(5));
  });

  it('shares 12 partitions among 3 group members, in order, and rebalances when one leaves', async () => {
    const topic = topicName('group');
    const groupId = topicName('g');
    await h.sluice.admin().createTopics({ topics: [{ topic, numPartitions: 12 }] });
    const seen: Seen[][] = [[], [], []];
    const consumers = [0, 1, 2].map(() =>
      h.sluice.consumer({ groupId, heartbeatInterval: 200, maxWaitTimeInMs: 200, sessionTimeout: 6000 }),
    );
    for (const [i, c] of consumers.entries()) {
      await c.subscribe({ topics: [topic], fromBeginning: true });
      await collect(c, seen[i]!);
    }
    const owned = (c: Consumer) => c.assignment().flatMap((a) => a.partitions);
    await waitFor(() => consumers.every((c) => owned(c).length === 4), 20_000, 'a balanced assignment');
    const all = [...consumers.flatMap(owned)].sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: 12 }, (_, i) => i));

    const producer = h.sluice.producer({ lingerMs: 5 });
    const send = (from: number, n: number) =>
      producer.send({
        topic,
        messages: Array.from({ length: n }, (_, i) => ({
          key: `key-${(from + i) % 97}`,
          value: String(from + i),
        })),
      });
    await send(0, 600);
    const total = () => seen.reduce((n, s) => n + s.length, 0);
    await waitFor(() => total() >= 600, 20_000, '600 messages');
    expect(seen.every((s) => s.length > 0)).toBe(true);

    await consumers[0]!.disconnect();
    await waitFor(
      () => owned(consumers[1]!).length + owned(consumers[2]!).length === 12,
      20_000,
      'the rebalance',
    );
    expect(owned(consumers[1]!).length).toBe(6);
    await send(600, 600);
    await waitFor(() => total() >= 1200, 20_000, '1200 messages');
    await Promise.all(consumers.slice(1).map((c) => c.disconnect()));
    await producer.disconnect();

    // Every message processed exactly once (commits on revocation: no re-delivery), each
    // partition in offset order with no gap.
    const flat = seen.flat();
    expect(new Set(flat.map((s) => s.value)).size).toBe(1200);
    expect(flat.length).toBe(1200);
    for (const s of seen) {
      const byPartition = new Map<number, number[]>();
      for (const m of s) byPartition.set(m.partition, [...(byPartition.get(m.partition) ?? []), m.offset]);
      for (const offsets of byPartition.values()) expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    }
    const perPartition = new Map<number, number[]>();
    for (const m of flat) perPartition.set(m.partition, [...(perPartition.get(m.partition) ?? []), m.offset]);
    for (const offsets of perPartition.values()) {
      expect([...offsets].sort((a, b) => a - b)).toEqual(Array.from({ length: offsets.length }, (_, i) => i));
    }
    const { groups } = await h.sluice.admin().describeGroups([groupId]);
    expect(groups[0]!.state).toBe('Empty');
    expect(groups[0]!.lag.reduce((n, l) => n + (l.lag ?? 0), 0)).toBe(0);
  });
});
