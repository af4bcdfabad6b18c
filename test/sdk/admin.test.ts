/** The admin client against `sluice dev`: topics, offsets and groups with kafkajs' shapes. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NonEmptyGroupError, SluiceProtocolError, UnknownTopicOrPartitionError } from '../../sdk/index.js';
import { type Harness, startHarness, topicName, waitFor } from './harness.js';

describe('admin against sluice dev', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('sqlite');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('creates, describes, grows and deletes topics', async () => {
    const admin = h.sluice.admin();
    await admin.connect();
    const topic = topicName('admin');
    await admin.createTopics({
      topics: [{ topic, numPartitions: 2, configEntries: [{ name: 'retention.ms', value: '60000' }] }],
    });
    expect(await admin.listTopics()).toContain(topic);
    const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
    expect(topics[0]!.partitions.map((p) => p.partitionId)).toEqual([0, 1]);
    expect((await admin.describeTopic(topic)).config['retention.ms']).toBe(60000);

    await admin.createPartitions({ topicPartitions: [{ topic, count: 4 }] });
    expect((await admin.fetchTopicOffsets(topic)).map((o) => o.partition)).toEqual([0, 1, 2, 3]);
    // The producer's cached metadata learns about the new partitions.
    const producer = h.sluice.producer();
    await producer.send({ topic, messages: [{ value: 'p3', partition: 3 }] });
    await producer.disconnect();

    await expect(admin.createTopics({ topics: [{ topic: 'bad name!' }] })).rejects.toMatchObject({
      code: 'INVALID_TOPIC_EXCEPTION',
    });
    await admin.deleteTopics({ topics: [topic] });
    expect(await admin.listTopics()).not.toContain(topic);
    await expect(admin.deleteTopics({ topics: [topic] })).rejects.toBeInstanceOf(
      UnknownTopicOrPartitionError,
    );
    await expect(admin.fetchTopicMetadata({ topics: [topic] })).rejects.toBeInstanceOf(
      UnknownTopicOrPartitionError,
    );
  });

  it('finds offsets by timestamp', async () => {
    const admin = h.sluice.admin();
    const topic = topicName('time');
    await admin.createTopics({ topics: [{ topic }] });
    const producer = h.sluice.producer();
    await producer.send({
      topic,
      messages: [1000, 2000, 3000].map((t) => ({ value: String(t), timestamp: String(t) })),
    });
    await producer.disconnect();
    expect(await admin.fetchTopicOffsetsByTimestamp(topic, 1500)).toEqual([{ partition: 0, offset: '1' }]);
    expect(await admin.fetchTopicOffsetsByTimestamp(topic, 9999)).toEqual([{ partition: 0, offset: '3' }]);
    expect(await admin.fetchTopicOffsets(topic)).toEqual([
      { partition: 0, offset: '3', high: '3', low: '0' },
    ]);
  });

  it('lists, describes, resets and deletes groups', async () => {
    const admin = h.sluice.admin();
    const topic = topicName('groups');
    const groupId = topicName('group');
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
    const producer = h.sluice.producer();
    await producer.send({
      topic,
      messages: Array.from({ length: 10 }, (_, i) => ({ value: String(i), partition: i % 2 })),
    });
    await producer.disconnect();

    const consumer = h.sluice.consumer({
      groupId,
      maxWaitTimeInMs: 100,
      heartbeatInterval: 200,
      sessionTimeout: 6000,
    });
    let seen = 0;
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async () => void seen++ });
    await waitFor(() => seen === 10, 10_000, '10 messages');
    await waitFor(async () =>
      (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions.every((p) => p.offset === '5'),
    );

    const { groups } = await admin.listGroups();
    expect(groups.find((g) => g.groupId === groupId)).toMatchObject({ protocolType: 'consumer', members: 1 });
    const described = (await admin.describeGroups([groupId])).groups[0]!;
    expect(described.state).toBe('Stable');
    expect(described.members[0]!.assignment).toEqual([{ topic, partitions: [0, 1] }]);
    expect(described.lag.map((l) => l.lag)).toEqual([0, 0]);

    // Offsets move backwards only through the admin, and only while the group is empty.
    await expect(admin.resetOffsets({ groupId, topic, earliest: true })).rejects.toBeInstanceOf(
      NonEmptyGroupError,
    );
    const [result] = await admin.deleteGroups([groupId]);
    expect(result!.error).toBeInstanceOf(NonEmptyGroupError);
    await consumer.disconnect();

    await admin.resetOffsets({ groupId, topic, earliest: true });
    expect(
      (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions.map((p) => p.offset),
    ).toEqual(['0', '0']);
    await admin.setOffsets({ groupId, topic, partitions: [{ partition: 1, offset: '3' }] });
    const [after] = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(after!.partitions).toEqual([
      { partition: 0, offset: '0', metadata: null },
      { partition: 1, offset: '3', metadata: null },
    ]);
    expect((await admin.describeGroups([groupId])).groups[0]!.lag.map((l) => l.lag)).toEqual([5, 2]);

    expect(await admin.deleteGroups([groupId])).toEqual([{ groupId, errorCode: 0 }]);
    expect((await admin.listGroups()).groups.map((g) => g.groupId)).not.toContain(groupId);
    const gone = (await admin.describeGroups([groupId])).groups[0]!;
    expect(gone.members).toEqual([]);
    await expect(
      admin.setOffsets({ groupId, topic, partitions: [{ partition: 9, offset: '0' }] }),
    ).rejects.toBeInstanceOf(SluiceProtocolError);
  });
});
