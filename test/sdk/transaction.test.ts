/**
 * The SDK's transactional producer (kafkajs shape) against `sluice dev`: staged sends are
 * invisible until `commit`, aborted ones never appear, offsets commit with the records, a
 * second producer with the same transactional id fences the first, and a consumer in a
 * group fences the offsets by its membership.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidProducerEpochError, SluiceArgumentError } from '../../sdk/index.js';
import { type Harness, startHarness, topicName, waitFor } from './harness.js';

describe('transactional producer', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('sqlite');
  });
  afterAll(async () => {
    await h?.close();
  });

  const highs = async (topic: string) =>
    (await h.sluice.admin().fetchTopicOffsets(topic)).map((o) => Number(o.high));

  it('commits records and offsets at once; aborted sends never appear', async () => {
    const input = topicName('in');
    const output = topicName('out');
    const admin = h.sluice.admin();
    await admin.createTopics({
      topics: [
        { topic: input, numPartitions: 1 },
        { topic: output, numPartitions: 2 },
      ],
    });
    const plain = h.sluice.producer();
    await plain.send({ topic: input, messages: [{ value: 'a' }, { value: 'b' }] });
    const producer = h.sluice.producer({
      transactionalId: `tx-${output}`,
      maxInFlightRequests: 1,
      idempotent: true,
    });

    const aborted = await producer.transaction();
    await aborted.send({ topic: output, messages: [{ value: 'never', partition: 0 }] });
    await aborted.abort();
    expect(aborted.isActive()).toBe(false);

    const tx = await producer.transaction();
    await expect(producer.transaction()).rejects.toBeInstanceOf(SluiceArgumentError);
    const [meta] = await tx.send({ topic: output, messages: [{ key: 'k', value: 'x', partition: 1 }] });
    expect(meta!.baseOffset).toBe('-1');
    await tx.sendBatch({
      topicMessages: [
        {
          topic: output,
          messages: [
            { value: 'y', partition: 0 },
            { value: 'z', partition: 1 },
          ],
        },
      ],
    });
    await tx.sendOffsets({
      consumerGroupId: `g-${output}`,
      topics: [{ topic: input, partitions: [{ partition: 0, offset: '2' }] }],
    });
    expect(await highs(output)).toEqual([0, 0]);
    const committed = await tx.commit();
    expect(committed).toEqual([
      { topic: output, partition: 1, baseOffset: 0, count: 2 },
      { topic: output, partition: 0, baseOffset: 0, count: 1 },
    ]);
    expect(await highs(output)).toEqual([1, 2]);
    const offsets = await admin.fetchOffsets({ groupId: `g-${output}`, topics: [input] });
    expect(offsets[0]!.partitions[0]!.offset).toBe('2');
    await plain.disconnect();
    await producer.disconnect();
  });

  it('fences the first producer when a second takes the same transactional id', async () => {
    const output = topicName('out');
    await h.sluice.admin().createTopics({ topics: [{ topic: output, numPartitions: 1 }] });
    const id = `zombie-${output}`;
    const first = h.sluice.producer({ transactionalId: id });
    const zombieTx = await first.transaction();
    await zombieTx.send({ topic: output, messages: [{ value: 'zombie' }] });
    const second = h.sluice.producer({ transactionalId: id });
    const tx = await second.transaction();
    await expect(zombieTx.send({ topic: output, messages: [{ value: 'late' }] })).rejects.toBeInstanceOf(
      InvalidProducerEpochError,
    );
    await expect(first.transaction()).rejects.toBeInstanceOf(InvalidProducerEpochError);
    await tx.send({ topic: output, messages: [{ value: 'ok' }] });
    await tx.commit();
    expect(await highs(output)).toEqual([1]);
  });

  it('fences offsets by the consumer membership given to sendOffsets', async () => {
    const input = topicName('in');
    const output = topicName('out');
    const group = `g-${input}`;
    await h.sluice.admin().createTopics({
      topics: [
        { topic: input, numPartitions: 1 },
        { topic: output, numPartitions: 1 },
      ],
    });
    const consumer = h.sluice.consumer({ groupId: group, readUncommitted: false, maxWaitTimeInMs: 100 });
    await consumer.subscribe({ topics: [input], fromBeginning: true });
    await consumer.run({ eachMessage: async () => {} });
    await waitFor(() => consumer.groupMetadata() !== undefined && consumer.assignment().length > 0);
    const producer = h.sluice.producer({ transactionalId: `member-${input}` });
    const tx = await producer.transaction();
    await tx.send({ topic: output, messages: [{ value: 'x' }] });
    await tx.sendOffsets({ consumer, topics: [{ topic: input, partitions: [{ partition: 0, offset: 0 }] }] });
    await tx.commit();
    // A stale membership (a zombie consumer) cannot commit: the whole transaction is refused.
    const stale = { groupMetadata: () => ({ groupId: group, memberId: 'gone', memberEpoch: 1 }) };
    const tx2 = await producer.transaction();
    await tx2.send({ topic: output, messages: [{ value: 'y' }] });
    await tx2.sendOffsets({
      consumer: stale,
      topics: [{ topic: input, partitions: [{ partition: 0, offset: 0 }] }],
    });
    await expect(tx2.commit()).rejects.toMatchObject({ code: 'UNKNOWN_MEMBER_ID' });
    await tx2.abort();
    expect(await highs(output)).toEqual([1]);
    await consumer.disconnect();
  });

  it("runs the README's copy loop: the output equals the input, partition by partition", async () => {
    const { sluice } = h;
    await sluice.admin().createTopics({
      topics: [
        { topic: 'input', numPartitions: 2 },
        { topic: 'output', numPartitions: 2 },
      ],
    });
    const source = sluice.producer();
    const sent = Array.from({ length: 300 }, (_, i) => ({ key: `k${i}`, value: `v${i}`, partition: i % 2 }));
    for (let i = 0; i < sent.length; i += 50)
      await source.send({ topic: 'input', messages: sent.slice(i, i + 50) });

    // --- README "Exactly-once", verbatim ---
    const consumer = sluice.consumer({ groupId: 'copier' });
    const producer = sluice.producer({ transactionalId: 'copier', maxInFlightRequests: 1, idempotent: true });
    await consumer.subscribe({ topics: ['input'], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch }) => {
        const tx = await producer.transaction();
        try {
          await tx.send({
            topic: 'output',
            messages: batch.messages.map((m) => ({ key: m.key, value: m.value, partition: batch.partition })),
          });
          await tx.sendOffsets({
            consumer, // its membership fences the commit: a consumer that lost the partition cannot commit
            topics: [
              {
                topic: batch.topic,
                partitions: [{ partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) }],
              },
            ],
          });
          await tx.commit();
        } catch (err) {
          if (tx.isActive()) await tx.abort();
          throw err;
        }
      },
    });
    // --- end ---

    await waitFor(async () => (await highs('output')).reduce((a, b) => a + b, 0) === 300, 30_000, 'the copy');
    await consumer.disconnect();
    const reader = sluice.consumer({ groupId: 'check', maxWaitTimeInMs: 100 });
    await reader.subscribe({ topics: ['output'], fromBeginning: true });
    const got: string[][] = [[], []];
    await reader.run({
      eachMessage: async ({ partition, message }) => {
        got[partition]!.push(message.value!.toString());
      },
    });
    await waitFor(() => got[0]!.length + got[1]!.length === 300, 30_000, 'the output');
    await reader.disconnect();
    for (const p of [0, 1]) expect(got[p]).toEqual(sent.filter((m) => m.partition === p).map((m) => m.value));
    const offsets = await sluice.admin().fetchOffsets({ groupId: 'copier', topics: ['input'] });
    expect(offsets[0]!.partitions.map((o) => o.offset).sort()).toEqual(['150', '150']);
    await source.disconnect();
    await producer.disconnect();
  });
});
