/**
 * Consumer features against `sluice dev`: pause/resume, seek, eachBatch, commits and
 * restarts, at-most-once, offset reset, consumers without a group, handler failures.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Consumer,
  ConsumerEvents,
  createHttpTransport,
  Deserializers,
  Serializers,
  type Transport,
  UnknownTopicOrPartitionError,
} from '../../sdk/index.js';
import { type Harness, startHarness, topicName, waitFor } from './harness.js';

describe('consumer against sluice dev', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('sqlite');
  });
  afterAll(async () => {
    await h?.close();
  });

  async function topicWith(prefix: string, n: number, partitions = 1): Promise<string> {
    const topic = topicName(prefix);
    await h.sluice.admin().createTopics({ topics: [{ topic, numPartitions: partitions }] });
    if (n > 0) {
      const producer = h.sluice.producer();
      await producer.send({
        topic,
        messages: Array.from({ length: n }, (_, i) => ({ value: String(i), partition: i % partitions })),
      });
      await producer.disconnect();
    }
    return topic;
  }

  const consumerOf = (groupId?: string) =>
    h.sluice.consumer({ groupId, maxWaitTimeInMs: 100, heartbeatInterval: 200, sessionTimeout: 6000 });

  it('shapes group_join and group states as kafkajs: memberAssignment by topic, listGroups as describeGroups', async () => {
    const topic = await topicWith('join-shape', 0, 2);
    const groupId = topicName('join-shape-group');
    const consumer = consumerOf(groupId);
    const joins: Record<string, unknown>[] = [];
    consumer.on(ConsumerEvents.GROUP_JOIN, (e) => void joins.push(e.payload));
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async () => {} });
    await waitFor(() => joins.length === 1, 10_000, 'the join event');
    expect(joins[0]).toMatchObject({ groupId, memberAssignment: { [topic]: [0, 1] } });
    const admin = h.sluice.admin();
    const listed = (await admin.listGroups()).groups.find((g) => g.groupId === groupId)!;
    const described = (await admin.describeGroups([groupId])).groups[0]!;
    expect(listed.state).toBe(described.state);
    await consumer.disconnect();
    const after = (await admin.listGroups()).groups.find((g) => g.groupId === groupId)!;
    expect(after.state).toBe('Empty');
  });

  it('never waits silently on a missing topic or partition: subscribe, run and assign fail', async () => {
    const topic = await topicWith('missing', 0, 3);
    await expect(
      consumerOf(topicName('g')).subscribe({ topics: [topicName('nope')] }),
    ).rejects.toBeInstanceOf(UnknownTopicOrPartitionError);
    const reader = consumerOf();
    reader.assign([{ topic, partitions: [9] }]);
    await expect(reader.run({ eachMessage: async () => {} })).rejects.toThrow(/partition 9 does not exist/);
    // Assigned while running: a crash event names it.
    const running = consumerOf();
    running.assign([{ topic, partitions: [0] }]);
    const crashes: unknown[] = [];
    running.on(ConsumerEvents.CRASH, (e) => void crashes.push((e.payload as { error: unknown }).error));
    await running.run({ eachMessage: async () => {} });
    running.assign([{ topic: topicName('gone'), partitions: [0] }]);
    await waitFor(() => crashes.length === 1, 10_000, 'the crash event');
    expect(crashes[0]).toBeInstanceOf(UnknownTopicOrPartitionError);
    await running.disconnect();
  });

  it('pauses and resumes a partition, from inside eachMessage too', async () => {
    const topic = await topicWith('pause', 20);
    const consumer = consumerOf();
    const seen: number[] = [];
    let resume: (() => void) | undefined;
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message, pause }) => {
        seen.push(Number(message.offset));
        if (message.offset === '4') resume = pause();
      },
    });
    await waitFor(() => resume !== undefined, 10_000, 'the pause');
    await new Promise((r) => setTimeout(r, 400));
    // Nothing after the message that paused, though 15 more were fetched or fetchable.
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(consumer.paused()).toEqual([{ topic, partitions: [0] }]);
    resume!();
    await waitFor(() => seen.length === 20, 10_000, 'all messages');
    expect(seen).toEqual(Array.from({ length: 20 }, (_, i) => i));

    consumer.pause([{ topic }]);
    const producer = h.sluice.producer();
    await producer.send({ topic, messages: [{ value: 'late' }] });
    await new Promise((r) => setTimeout(r, 400));
    expect(seen.length).toBe(20);
    consumer.resume([{ topic }]);
    await waitFor(() => seen.length === 21, 10_000, 'the late message');
    await consumer.disconnect();
    await producer.disconnect();
  });

  it('seeks back and forward; a seek before run sets the start', async () => {
    const topic = await topicWith('seek', 10);
    const consumer = consumerOf();
    const seen: number[] = [];
    consumer.assign([{ topic, partitions: [0] }]);
    consumer.seek({ topic, partition: 0, offset: '6' });
    await consumer.run({
      eachMessage: async ({ message }) => {
        seen.push(Number(message.offset));
        if (message.offset === '8' && seen.length < 5) consumer.seek({ topic, partition: 0, offset: '2' });
      },
    });
    await waitFor(() => seen.length >= 11, 10_000, 'messages after the seek');
    // 6,7,8 then back to 2: the rest of the batch (9) was not handed over before the seek.
    expect(seen.slice(0, 4)).toEqual([6, 7, 8, 2]);
    expect(seen).toEqual([6, 7, 8, 2, 3, 4, 5, 6, 7, 8, 9]);
    await consumer.disconnect();
  });

  it('resets to the policy when a position is out of range', async () => {
    const topic = await topicWith('reset', 3);
    const consumer = h.sluice.consumer({ maxWaitTimeInMs: 100, offsetReset: 'earliest' });
    const seen: number[] = [];
    consumer.assign([{ topic }]);
    consumer.seek({ topic, partition: 0, offset: '1000' });
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(Number(message.offset)) });
    await waitFor(() => seen.length === 3, 10_000, 'messages from the earliest offset');
    expect(seen).toEqual([0, 1, 2]);
    await consumer.disconnect();
  });

  it('commits what it processed: a restarted group member continues where the last one stopped', async () => {
    const topic = await topicWith('commit', 30, 3);
    const groupId = topicName('commit-group');
    const seen: string[] = [];
    const first = consumerOf(groupId);
    await first.subscribe({ topics: [topic], fromBeginning: true });
    await first.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
    await waitFor(() => seen.length === 30, 10_000, '30 messages');
    await first.disconnect();

    const offsets = await h.sluice.admin().fetchOffsets({ groupId, topics: [topic] });
    expect(offsets[0]!.partitions.map((p) => p.offset)).toEqual(['10', '10', '10']);

    const producer = h.sluice.producer();
    await producer.send({ topic, messages: [{ value: 'new', partition: 1 }] });
    await producer.disconnect();
    const second = consumerOf(groupId);
    const later: string[] = [];
    await second.subscribe({ topics: [topic], fromBeginning: true });
    await second.run({ eachMessage: async ({ message }) => void later.push(message.value!.toString()) });
    await waitFor(() => later.length === 1, 10_000, 'the new message');
    await new Promise((r) => setTimeout(r, 300));
    expect(later).toEqual(['new']);
    await second.disconnect();
  });

  it('eachBatch: resolveOffset, isStale and auto-resolve; commitOffsets by hand', async () => {
    const topic = await topicWith('batch', 25);
    const groupId = topicName('batch-group');
    const consumer = consumerOf(groupId);
    const batches: { first: string | null; last: string; lag: string; count: number }[] = [];
    let resolved = 0;
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, resolveOffset, isStale, isRunning }) => {
        expect(isRunning()).toBe(true);
        batches.push({
          first: batch.firstOffset(),
          last: batch.lastOffset(),
          lag: batch.offsetLag(),
          count: batch.messages.length,
        });
        for (const m of batch.messages) {
          if (isStale()) break;
          resolveOffset(m.offset);
          resolved++;
        }
      },
    });
    await waitFor(() => resolved === 25, 10_000, '25 resolved');
    expect(batches[0]).toMatchObject({ first: '0', last: '24', lag: '0', count: 25 });
    // autoCommit off: nothing committed until asked.
    expect(
      (await h.sluice.admin().fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions[0]!.offset,
    ).toBe('-1');
    await consumer.commitOffsets([{ topic, partition: 0, offset: '20' }]);
    expect(
      (await h.sluice.admin().fetchOffsets({ groupId, topics: [topic] }))[0]!.partitions[0]!.offset,
    ).toBe('20');
    await consumer.disconnect();
  });

  it('retries a failing handler from the failed message, in order', async () => {
    const topic = await topicWith('fail', 5);
    const consumer = h.sluice.consumer({
      maxWaitTimeInMs: 100,
      retry: { initialRetryTime: 10, maxRetryTime: 50 },
    });
    const seen: number[] = [];
    let failures = 0;
    consumer.assign([{ topic }]);
    consumer.seek({ topic, partition: 0, offset: '0' });
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (message.offset === '2' && failures < 2) {
          failures++;
          throw new Error('flaky downstream');
        }
        seen.push(Number(message.offset));
      },
    });
    await waitFor(() => seen.length === 5, 10_000, 'all messages');
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(failures).toBe(2);
    await consumer.disconnect();
  });

  it('at-most-once commits a batch before handing it over', async () => {
    const topic = await topicWith('amo', 10);
    const groupId = topicName('amo-group');
    const consumer = consumerOf(groupId);
    let committedWhenFirstSeen: string | undefined;
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    const seen: number[] = [];
    await consumer.run({
      delivery: 'at-most-once',
      eachMessage: async ({ message }) => {
        if (seen.length === 0) {
          const [o] = await h.sluice.admin().fetchOffsets({ groupId, topics: [topic] });
          committedWhenFirstSeen = o!.partitions[0]!.offset;
        }
        seen.push(Number(message.offset));
      },
    });
    await waitFor(() => seen.length === 10, 10_000, '10 messages');
    expect(committedWhenFirstSeen).toBe('10');
    await consumer.disconnect();
  });

  it('(de)serializes with the built-in JSON hooks and a custom one', async () => {
    type Order = { id: string; total: number };
    const topic = await topicWith('serde', 0);
    const producer = h.sluice.producer<string, Order>({
      valueSerializer: Serializers.json<Order>(),
      keySerializer: (k) => k.toUpperCase(),
    });
    await producer.send({
      topic,
      messages: [
        { key: 'o-1', value: { id: 'o-1', total: 42 } },
        { key: 'o-2', value: null },
      ],
    });
    await producer.disconnect();
    const consumer: Consumer<string, Order> = h.sluice.consumer({
      maxWaitTimeInMs: 100,
      keyDeserializer: Deserializers.string(),
      valueDeserializer: Deserializers.json<Order>(),
    });
    const got: { key: string | null; value: Order | null }[] = [];
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => void got.push({ key: message.key, value: message.value }),
    });
    await waitFor(() => got.length === 2, 10_000, '2 messages');
    expect(got).toEqual([
      { key: 'O-1', value: { id: 'o-1', total: 42 } },
      { key: 'O-2', value: null },
    ]);
    await consumer.disconnect();
  });

  it('subscribes by regular expression, including topics created later', async () => {
    const prefix = topicName('rx');
    const a = `${prefix}.a`;
    await h.sluice.admin().createTopics({ topics: [{ topic: a }, { topic: `other-${prefix}` }] });
    const consumer = h.sluice.consumer({
      groupId: topicName('rx-group'),
      maxWaitTimeInMs: 100,
      heartbeatInterval: 100,
      sessionTimeout: 6000,
      metadataMaxAge: 200,
    });
    const seen: string[] = [];
    await consumer.subscribe({
      topics: [new RegExp(`^${prefix.replace(/[-.]/g, '\\$&')}\\.`)],
      fromBeginning: true,
    });
    await consumer.run({
      eachMessage: async ({ topic, message }) => void seen.push(`${topic}:${message.value}`),
    });
    const b = `${prefix}.b`;
    await h.sluice.admin().createTopics({ topics: [{ topic: b }] });
    await waitFor(() => consumer.assignment().length === 2, 10_000, 'the new topic to be assigned');
    const producer = h.sluice.producer();
    await producer.sendBatch({
      topicMessages: [a, b, `other-${prefix}`].map((topic) => ({ topic, messages: [{ value: 'x' }] })),
    });
    await producer.disconnect();
    await waitFor(() => seen.length === 2, 10_000, 'two messages');
    await new Promise((r) => setTimeout(r, 200));
    expect(seen.sort()).toEqual([`${a}:x`, `${b}:x`]);
    await consumer.disconnect();
  });

  it('rejoins with epoch 0 after being fenced, and keeps consuming', async () => {
    const topic = await topicWith('fenced', 0, 2);
    const inner = createHttpTransport({ endpoint: h.url });
    const joins: number[] = [];
    let heartbeats = 0;
    const transport: Transport = async (req) => {
      if (req.url.endsWith('/heartbeat')) {
        const body = JSON.parse(Buffer.from(req.body!).toString());
        joins.push(body.memberEpoch);
        // The third heartbeat is answered as if the group had moved on without this member.
        if (++heartbeats === 3) {
          const error = { code: 'FENCED_MEMBER_EPOCH', message: 'injected', retriable: false };
          return { status: 409, headers: {}, body: new TextEncoder().encode(JSON.stringify({ error })) };
        }
      }
      return inner(req);
    };
    const groupId = topicName('fenced-group');
    const consumer = h
      .client({ transport })
      .consumer({ groupId, maxWaitTimeInMs: 100, heartbeatInterval: 100, sessionTimeout: 6000 });
    let joined = 0;
    consumer.on(ConsumerEvents.GROUP_JOIN, () => void joined++);
    const seen: string[] = [];
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
    await waitFor(
      () => joined === 2 && consumer.assignment()[0]?.partitions.length === 2,
      10_000,
      'the rejoin',
    );
    expect(joins[0]).toBe(0);
    expect(joins.slice(1).filter((e) => e === 0)).toHaveLength(1);
    const producer = h.sluice.producer();
    await producer.send({
      topic,
      messages: [
        { value: 'a', partition: 0 },
        { value: 'b', partition: 1 },
      ],
    });
    await producer.disconnect();
    await waitFor(() => seen.length === 2, 10_000, 'two messages');
    const { groups } = await h.sluice.admin().describeGroups([groupId]);
    // The old incarnation is gone: one member.
    expect(groups[0]!.members).toHaveLength(1);
    await consumer.disconnect();
  });
});

const enc = new TextEncoder();
function errorResponse(status: number, code: string, retriable: boolean) {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: enc.encode(JSON.stringify({ error: { code, message: 'injected by the test', retriable } })),
  };
}

describe('SDK consumer in a group', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('memory');
  });
  afterAll(async () => {
    await h?.close();
  });

  async function send(topic: string, values: string[]) {
    const producer = h.sluice.producer();
    await producer.send({ topic, messages: values.map((value) => ({ value, partition: 0 })) });
    await producer.disconnect();
  }

  it('stops consuming once its session ran out without a successful heartbeat (never two owners)', async () => {
    const topic = topicName('lapse');
    await h.sluice.admin().createTopics({ topics: [{ topic, numPartitions: 1 }] });
    const groupId = topicName('lapse-group');
    const inner = createHttpTransport({ endpoint: h.url });
    let groupsDown = false;
    // The groups function becomes unreachable for A (heartbeats and commits); fetch still works.
    const transport: Transport = async (req) => {
      if (groupsDown && req.url.includes('/v1/groups/')) return errorResponse(503, 'UNAVAILABLE', true);
      return inner(req);
    };
    const config = { groupId, maxWaitTimeInMs: 100, heartbeatInterval: 200, sessionTimeout: 6000 };
    const a = h.client({ transport, retry: { retries: 0 } }).consumer(config);
    const b = h.sluice.consumer(config);
    const seenA: string[] = [];
    const seenB: string[] = [];
    await a.subscribe({ topics: [topic], fromBeginning: true });
    await a.run({ eachMessage: async ({ message }) => void seenA.push(message.value!.toString()) });
    await send(topic, ['m0']);
    await waitFor(() => seenA.length === 1, 10_000, 'A consumes m0');

    groupsDown = true;
    // More than A's session (6 s; the server expires it within 1.5 sessions) without a heartbeat.
    await new Promise((r) => setTimeout(r, 9_500));
    await b.subscribe({ topics: [topic], fromBeginning: true });
    await b.run({ eachMessage: async ({ message }) => void seenB.push(message.value!.toString()) });
    await waitFor(() => b.assignment()[0]?.partitions.length === 1, 10_000, 'B owns partition 0');

    await send(topic, ['m1']);
    await waitFor(() => seenB.includes('m1'), 10_000, 'B consumes m1');
    await new Promise((r) => setTimeout(r, 500));
    const aStillOwns = a.assignment();
    groupsDown = false;
    await Promise.all([a.disconnect(), b.disconnect()]);
    // A's session ran out 9.5 s ago from its own point of view: it must have stopped consuming.
    expect({ aProcessed: seenA, aAssignment: aStillOwns }).toEqual({ aProcessed: ['m0'], aAssignment: [] });
  }, 60_000);

  it('at-most-once: a batch whose commit was refused (fenced) is not handed over', async () => {
    const topic = topicName('amo');
    await h.sluice.admin().createTopics({ topics: [{ topic, numPartitions: 1 }] });
    const groupId = topicName('amo-group');
    const inner = createHttpTransport({ endpoint: h.url });
    let commits = 0;
    let fenced = true;
    let rejoined = false;
    // Commits are fenced (the group moved on: the member's epoch is stale) until it rejoins.
    const transport: Transport = async (req) => {
      if (req.method === 'POST' && req.url.endsWith('/offsets')) {
        commits++;
        if (fenced) return errorResponse(409, 'FENCED_MEMBER_EPOCH', false);
      }
      if (req.url.endsWith('/heartbeat') && commits > 0) {
        const body = JSON.parse(Buffer.from(req.body!).toString());
        if (body.memberEpoch === 0) {
          fenced = false;
          rejoined = true;
        }
      }
      // Heartbeats take a while (a cold Lambda): one is usually in flight when the commit is fenced.
      if (req.url.endsWith('/heartbeat')) await new Promise((r) => setTimeout(r, 300));
      return inner(req);
    };
    const consumer = h
      .client({ transport })
      .consumer({ groupId, maxWaitTimeInMs: 100, heartbeatInterval: 50, sessionTimeout: 6000 });
    const seen: string[] = [];
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      delivery: 'at-most-once',
      eachMessage: async ({ message }) => void seen.push(message.value!.toString()),
    });
    await new Promise((r) => setTimeout(r, 100));
    await send(topic, ['x0', 'x1', 'x2']);
    await waitFor(() => rejoined, 10_000, 'the rejoin after the fenced commit');
    await new Promise((r) => setTimeout(r, 1000));
    await consumer.disconnect();
    // At most once: no message twice (the fenced batch must not have been handed over).
    expect(seen).toEqual(['x0', 'x1', 'x2']);
  }, 30_000);
});
