/**
 * A sender's retry that lands as a second inbox message long after the first was committed
 * (the answer to the first attempt was lost; throttled retries back off 0.3, 0.6, 1.2, 2.4,
 * 4.8 s…): appended once, because the message names its first attempt (`at`) and the
 * batcher reads the ledger from there (`core/inbox/ledger-reach.ts`). For a producer's
 * first message of a partition (no `prevAt`) and for a sender without a producer (an event
 * id) — the two that had nothing else to reach back with — on the SQS-shaped path (the
 * batcher function's SQS event, over the embedded queue and SQS on moto), on the Kinesis
 * path (the same function's Kinesis event, the stream on moto), and through
 * `POST /v1/inbox` sent twice with the same `at`; each on the embedded store and on moto.
 *
 * The clock is a manual one started at the real time: the retry "lands" `late` ms after the
 * first commit by advancing it, and its delivery is dated then (the emulators stamp their
 * real time, which has hardly moved).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { kinesisEventOf } from '../../bin/kinesis-inbox.js';
import { ManualClock } from '../../core/clock.js';
import { InboxBatcher } from '../../core/inbox/batcher.js';
import { drainOnce } from '../../core/inbox/drain.js';
import { encodeInboxMessage, type InboxMessage } from '../../core/inbox/message.js';
import {
  INBOX_RETRY_HORIZON_MS,
  INBOX_SKEW_MS,
  type InboxDelivery,
  type InboxQueue,
} from '../../core/inbox/queue.js';
import { createBatcherHandler } from '../../lambdas/batcher.js';
import { createContext, type SluiceContext } from '../../lambdas/context.js';
import { toEvent } from '../../lambdas/http.js';
import { createHandlers } from '../../lambdas/index.js';
import { SqliteInboxQueue } from '../../storage/sqlite-queue.js';
import { makeStores, type StoreKind, type TestStores } from '../helpers/stores.js';
import { readShard, sqsEvent } from './events.js';
import { makeQueue, makeStream, type TestQueue, type TestStream } from './queues.js';

const LATE = [10_000, 60_000];

/** A producer's first message of partition 0, and an event of a sender without a producer. */
function firstMessages(at: number): string[] {
  const records = (v: string) => [{ v: Buffer.from(v).toString('base64'), ts: 1000 }];
  const base = { v: 1 as const, topic: 'events', partition: 0, at };
  return [
    encodeInboxMessage({ ...base, records: records('first'), producer: { id: '42', epoch: 0, seq: 0 } }),
    encodeInboxMessage({ ...base, records: records('event'), eventId: 'e-1/0' } satisfies InboxMessage),
  ];
}

async function receiveAll(queue: InboxQueue, count: number): Promise<InboxDelivery[]> {
  const got: InboxDelivery[] = [];
  const until = Date.now() + 10_000;
  while (got.length < count && Date.now() < until) {
    got.push(...(await queue.receive(10)));
    if (got.length < count) await new Promise((r) => setTimeout(r, 50));
  }
  expect(got).toHaveLength(count);
  return got;
}

const log = async (ctx: SluiceContext) =>
  (await ctx.reader.fetchRecords('events', 0, 0, { maxBytes: 1 << 20 })).records.map((r) =>
    Buffer.from(r.value!).toString(),
  );

describe.each([
  ['sqlite', 'embedded'],
  ['aws', 'sqs'],
] as [StoreKind, 'embedded' | 'sqs'][])(
  'a late sender retry over the SQS-shaped path on %s with the %s queue',
  (kind, queueKind) => {
    let stores: TestStores;
    let q: TestQueue;

    beforeEach(async () => {
      stores = await makeStores(kind);
      q = await makeQueue(queueKind);
    });
    afterEach(async () => {
      await q.cleanup();
      await stores.cleanup();
    });

    it.each(LATE)('landing %i ms after the original was committed is a duplicate', async (late) => {
      const clock = new ManualClock(Date.now());
      const ctx = createContext(stores, { inbox: q.queue, env: {}, clock });
      await ctx.topics.create('events', 1);
      const handler = createBatcherHandler(async () => ctx);
      const bodies = firstMessages(clock.now());
      await q.queue.send(bodies);
      const got = await receiveAll(q.queue, 2);
      expect((await handler(sqsEvent(got))).batchItemFailures).toEqual([]);
      await q.queue.delete(got.map((d) => d.receipt)); // the mapping deletes what succeeded
      expect((await log(ctx)).sort()).toEqual(['event', 'first']);

      // The answer was lost; the retry lands `late` ms later as new messages, same bodies.
      clock.advance(late);
      await q.queue.send(bodies);
      const retried = (await receiveAll(q.queue, 2)).map((d) => ({
        ...d,
        sentAt: clock.now(),
        firstReceivedAt: clock.now() + 200,
      }));
      expect(retried.map((d) => d.messageId)).not.toContain(got[0]!.messageId);
      expect((await handler(sqsEvent(retried))).batchItemFailures).toEqual([]);
      expect((await log(ctx)).sort()).toEqual(['event', 'first']);
    });
  },
);

