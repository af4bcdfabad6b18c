/**
 * The acks=1 inbox and its batcher on the embedded store + embedded queue and on moto
 * (S3 + DynamoDB + SQS): every event lands in the log exactly once and in producer order,
 * through redeliveries, sender retries, crashes before and after the commit, reordering
 * and concurrent batchers; request counts from the metered adapters.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InboxBatcher } from '../../core/inbox/batcher.js';
import { drainOnce } from '../../core/inbox/drain.js';
import { encodeInboxMessage, type InboxMessage } from '../../core/inbox/message.js';
import type { InboxQueue } from '../../core/inbox/queue.js';
import { Meter, MeteredMetaStore, MeteredObjectStore } from '../../storage/metered.js';
import { type Engine, engine } from '../helpers/engine.js';
import { makeStores, type StoreKind, type TestStores } from '../helpers/stores.js';
import { makeQueue, type TestQueue } from './queues.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

function message(
  value: string,
  producer?: { id: string; seq: number; prevAt?: number },
  partition = 0,
): string {
  const m: InboxMessage = {
    v: 1,
    topic: 'events',
    partition,
    records: [{ v: b64(value), ts: 1000 }],
    ...(producer && { producer: { id: producer.id, epoch: 0, seq: producer.seq, prevAt: producer.prevAt } }),
  };
  return encodeInboxMessage(m);
}

async function values(e: Engine, partition = 0): Promise<string[]> {
  const out: string[] = [];
  let offset = 0;
  for (;;) {
    const r = await e.reader.fetchRecords('events', partition, offset, { maxBytes: 1 << 20 });
    out.push(...r.records.map((x) => Buffer.from(x.value!).toString()));
    if (r.nextOffset >= r.highWatermark) return out;
    offset = r.nextOffset;
  }
}

const CASES: [StoreKind, 'embedded' | 'sqs'][] = [
  ['sqlite', 'embedded'],
  ['aws', 'sqs'],
];

describe.each(CASES)('inbox on %s with the %s queue', (kind, queueKind) => {
  let stores: TestStores;
  let q: TestQueue;
  let queue: InboxQueue;
  let meter: Meter;
  let e: Engine;
  let batcher: InboxBatcher;

  beforeEach(async () => {
    stores = await makeStores(kind);
    q = await makeQueue(queueKind);
    queue = q.queue;
    meter = new Meter();
    e = engine({
      meta: new MeteredMetaStore(stores.meta, meter),
      objects: new MeteredObjectStore(stores.objects, meter),
    });
    await e.topics.create('events', 2);
    batcher = new InboxBatcher(e);
  });
  afterEach(async () => {
    await q.cleanup();
    await stores.cleanup();
  });

  async function drainAll(b = batcher): Promise<void> {
    for (let i = 0; i < 20; i++) if (!(await drainOnce(queue, b, { windowMs: 0, holdBackMs: 0 }))) return;
  }

  it('commits a batch of many producers as one object and one transaction, once each, in order', async () => {
    const bodies: string[] = [];
    for (let seq = 0; seq < 4; seq++)
      for (const id of ['1', '2', '3']) bodies.push(message(`p${id}-${seq}`, { id, seq }));
    bodies.push(message('loose-a'), message('loose-b'));
    await queue.send(bodies);
    meter.reset();
    const outcome = await drainOnce(queue, batcher, { windowMs: 0 });
    expect(outcome?.committed.length).toBe(14);
    // One S3 PUT and one transaction (head, index, registry, ledger, tail) for the batch.
    const counts = meter.snapshot();
    expect(counts.s3.put).toBe(1);
    expect(counts.dynamo.transact).toBe(1);
    expect(counts.dynamo.writeItems).toBe(5);
    const log = await values(e);
    expect(log).toHaveLength(14);
    for (const id of ['1', '2', '3']) {
      expect(log.filter((v) => v.startsWith(`p${id}-`))).toEqual([0, 1, 2, 3].map((s) => `p${id}-${s}`));
    }
    expect(await queue.receive(10)).toEqual([]);
  });

  it('a redelivery after a crash after the commit is recognised and appended nothing', async () => {
    await queue.send([message('a', { id: '7', seq: 0 }), message('b', { id: '7', seq: 1 }), message('c')]);
    const got = [...(await queue.receive(10)), ...(await queue.receive(10))];
    expect(got).toHaveLength(3);
    await batcher.commit(got); // crash: committed, never deleted
    await queue.release(
      got.map((d) => d.receipt),
      0,
    ); // the visibility timeout passes
    // A new batcher instance (no caches) drains the redelivery.
    const fresh = new InboxBatcher(engine({ meta: stores.meta, objects: stores.objects }, 5));
    const outcome = await drainOnce(queue, fresh, { windowMs: 0 });
    expect(outcome?.duplicates.length).toBe(3);
    expect(outcome?.committed.length).toBe(0);
    expect(await values(e)).toEqual(['a', 'b', 'c']);
    expect(await queue.receive(10)).toEqual([]);
  });

  it('a batch whose ids outgrow one ledger item writes several, all read back as duplicates', async () => {
    // Ids like `events/0/11.0.0` (15 bytes + 3): 5 to a 100-byte ledger item.
    const small = new InboxBatcher(e, { ledgerItemBytes: 100 });
    await queue.send(Array.from({ length: 12 }, (_, i) => message(`v${i}`, { id: String(11 + i), seq: 0 })));
    const got: Awaited<ReturnType<InboxQueue['receive']>> = [];
    for (let i = 0; i < 5 && got.length < 12; i++) got.push(...(await queue.receive(10)));
    expect(got).toHaveLength(12);
    meter.reset();
    const first = await small.commit(got);
    expect(first.committed).toHaveLength(12);
    const counts = meter.snapshot();
    expect(counts.dynamo.transact).toBe(1);
    // head, index, registry, tail and three ledger items (5 + 5 + 2 ids).
    expect(counts.dynamo.writeItems).toBe(7);
    // The redelivery (a crash before the delete), decided by a fresh instance from the ledger.
    const fresh = new InboxBatcher(engine({ meta: stores.meta, objects: stores.objects }, 5), {
      ledgerItemBytes: 100,
    });
    const again = await fresh.commit(got);
    expect(again.duplicates).toHaveLength(12);
    expect(again.committed).toHaveLength(0);
    expect((await values(e)).sort()).toEqual(Array.from({ length: 12 }, (_, i) => `v${i}`).sort());
  });

  it('a crash before the commit loses nothing: the redelivery is committed once', async () => {
    await queue.send([message('a', { id: '8', seq: 0 }), message('b', { id: '8', seq: 1 })]);
    const got = await queue.receive(10);
    expect(got.length).toBeGreaterThan(0);
    await queue.release(
      got.map((d) => d.receipt),
      0,
    ); // crashed before committing
    await drainAll();
    expect(await values(e)).toEqual(['a', 'b']);
  });

  it('a sender retry (same producer sequence sent twice) lands once', async () => {
    await queue.send([message('x', { id: '9', seq: 0 })]);
    await drainAll();
    await queue.send([message('x', { id: '9', seq: 0 }), message('y', { id: '9', seq: 1 })]);
    await drainAll();
    expect(await values(e)).toEqual(['x', 'y']);
  });

  it('holds a message back until its predecessor is committed', async () => {
    // The queue delivers a producer's second message before its first.
    const now = e.clock.now();
    await queue.send([message('r1', { id: '12', seq: 1, prevAt: now })]);
    const got = (await queue.receive(10)).filter((d) => d.body.includes('"12"'));
    const outcome = await batcher.commit(got);
    expect(outcome.heldBack.length).toBe(1);
    await queue.release(
      outcome.heldBack.map((d) => d.receipt),
      0,
    );
    await queue.send([message('r0', { id: '12', seq: 0 })]);
    await drainAll();
    const log = await values(e);
    expect(log.filter((v) => v.startsWith('r'))).toEqual(['r0', 'r1']);
  });

  it('two batchers draining the same deliveries concurrently commit each event once', async () => {
    await queue.send(Array.from({ length: 6 }, (_, i) => message(`c${i}`, { id: '20', seq: i })));
    const got: Awaited<ReturnType<InboxQueue['receive']>> = [];
    for (let i = 0; i < 5 && got.length < 6; i++) got.push(...(await queue.receive(10)));
    const other = new InboxBatcher(engine({ meta: stores.meta, objects: stores.objects }, 9));
    const [a, b] = await Promise.all([batcher.commit(got), other.commit(got)]);
    expect(a.committed.length + b.committed.length).toBe(6);
    expect(await values(e)).toEqual([0, 1, 2, 3, 4, 5].map((i) => `c${i}`));
  });

  it('leaves messages that are not inbox messages, or name no partition, to the dead-letter queue', async () => {
    await queue.send(['not json', message('ok'), message('nowhere', undefined, 7)]);
    const got: Awaited<ReturnType<InboxQueue['receive']>> = [];
    for (let i = 0; i < 5 && got.length < 3; i++) got.push(...(await queue.receive(10)));
    const outcome = await batcher.commit(got);
    const invalid = outcome.invalid.map((i) => i.delivery.body).sort();
    expect(invalid).toHaveLength(2);
    expect(invalid[1]).toContain('"partition":7');
    expect(invalid[0]).toBe('not json');
    expect(outcome.invalid.map((i) => i.error).join()).toMatch(/JSON|partition/);
    expect(await values(e)).toEqual(['ok']);
  });
});
