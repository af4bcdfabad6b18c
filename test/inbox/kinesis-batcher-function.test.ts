/**
 * The batcher function as Lambda runs it over a Kinesis inbox (the mapping's event of a
 * shard's records), on the embedded store and on moto (S3 + DynamoDB), with the stream and
 * the dead-letter queue on moto: what it commits, that held-back records are reported by
 * sequence number, that a redelivery from the lowest failed one commits nothing twice, and
 * that invalid records go to the dead-letter queue (or, when it cannot take them, are
 * reported as failures).
 */
import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { kinesisEventOf } from '../../bin/kinesis-inbox.js';
import { encodeInboxMessage } from '../../core/inbox/message.js';
import { createBatcherHandler, type KinesisDeadLetter, kinesisDeliveriesOf } from '../../lambdas/batcher.js';
import { createContext, type SluiceContext } from '../../lambdas/context.js';
import type { ShardRecord } from '../../storage/kinesis.js';
import { SqsInboxQueue } from '../../storage/sqs.js';
import { makeStores, type StoreKind, type TestStores } from '../helpers/stores.js';
import { readShard } from './events.js';
import { makeQueue, makeStream, type TestQueue, type TestStream } from './queues.js';

const message = (value: string, seq: number, prevAt?: number, partition = 0) =>
  encodeInboxMessage({
    v: 1,
    topic: 'events',
    partition,
    records: [{ v: Buffer.from(value).toString('base64'), ts: 1000 }],
    producer: { id: '42', epoch: 0, seq, prevAt },
  });

const recordValue = (r: ShardRecord) => {
  try {
    const m = JSON.parse(Buffer.from(r.data).toString()) as { records: { v: string }[] };
    return Buffer.from(m.records[0]!.v, 'base64').toString();
  } catch {
    return Buffer.from(r.data).toString();
  }
};

describe.each(['sqlite', 'aws'] as StoreKind[])('batcher function over a Kinesis inbox on %s', (kind) => {
  let stores: TestStores;
  let s: TestStream;
  let dlq: TestQueue;
  let ctx: SluiceContext;
  let shardId: string;

  const log = async () =>
    (await ctx.reader.fetchRecords('events', 0, 0, { maxBytes: 1 << 20 })).records.map((r) =>
      Buffer.from(r.value!).toString(),
    );
  async function deadLetters(): Promise<KinesisDeadLetter[]> {
    const sqs = dlq.queue as SqsInboxQueue;
    const out = await (sqs.client as SQSClient).send(
      new ReceiveMessageCommand({ QueueUrl: sqs.queueUrl, MaxNumberOfMessages: 10 }),
    );
    return (out.Messages ?? []).map((m) => JSON.parse(m.Body!) as KinesisDeadLetter);
  }

  beforeEach(async () => {
    stores = await makeStores(kind);
    s = await makeStream();
    dlq = await makeQueue('sqs');
    ctx = createContext(stores, { inbox: s.stream, inboxDeadLetters: dlq.queue, env: {} });
    await ctx.topics.create('events', 1);
    shardId = (await s.stream.shards())[0]!;
  });
  afterEach(async () => {
    await dlq.cleanup();
    await s.cleanup();
    await stores.cleanup();
  });

  it('commits in order, reports held-back records by sequence number, dead-letters invalid ones', async () => {
    const handler = createBatcherHandler(async () => ctx);
    // seq 1 is missing (still on its way): seq 2 waits for it. Two records can never be committed.
    const ids = await s.stream.send([
      message('first', 0),
      message('third', 2, Date.now()),
      'not an inbox message',
      message('nowhere', 0, undefined, 7),
    ]);
    const got = await readShard(s.stream, shardId!);
    expect(got.map((r) => r.sequenceNumber)).toEqual(ids);
    const event = kinesisEventOf(s.stream.address, shardId!, got);
    const deliveries = kinesisDeliveriesOf(event);
    expect(deliveries.map((d) => d.receipt)).toEqual(ids);
    expect(deliveries[2]).toMatchObject({ body: 'not an inbox message', messageId: `${shardId}:${ids[2]}` });
    expect(deliveries[0]!.firstReceivedAt).toBe(Math.floor(got[0]!.arrivedAt));

    const response = await handler(event);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: ids[1] }]);
    expect(await log()).toEqual(['first']);
    const letters = await deadLetters();
    expect(letters.map((l) => l.sequenceNumber).sort()).toEqual([ids[2], ids[3]].sort());
    const bad = letters.find((l) => l.sequenceNumber === ids[2])!;
    expect(bad).toMatchObject({ streamArn: s.stream.streamArn, body: 'not an inbox message' });
    expect(bad.error).toMatch(/JSON/);
    expect(letters.find((l) => l.sequenceNumber === ids[3])!.error).toMatch(/partition/);

    // The predecessor arrives; the mapping retries from the lowest failed sequence number.
    const [second] = await s.stream.send([message('second', 1, Date.now())]);
    const again = await readShard(s.stream, shardId!, ids[1]);
    expect(again.map(recordValue)).toEqual(['third', 'not an inbox message', 'nowhere', 'second']);
    const retry = await handler(kinesisEventOf(s.stream.address, shardId!, again));
    expect(retry.batchItemFailures).toEqual([]);
    expect(await log()).toEqual(['first', 'second', 'third']);
    expect(second).toBe(again.at(-1)!.sequenceNumber);

    // Lambda crashed after that commit: the whole batch again changes nothing.
    const redelivered = await handler(
      kinesisEventOf(s.stream.address, shardId!, await readShard(s.stream, shardId!)),
    );
    expect(redelivered.batchItemFailures).toEqual([]);
    expect(await log()).toEqual(['first', 'second', 'third']);
  });

  it('reports invalid records as failures while the dead-letter queue cannot take them', async () => {
    const broken = new SqsInboxQueue(
      `${(dlq.queue as SqsInboxQueue).queueUrl}-that-does-not-exist`,
      (dlq.queue as SqsInboxQueue).client,
    );
    const failing = createContext(stores, { inbox: s.stream, inboxDeadLetters: broken, env: {} });
    const ids = await s.stream.send([
      message('first', 0),
      'not an inbox message',
      message('second', 1, Date.now()),
    ]);
    const event = kinesisEventOf(s.stream.address, shardId!, await readShard(s.stream, shardId!));
    const response = await createBatcherHandler(async () => failing)(event);
    expect(response.batchItemFailures).toEqual([{ itemIdentifier: ids[1] }]);
    // Without a dead-letter queue configured at all: the same.
    const none = createContext(stores, { inbox: s.stream, env: {} });
    const again = await createBatcherHandler(async () => none)(event);
    expect(again.batchItemFailures).toEqual([{ itemIdentifier: ids[1] }]);
    // What could be committed was, once.
    expect(await log()).toEqual(['first', 'second']);
  });
});