describe.each(['sqlite', 'aws'] as StoreKind[])('a late sender retry over a Kinesis inbox on %s', (kind) => {
  let stores: TestStores;
  let s: TestStream;

  beforeEach(async () => {
    stores = await makeStores(kind);
    s = await makeStream();
  });
  afterEach(async () => {
    await s.cleanup();
    await stores.cleanup();
  });

  it.each(LATE)('put again %i ms after the original was committed is a duplicate', async (late) => {
    const clock = new ManualClock(Date.now());
    const ctx = createContext(stores, { inbox: s.stream, env: {}, clock });
    await ctx.topics.create('events', 1);
    const handler = createBatcherHandler(async () => ctx);
    const shardId = (await s.stream.shards())[0]!;
    const bodies = firstMessages(clock.now());
    await s.stream.send(bodies);
    const first = await readShard(s.stream, shardId);
    expect(first).toHaveLength(2);
    expect((await handler(kinesisEventOf(s.stream.address, shardId, first))).batchItemFailures).toEqual([]);
    expect((await log(ctx)).sort()).toEqual(['event', 'first']);

    // The PutRecords answer was lost; the SDK puts the same bodies again, arriving `late` ms later.
    clock.advance(late);
    const [again] = await s.stream.send(bodies);
    const retried = (await readShard(s.stream, shardId, again)).map((r) => ({
      ...r,
      arrivedAt: clock.now(),
    }));
    expect(retried).toHaveLength(2);
    const event = kinesisEventOf(s.stream.address, shardId, retried);
    expect((await handler(event)).batchItemFailures).toEqual([]);
    expect((await log(ctx)).sort()).toEqual(['event', 'first']);
  });
});

describe.each(['sqlite', 'aws'] as StoreKind[])(
  'POST /v1/inbox retried late with the same at, on %s',
  (kind) => {
    let stores: TestStores;
    let dir: string;
    let queue: SqliteInboxQueue;
    let clock: ManualClock;
    let ctx: SluiceContext;
    const headers = { 'content-type': 'application/json', host: 'localhost' };

    beforeEach(async () => {
      stores = await makeStores(kind);
      dir = await mkdtemp(join(tmpdir(), 'sluice-inbox-'));
      clock = new ManualClock(Date.now());
      // The embedded queue on the same clock: the retry arrives `late` ms after the first.
      queue = new SqliteInboxQueue(join(dir, 'inbox.sqlite'), { clock });
      ctx = createContext(stores, { inbox: queue, env: {}, clock });
      await ctx.topics.create('events', 1);
    });
    afterEach(async () => {
      queue.close();
      await rm(dir, { recursive: true, force: true });
      await stores.cleanup();
    });

    const post = (body: unknown) =>
      createHandlers(ctx).produce(
        toEvent({
          method: 'POST',
          url: '/v1/inbox',
          headers,
          body: new TextEncoder().encode(JSON.stringify(body)),
        }),
      );

    async function drain(batcher: InboxBatcher): Promise<void> {
      for (let i = 0; i < 5; i++)
        if (!(await drainOnce(queue, batcher, { windowMs: 0, holdBackMs: 0 }))) return;
    }

    it.each(LATE)('a request sent again %i ms later lands once', async (late) => {
      const at = clock.now();
      const requests = [
        {
          topic: 'events',
          records: [{ value: 'first' }],
          producer: { id: '7', epoch: 0, sequences: { 0: 0 } },
          at,
        },
        { topic: 'events', records: [{ value: 'event' }], eventId: 'e-1', at },
      ];
      const batcher = new InboxBatcher(ctx);
      for (const r of requests) expect((await post(r)).statusCode).toBe(202);
      await drain(batcher);
      expect((await log(ctx)).sort()).toEqual(['event', 'first']);
      clock.advance(late);
      for (const r of requests) expect((await post(r)).statusCode).toBe(202);
      await drain(batcher);
      expect((await log(ctx)).sort()).toEqual(['event', 'first']);
    });

    it('refuses an at that is not an integer; takes one from a clock off by more than the skew as the horizon start', async () => {
      const now = clock.now();
      for (const at of [now + 0.5, -1, String(now)]) {
        const res = await post({ topic: 'events', records: [{ value: 'x' }], eventId: 'bad', at });
        expect(res.statusCode).toBe(400);
        expect(JSON.parse(res.body!)).toMatchObject({ error: { code: 'INVALID_REQUEST' } });
      }
      expect(await queue.receive(10)).toEqual([]);
      // At the edges it is taken as it is; beyond them (a clock ahead, or behind by more than
      // the horizon) as the horizon's start: the batcher then reads the whole horizon for it.
      const cases = [
        [now + INBOX_SKEW_MS, now + INBOX_SKEW_MS],
        [now - INBOX_RETRY_HORIZON_MS, now - INBOX_RETRY_HORIZON_MS],
        [now + INBOX_SKEW_MS + 1, now - INBOX_RETRY_HORIZON_MS],
        [now - INBOX_RETRY_HORIZON_MS - 1, now - INBOX_RETRY_HORIZON_MS],
      ];
      for (const [i, [at]] of cases.entries()) {
        expect(
          (await post({ topic: 'events', records: [{ value: 'x' }], eventId: `e${i}`, at })).statusCode,
        ).toBe(202);
      }
      const got = await queue.receive(10);
      expect(got.map((d) => JSON.parse(d.body).at).sort()).toEqual(cases.map(([, taken]) => taken).sort());
    });
  },
);
