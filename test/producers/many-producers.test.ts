/**
 * Producer dedup state off the partition head (docs/design.md, "Producer state off the
 * partition head"): a commit's DynamoDB cost does not grow with the number of producers
 * that wrote to the partition, and every producer's retry is still recognised.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headFromItem } from '../../core/heads.js';
import { keys } from '../../core/keys.js';
import { Meter, MeteredMetaStore, MeteredObjectStore } from '../../storage/metered.js';
import { engine, records, run } from '../helpers/engine.js';
import { makeStores, type StoreKind, type TestStores } from '../helpers/stores.js';

// 5,000 producers in memory; fewer on files + SQLite (an fsync a commit) and on the
// emulator (~10 ms a transaction): the layout is the same, only the count differs.
const CASES: [StoreKind, number][] = [
  ['memory', 5000],
  ['sqlite', 400],
  ['aws', 40],
];

describe.each(CASES)('producer state on %s with %i producers', (kind, producers) => {
  let stores: TestStores;
  beforeAll(async () => {
    stores = await makeStores(kind);
  });
  afterAll(async () => stores.cleanup());

  it('keeps every commit at or under 8 WCU and recognises a retry of the first producer', {
    timeout: 300_000,
  }, async () => {
    const meter = new Meter();
    const metered = {
      meta: new MeteredMetaStore(stores.meta, meter),
      objects: new MeteredObjectStore(stores.objects, meter),
    };
    const e = engine(metered);
    const t = await e.topics.create('small-writers', 1);
    // Each producer sends one 1 KiB record (sequence 0), as a Lambda function per event.
    const value = 'x'.repeat(1024);
    const first = run('small-writers', 0, records(1, { prefix: value }), { id: 1n, epoch: 0, seq: 0 });
    meter.reset();
    let maxWcu = 0;
    const firstResult = await e.appender.append([first]);
    for (let id = 2; id <= producers; id++) {
      const before = meter.snapshot().dynamo.wcu;
      await e.appender.append([
        run('small-writers', 0, records(1, { prefix: value }), { id: BigInt(id), epoch: 0, seq: 0 }),
      ]);
      maxWcu = Math.max(maxWcu, meter.snapshot().dynamo.wcu - before);
    }
    expect(maxWcu).toBeLessThanOrEqual(8);
    // One writer: no extra reads in steady state (heads and producer items come from commits).
    const counts = meter.snapshot();
    expect(counts.dynamo.transact).toBe(producers);
    expect(counts.dynamo.get + counts.dynamo.batchGet).toBe(0);

    // The head stays small: it carries at most the producers of its slots.
    const head = headFromItem(await stores.meta.get(keys.head(t.id, 0)));
    expect(Object.keys(head.data.p).length).toBeLessThanOrEqual(2);
    expect(head.data.next).toBe(producers);

    // The first producer retries (its ack was lost), through this instance and a fresh one.
    const [again] = await e.appender.append([first]);
    expect(again).toMatchObject({ baseOffset: firstResult[0]!.baseOffset, duplicate: true });
    const fresh = engine({ meta: stores.meta, objects: stores.objects }, 2);
    const [retry] = await fresh.appender.append([first]);
    expect(retry).toMatchObject({ baseOffset: 0, duplicate: true });
    // A producer whose state is in an item of its own, retried by a fresh instance.
    const late = run('small-writers', 0, records(1, { prefix: value }), { id: 3n, epoch: 0, seq: 0 });
    const [lateRetry] = await fresh.appender.append([late]);
    expect(lateRetry).toMatchObject({ baseOffset: 2, duplicate: true });
    const midId = BigInt(Math.floor(producers / 2));
    const mid = run('small-writers', 0, records(1, { prefix: value }), { id: midId, epoch: 0, seq: 0 });
    const [midRetry] = await fresh.appender.append([mid]);
    expect(midRetry).toMatchObject({ baseOffset: Number(midId) - 1, duplicate: true });
    // Nothing was appended twice; the next sequence of producer 3 is accepted after its item.
    const [next] = await fresh.appender.append([
      run('small-writers', 0, records(1), { id: 3n, epoch: 0, seq: 1 }),
    ]);
    expect(next).toMatchObject({ baseOffset: producers, duplicate: false });
    const skipped = await fresh.appender
      .append([run('small-writers', 0, records(1), { id: 4n, epoch: 0, seq: 5 })])
      .catch((err: unknown) => err);
    expect(skipped).toMatchObject({ code: 'OUT_OF_ORDER_SEQUENCE_NUMBER' });
  });

  it('one busy producer costs what it did: 6 WCU a commit, its state on the head', async () => {
    const meter = new Meter();
    const e = engine(
      {
        meta: new MeteredMetaStore(stores.meta, meter),
        objects: new MeteredObjectStore(stores.objects, meter),
      },
      3,
    );
    await e.topics.create('busy', 1);
    meter.reset();
    for (let seq = 0; seq < 20; seq++) {
      await e.appender.append([run('busy', 0, records(5), { id: 99_999n, epoch: 0, seq: seq * 5 })]);
    }
    const d = meter.snapshot().dynamo;
    expect(d.transact).toBe(20);
    // The first commit also checks that the producer has no item of its own (2 WCU more).
    expect(d.wcu).toBe(20 * 6 + 2);
  });
});
