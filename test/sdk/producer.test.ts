/**
 * Producer behaviour that needs a server: idempotent retries through a transport that
 * loses answers after the server applied the request, batching of many sends into few
 * requests, and which errors are retried.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createHttpTransport,
  MessageTooLargeError,
  RecordTooLargeError,
  SluiceConnectionError,
  SluiceNumberOfRetriesExceededError,
  type Transport,
  UnknownTopicOrPartitionError,
} from '../../sdk/index.js';
import { type Harness, startHarness, topicName } from './harness.js';

/** Passes requests on, but loses the answer of the produce requests `drop` says to. */
function losingTransport(url: string, drop: (n: number) => boolean) {
  const inner = createHttpTransport({ endpoint: url });
  const stats = { produce: 0, dropped: 0, bodies: [] as Uint8Array[] };
  const transport: Transport = async (req) => {
    const res = await inner(req);
    if (new URL(req.url).pathname === '/v1/produce') {
      stats.bodies.push(req.body!);
      if (drop(++stats.produce)) {
        stats.dropped++;
        throw new SluiceConnectionError('socket hang up (injected after the server answered)', url);
      }
    }
    return res;
  };
  return { transport, stats };
}

const fastRetry = { retries: 4, initialRetryTime: 5, maxRetryTime: 20 };

