/**
 * A running consumer group while its topic is deleted and re-created under the same name
 * (docs/design.md "Topic incarnations"), on the embedded store and on moto: the consumer
 * reads the new topic from its beginning — its position and its group's commits of the
 * old topic apply to nothing — and no record of the new topic is skipped, also when the new
 * topic already holds more records than the old position.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SluiceApi } from '../../sdk/api.js';
import { createHttpTransport, createLogger, logLevel, UnknownTopicIdError } from '../../sdk/index.js';
import { type Harness, startHarness, topicName, waitFor } from './harness.js';

describe.each(['sqlite', 'aws'] as const)('a consumer across topic incarnations on %s', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(kind);
  });
  afterAll(async () => {
    await h?.close();
  });

  it('reads a re-created topic from its beginning, not from the old position', async () => {
    const admin = h.sluice.admin();
    const topic = topicName('reborn');
    const groupId = topicName('reborn-group');
    const send = async (values: string[]) => {
      const producer = h.sluice.producer();
      await producer.send({ topic, messages: values.map((value) => ({ value, partition: 0 })) });
      await producer.disconnect();
    };
    await admin.createTopics({ topics: [{ topic }] });
    await send(['old0', 'old1', 'old2']);

    const consumer = h.sluice.consumer({
      groupId,
      maxWaitTimeInMs: 100,
      heartbeatInterval: 200,
      sessionTimeout: 6000,
      retry: { initialRetryTime: 50, maxRetryTime: 200 },
    });
    const seen: string[] = [];
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
    const committed = async () =>
      (await admin.fetchOffsets({ groupId, topics: [topic] }))[0]?.partitions[0]?.offset;
    await waitFor(async () => (await committed()) === '3', 15_000, 'the commit of the old topic');
    const api = new SluiceApi({
      endpoint: h.url,
      transport: createHttpTransport({ endpoint: h.url }),
      logger: createLogger(logLevel.NOTHING),
    });
    const read = (topicId?: string) =>
      api.json<{ topicId: string }>('fetch', {
        method: 'GET',
        path: '/v1/fetch',
        query: { topic, partition: 0, offset: 0, topicId },
      });
    const oldId = (await read()).topicId;

    // Paused, so that the new topic holds more than the old position when it is read again.
    consumer.pause([{ topic }]);
    await admin.deleteTopics({ topics: [topic] });
    await admin.createTopics({ topics: [{ topic }] });
    await send(['new0', 'new1', 'new2', 'new3', 'new4']);
    // Named by the old id, the topic is a typed error, not the new topic's records.
    await expect(read(oldId)).rejects.toBeInstanceOf(UnknownTopicIdError);
    consumer.resume([{ topic }]);

    await waitFor(() => seen.length >= 8, 20_000, 'the records of the new topic');
    await waitFor(async () => (await committed()) === '5', 15_000, 'the commit of the new topic');
    await consumer.disconnect();
    expect(seen).toEqual(['old0', 'old1', 'old2', 'new0', 'new1', 'new2', 'new3', 'new4']);
  });
});
