/**
 * The SDK sizes what it sends (issue 12 §3): batches under each topic's
 * `max.message.bytes` once compressed, requests under what a function takes, sends split
 * across requests in order with contiguous idempotent sequences; a record too large alone
 * is named before anything is sent. Against `sluice dev` on files + SQLite and on moto;
 * every produce body the SDK sends is captured and checked frame by frame.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeBatch } from '../../core/records/index.js';
import { parseProduceFrames } from '../../core/wire.js';
import {
  CompressionTypes,
  createHttpTransport,
  MessageTooLargeError,
  RecordTooLargeError,
  type Transport,
} from '../../sdk/index.js';
import { MAX_REQUEST_BODY_BYTES } from '../../sdk/producer/sizing.js';
import { type Harness, startHarness, topicName } from './harness.js';

/** Captures produce and transactional-send bodies; `lie` rewrites metadata answers. */
function capturing(url: string, lie?: (meta: { topics: { maxMessageBytes?: number }[] }) => void) {
  const inner = createHttpTransport({ endpoint: url });
  const bodies: Uint8Array[] = [];
  const transport: Transport = async (req) => {
    const path = new URL(req.url).pathname;
    if ((path === '/v1/produce' || path.endsWith('/send')) && req.body) bodies.push(req.body);
    const res = await inner(req);
    if (lie && path === '/v1/metadata' && res.status === 200) {
      const meta = JSON.parse(Buffer.from(res.body).toString('utf8'));
      lie(meta);
      return { ...res, body: Buffer.from(JSON.stringify(meta)) };
    }
    return res;
  };
  return { transport, bodies };
}

/** Every batch of every captured body, with its topic and size. */
function framesOf(bodies: Uint8Array[]) {
  return bodies.flatMap((b) =>
    parseProduceFrames(b).map((f) => ({
      topic: f.topic,
      partition: f.partition,
      bytes: f.batch.bytes.length,
      batch: f.batch,
    })),
  );
}