describe('producer against sluice dev', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('sqlite');
  });
  afterAll(async () => {
    await h?.close();
  });

  async function highWatermarks(topic: string): Promise<number[]> {
    return (await h.sluice.admin().fetchTopicOffsets(topic)).map((o) => Number(o.high));
  }

  it('retries a request whose answer was lost with the same bytes, and the server dedups it', async () => {
    const topic = topicName('idem');
    await h.sluice.admin().createTopics({ topics: [{ topic, numPartitions: 4 }] });
    // Every other answer is lost: each request is applied, then sent again.
    const { transport, stats } = losingTransport(h.url, (n) => n % 2 === 1);
    const producer = h.client({ transport, retry: fastRetry }).producer();
    const results = [];
    for (let i = 0; i < 10; i++) {
      results.push(
        await producer.send({
          topic,
          messages: Array.from({ length: 5 }, (_, j) => ({ key: `k${j}`, value: `${i}-${j}` })),
        }),
      );
    }
    await producer.disconnect();
    expect(stats.dropped).toBe(10);
    // A retry resends exactly the bytes of the attempt it retries.
    for (let i = 0; i < stats.bodies.length; i += 2) expect(stats.bodies[i + 1]).toEqual(stats.bodies[i]);
    // 50 records in the log, not 100; the offsets reported are the original ones.
    expect((await highWatermarks(topic)).reduce((a, b) => a + b, 0)).toBe(50);
    const firsts = results.flat().map((m) => `${m.partition}@${m.baseOffset}`);
    expect(new Set(firsts).size).toBe(firsts.length);
  });

  it('without idempotence the same lost answers duplicate records (what the test above guards)', async () => {
    const topic = topicName('dup');
    await h.sluice.admin().createTopics({ topics: [{ topic, numPartitions: 1 }] });
    const { transport } = losingTransport(h.url, (n) => n % 2 === 1);
    const producer = h.client({ transport, retry: fastRetry }).producer({ idempotent: false });
    for (let i = 0; i < 3; i++) await producer.send({ topic, messages: [{ value: `v${i}` }] });
    await producer.disconnect();
    expect(await highWatermarks(topic)).toEqual([6]);
  });

  it('gives up after the retries and continues with a new producer id, without sequence errors', async () => {
    const topic = topicName('exhaust');
    await h.sluice.admin().createTopics({ topics: [{ topic, numPartitions: 1 }] });
    let failing = true;
    const { transport } = losingTransport(h.url, () => failing);
    const producer = h
      .client({ transport, retry: { retries: 2, initialRetryTime: 5, maxRetryTime: 10 } })
      .producer();
    await producer.send({ topic, messages: [{ value: 'before' }] }).catch(() => undefined);
    const err = await producer.send({ topic, messages: [{ value: 'lost?' }] }).catch((e) => e);
    expect(err).toBeInstanceOf(SluiceNumberOfRetriesExceededError);
    expect((err as Error).cause).toBeInstanceOf(SluiceConnectionError);
    failing = false;
    const [meta] = await producer.send({ topic, messages: [{ value: 'after' }] });
    expect(Number(meta!.baseOffset)).toBe(2);
    await producer.disconnect();
  });

  it('does not retry errors that are not retriable', async () => {
    const topic = topicName('big');
    await h.sluice.admin().createTopics({
      topics: [{ topic, numPartitions: 1, configEntries: [{ name: 'max.message.bytes', value: '2048' }] }],
    });
    const { transport, stats } = losingTransport(h.url, () => false);
    const producer = h.client({ transport, retry: fastRetry }).producer();
    // A record over the topic's limit alone is refused by the SDK, named, before any request.
    const tooLarge = await producer
      .send({ topic, messages: [{ value: 'x'.repeat(10_000) }] })
      .catch((e) => e);
    expect(tooLarge).toBeInstanceOf(RecordTooLargeError);
    expect(tooLarge).toBeInstanceOf(MessageTooLargeError);
    expect(tooLarge).toMatchObject({ topic, partition: 0, index: 0, limit: 2048 });
    expect(stats.produce).toBe(0);
    await expect(producer.send({ topic, messages: [{ value: 'x', partition: 7 }] })).rejects.toBeInstanceOf(
      UnknownTopicOrPartitionError,
    );
    await expect(
      producer.send({ topic: topicName('missing'), messages: [{ value: 'x' }] }),
    ).rejects.toBeInstanceOf(UnknownTopicOrPartitionError);
    // The producer is still usable: nothing it sent was half-applied.
    await producer.send({ topic, messages: [{ value: 'fine' }] });
    expect(await highWatermarks(topic)).toEqual([1]);
    await producer.disconnect();
  });

  it('packs many concurrent sends into few requests, capped at batchSize', async () => {
    const topic = topicName('linger');
    await h.sluice.admin().createTopics({ topics: [{ topic, numPartitions: 3 }] });
    const { transport, stats } = losingTransport(h.url, () => false);
    const producer = h.client({ transport }).producer({ lingerMs: 50, batchSize: 256 * 1024 });
    const sends = Array.from({ length: 1000 }, (_, i) =>
      producer.send({ topic, messages: [{ key: `k${i}`, value: `v${i}` }] }),
    );
    const results = (await Promise.all(sends)).flat();
    expect(stats.produce).toBeLessThanOrEqual(3);
    expect((await highWatermarks(topic)).reduce((a, b) => a + b, 0)).toBe(1000);
    // Each send got the offset of its own record.
    const offsets = new Set(results.map((r) => `${r.partition}@${r.baseOffset}`));
    expect(offsets.size).toBe(1000);

    const before = stats.produce;
    const value = 'x'.repeat(1000);
    await Promise.all(Array.from({ length: 1000 }, () => producer.send({ topic, messages: [{ value }] })));
    const requests = stats.produce - before;
    expect(requests).toBeGreaterThanOrEqual(4);
    expect(requests).toBeLessThanOrEqual(6);
    for (const body of stats.bodies.slice(before)) expect(body.length).toBeLessThan(300 * 1024);
    await producer.disconnect();
  });

  it('sendBatch writes several topics in one request, atomically', async () => {
    const a = topicName('batch-a');
    const b = topicName('batch-b');
    await h.sluice.admin().createTopics({ topics: [{ topic: a }, { topic: b, numPartitions: 2 }] });
    const { transport, stats } = losingTransport(h.url, () => false);
    const producer = h.client({ transport }).producer();
    const meta = await producer.sendBatch({
      topicMessages: [
        { topic: a, messages: [{ value: '1' }, { value: '2' }] },
        { topic: b, messages: [{ key: 'x', value: '3' }] },
      ],
    });
    expect(stats.produce).toBe(1);
    expect(meta.map((m) => m.topicName).sort()).toEqual([a, b].sort());
    // A topic that does not exist fails the whole batch: nothing is written to the other.
    await expect(
      producer.sendBatch({
        topicMessages: [
          { topic: a, messages: [{ value: '4' }] },
          { topic: 'nope-nope', messages: [{ value: '5' }] },
        ],
      }),
    ).rejects.toBeInstanceOf(UnknownTopicOrPartitionError);
    expect(await highWatermarks(a)).toEqual([2]);
    await producer.disconnect();
  });
});
