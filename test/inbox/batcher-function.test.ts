/**
 * The batcher function as Lambda runs it (an SQS event of the inbox's messages), on the
 * embedded store + embedded queue and on moto (S3 + DynamoDB + SQS): what it commits, what
 * it reports as batch item failures, and that those come back within seconds (released by
 * ChangeMessageVisibility), not after the queue's visibility timeout.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeInboxMessage } from '../../core/inbox/message.js';
import type { InboxDelivery, InboxQueue } from '../../core/inbox/queue.js';
import { createBatcherHandler, deliveriesOf } from '../../lambdas/batcher.js';
import { createContext, type SluiceContext } from '../../lambdas/context.js';
import { makeStores, type StoreKind, type TestStores } from '../helpers/stores.js';
import { sqsEvent } from './events.js';
import { makeQueue, type TestQueue } from './queues.js';

const message = (value: string, seq: number, prevAt?: number) =>
  encodeInboxMessage({
    v: 1,
    topic: 'events',
    partition: 0,
    records: [{ v: Buffer.from(value).toString('base64'), ts: 1000 }],
    producer: { id: '42', epoch: 0, seq, prevAt },
  });

async function receiveAll(queue: InboxQueue, count: number, waitMs: number): Promise<InboxDelivery[]> {
  const got: InboxDelivery[] = [];
  const until = Date.now() + waitMs;
  while (got.length < count && Date.now() < until) {
    got.push(...(await queue.receive(10)));
    if (got.length < count) await new Promise((r) => setTimeout(r, 100));
  }
  return got;
}

describe.each([
  ['sqlite', 'embedded'],
  ['aws', 'sqs'],
] as [StoreKind, 'embedded' | 'sqs'][])('batcher function on %s with the %s queue', (kind, queueKind) => {
  let stores: TestStores;
  let q: TestQueue;
  let ctx: SluiceContext;

  beforeEach(async () => {
    stores = await makeStores(kind);
    // A visibility timeout far longer than the test: only an early release brings messages back.
    q =
      queueKind === 'embedded'
        ? await makeQueue('embedded')
        : await makeQueue('sqs', { visibilityTimeoutSec: 600 });
    ctx = createContext(stores, { inbox: q.queue, env: {} });
    await ctx.topics.create('events', 1);
  });
  afterEach(async () => {
    await q.cleanup();
    await stores.cleanup();
  });

  it('commits what it can, reports the rest as item failures and releases them within seconds', async () => {
    const handler = createBatcherHandler(async () => ctx);
    // seq 1 is missing (still on its way): seq 2 waits for it. One body is not a message.
    await q.queue.send([message('first', 0), message('third', 2, Date.now()), 'not an inbox message']);
    const got = await receiveAll(q.queue, 3, 10_000);
    expect(got).toHaveLength(3);
    expect(deliveriesOf(sqsEvent(got))).toEqual(got);

    const response = await handler(sqsEvent(got));
    const failed = response.batchItemFailures.map((f) => f.itemIdentifier).sort();
    const third = got.find((d) => d.body.includes(Buffer.from('third').toString('base64')))!;
    const invalid = got.find((d) => d.body === 'not an inbox message')!;
    expect(failed).toEqual([third.messageId, invalid.messageId].sort());
    const log = await ctx.reader.fetchRecords('events', 0, 0, { maxBytes: 1 << 20 });
    expect(log.records.map((r) => Buffer.from(r.value!).toString())).toEqual(['first']);

    // Back after about a second (the queue would hide them for 30 s or 10 min otherwise).
    const back = await receiveAll(q.queue, 2, 15_000);
    expect(back.map((d) => d.messageId).sort()).toEqual(failed);

    // The predecessor arrives; the redelivered message is committed after it.
    await q.queue.release(
      back.map((d) => d.receipt),
      0,
    );
    await q.queue.send([message('second', 1, Date.now())]);
    const next = await receiveAll(q.queue, 3, 10_000);
    const again = await handler(sqsEvent(next));
    expect(again.batchItemFailures.map((f) => f.itemIdentifier)).toEqual([invalid.messageId]);
    const after = await ctx.reader.fetchRecords('events', 0, 0, { maxBytes: 1 << 20 });
    expect(after.records.map((r) => Buffer.from(r.value!).toString())).toEqual(['first', 'second', 'third']);
  });
});