describe.each(['sqlite', 'aws'] as const)('SDK batch and request sizing on %s', (kind) => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness(kind);
  });
  afterAll(async () => {
    await h?.close();
  });

  /** A partition's values (base64), read back through `GET /v1/fetch`. */
  async function values(topic: string, partition: number): Promise<string[]> {
    const out: string[] = [];
    for (let offset = 0; ; ) {
      const res = await fetch(
        `${h.url}/v1/fetch?topic=${topic}&partition=${partition}&offset=${offset}&encoding=base64&maxBytes=4000000`,
      );
      const body = (await res.json()) as {
        records: { value: string }[];
        nextOffset: number;
        highWatermark: number;
      };
      out.push(...body.records.map((r) => r.value));
      offset = body.nextOffset;
      if (offset >= body.highWatermark) return out;
    }
  }

  async function createTopic(prefix: string, partitions: number, maxMessageBytes: number) {
    const topic = topicName(prefix);
    await h.sluice.admin().createTopics({
      topics: [
        {
          topic,
          numPartitions: partitions,
          configEntries: [{ name: 'max.message.bytes', value: String(maxMessageBytes) }],
        },
      ],
    });
    return topic;
  }

  it('sends 8 records of 300 bytes to a topic of max.message.bytes 1024 (send and sendBatch), batches under it, in order', async () => {
    const topic = await createTopic('issue12', 1, 1024);
    const { transport, bodies } = capturing(h.url);
    const producer = h.client({ transport }).producer();
    const messages = Array.from({ length: 8 }, (_, i) => ({ value: `${i}`.padEnd(300, 'x'), partition: 0 }));
    await producer.send({ topic, messages });
    await producer.sendBatch({ topicMessages: [{ topic, messages }] });
    await producer.disconnect();
    const frames = framesOf(bodies);
    expect(frames.length).toBeGreaterThanOrEqual(6);
    for (const f of frames) expect(f.bytes).toBeLessThanOrEqual(1024);
    const want = [...messages, ...messages].map((m) => Buffer.from(m.value).toString('base64'));
    expect(await values(topic, 0)).toEqual(want);
  });

  it('property: any record sizes, counts and codecs go through, every batch under the limit, order and sequences kept', async () => {
    const codecs = [
      CompressionTypes.None,
      CompressionTypes.GZIP,
      CompressionTypes.LZ4,
      CompressionTypes.ZSTD,
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat({ max: 900 }), fc.boolean(), fc.nat({ max: 1 })), {
          minLength: 1,
          maxLength: 40,
        }),
        fc.integer({ min: 1024, max: 4096 }),
        fc.constantFrom(...codecs),
        fc.integer({ min: 1, max: 3 }),
        async (specs, limit, compression, sends) => {
          const topic = await createTopic('prop', 2, limit);
          const { transport, bodies } = capturing(h.url);
          const producer = h.client({ transport }).producer({ batchSize: 4096 });
          const messages = specs.map(([size, random, partition]) => ({
            value: random ? randomBytes(size) : Buffer.alloc(size, 97),
            partition,
          }));
          // Several concurrent sends of consecutive slices: they share requests.
          const per = Math.ceil(messages.length / sends);
          await Promise.all(
            Array.from({ length: sends }, (_, s) =>
              producer.send({ topic, compression, messages: messages.slice(s * per, (s + 1) * per) }),
            ),
          );
          await producer.disconnect();
          const next = new Map<number, number>();
          for (const f of framesOf(bodies)) {
            expect(f.bytes).toBeLessThanOrEqual(limit);
            const { header, records } = decodeBatch(f.batch);
            expect(header.baseSequence).toBe(next.get(f.partition) ?? 0);
            next.set(f.partition, header.baseSequence + records.length);
          }
          for (const partition of [0, 1]) {
            const want = messages
              .filter((m) => m.partition === partition)
              .map((m) => m.value.toString('base64'));
            expect(await values(topic, partition)).toEqual(want);
          }
        },
      ),
      { numRuns: kind === 'aws' ? 4 : 10 },
    );
  });

  it('names a record too large alone (RecordTooLargeError) and sends nothing of its send', async () => {
    const topic = await createTopic('toolarge', 1, 1024);
    const { transport, bodies } = capturing(h.url);
    const producer = h.client({ transport }).producer();
    const err = await producer
      .send({ topic, messages: [{ value: 'fits' }, { value: randomBytes(1100) }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RecordTooLargeError);
    expect(err).toBeInstanceOf(MessageTooLargeError);
    expect(err).toMatchObject({ topic, partition: 0, index: 1, limit: 1024 });
    expect((err as Error).message).toContain('messages[1]');
    // Compressible, the same size fits once compressed: the limit is on the batch as sent.
    await producer.send({
      topic,
      compression: CompressionTypes.GZIP,
      messages: [{ value: 'y'.repeat(5000) }],
    });
    const batch = await producer
      .sendBatch({
        topicMessages: [{ topic, messages: [{ value: 'ok' }, { value: 'z' }, { value: randomBytes(2000) }] }],
      })
      .catch((e: unknown) => e);
    expect(batch).toMatchObject({ name: 'RecordTooLargeError', index: 2, topicIndex: 0 });
    expect((batch as Error).message).toContain('topicMessages[0].messages[2]');
    await producer.disconnect();
    expect(bodies).toHaveLength(1);
    expect(await values(topic, 0)).toEqual([Buffer.from('y'.repeat(5000)).toString('base64')]);
  });

  it('splits a send larger than one function request into several, in order', async () => {
    const topic = await createTopic('huge', 1, 1_048_588);
    const { transport, bodies } = capturing(h.url);
    const producer = h.client({ transport }).producer({ batchSize: 4 * 1024 * 1024 });
    const messages = Array.from({ length: 12 }, (_, i) => ({ value: Buffer.alloc(500_000, 65 + i) }));
    await producer.send({ topic, messages });
    await producer.disconnect();
    expect(bodies.length).toBeGreaterThanOrEqual(2);
    for (const b of bodies) expect(b.length).toBeLessThanOrEqual(MAX_REQUEST_BODY_BYTES);
    for (const f of framesOf(bodies)) expect(f.bytes).toBeLessThanOrEqual(1_048_588);
    expect(await values(topic, 0)).toEqual(messages.map((m) => m.value.toString('base64')));
  });

  it('stages a transaction larger than a batch in batches under the limit, and commits it whole', async () => {
    const topic = await createTopic('tx', 1, 1024);
    const { transport, bodies } = capturing(h.url);
    const producer = h
      .client({ transport })
      .producer({ transactionalId: topicName('txid'), idempotent: true });
    const messages = Array.from({ length: 10 }, (_, i) => ({ value: `${i}`.padEnd(400, 't') }));
    const tx = await producer.transaction();
    await tx.send({ topic, messages });
    await tx.commit();
    await producer.disconnect();
    for (const f of framesOf(bodies)) expect(f.bytes).toBeLessThanOrEqual(1024);
    expect(framesOf(bodies).length).toBeGreaterThanOrEqual(4);
    expect(await values(topic, 0)).toEqual(messages.map((m) => Buffer.from(m.value).toString('base64')));
  });

  it('re-cuts with the same sequences when the server refuses a batch a stale limit allowed', async () => {
    const topic = await createTopic('stale', 1, 1024);
    // The first metadata answer claims a larger limit (as before a topic was re-created smaller).
    let lies = 1;
    const { transport, bodies } = capturing(h.url, (meta) => {
      if (lies-- > 0) for (const t of meta.topics) t.maxMessageBytes = 1_048_588;
    });
    const producer = h.client({ transport }).producer();
    const messages = Array.from({ length: 8 }, (_, i) => ({ value: `${i}`.padEnd(300, 's') }));
    await producer.send({ topic, messages });
    await producer.send({ topic, messages: [{ value: 'after' }] });
    await producer.disconnect();
    // The refused request, then the re-cut one, then the next send with sequences following on.
    expect(framesOf([bodies[0]!]).some((f) => f.bytes > 1024)).toBe(true);
    const later = framesOf(bodies.slice(1));
    for (const f of later) expect(f.bytes).toBeLessThanOrEqual(1024);
    expect(decodeBatch(later[0]!.batch).header.baseSequence).toBe(0);
    expect(decodeBatch(later.at(-1)!.batch).header.baseSequence).toBe(8);
    expect(await values(topic, 0)).toEqual(
      [...messages.map((m) => m.value), 'after'].map((v) => Buffer.from(v).toString('base64')),
    );
  });
});
