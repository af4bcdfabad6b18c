/**
 * The subscription dispatcher on the real adapters — files + SQLite and S3 + DynamoDB on the
 * emulator: at-least-once, in-order delivery to a target that fails at random (seeded), an
 * exact failure destination, bisection, record age, a dispatcher killed mid-batch, a deposed
 * dispatcher's late commit, pause and resume, the starting position.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { seededRandom } from '../../core/clock.js';
import { describeGroup } from '../../core/groups/describe.js';
import { keys } from '../../core/keys.js';
import type { InvokeOutcome } from '../../core/subscriptions/index.js';
import { makeStores, type StoreKind, type TestStores } from '../helpers/stores.js';
import { type Invocation, type World, world } from './world.js';

let stores: TestStores | undefined;
afterEach(async () => {
  await stores?.cleanup();
  stores = undefined;
});

async function setup(kind: StoreKind, seed = 1): Promise<World> {
  stores = await makeStores(kind);
  return world(stores, seed);
}

async function committed(w: World, group: string, topic: string, partition: number) {
  return (await w.meta.get(keys.committed(group, topic, partition)))?.data.offset;
}

/** The offsets an invocation acknowledged: all of them, or those before the first reported failure. */
function acknowledged(inv: Invocation): number[] {
  if (!inv.outcome.ok) return [];
  const failures = (inv.outcome.response as { batchItemFailures?: { itemIdentifier: string }[] } | null)
    ?.batchItemFailures;
  if (!failures?.length) return inv.offsets;
  const first = Math.min(...failures.map((f) => Number(f.itemIdentifier.split('@')[1])));
  return inv.offsets.filter((o) => o < first);
}

/** The first offset an invocation failed on, if it failed. */
function firstFailing(inv: Invocation): number | undefined {
  const ok = acknowledged(inv);
  return ok.length === inv.offsets.length ? undefined : inv.offsets[ok.length];
}

for (const kind of ['sqlite', 'aws'] as const) {
  describe(`subscription dispatcher on ${kind}`, () => {
    it('delivers every record at least once and in order to a target failing at random; the DLQ holds exactly the exhausted records', async () => {
      const w = await setup(kind);
      await w.topics.create('orders', 2);
      const n = kind === 'aws' ? 24 : 120;
      for (let p = 0; p < 2; p++) {
        await w.produce('orders', p, n / 2, 'a');
        await w.produce('orders', p, n / 2, 'b');
      }
      await w.subs.create({
        name: 'billing',
        topic: 'orders',
        target: 'fn',
        startingPosition: 'earliest',
        batchSize: 7,
        maxRetryAttempts: 2,
        reportBatchItemFailures: true,
        onFailure: 'dlq',
      });
      const random = seededRandom(7);
      w.setBehaviour((offsets, partition): InvokeOutcome => {
        const roll = random();
        if (roll < 0.3) return { ok: false, error: 'boom' };
        if (roll < 0.6) {
          const at = offsets[Math.floor(random() * offsets.length)]!;
          return {
            ok: true,
            response: { batchItemFailures: [{ itemIdentifier: `orders-${partition}@${at}` }] },
          };
        }
        return { ok: true, response: {} };
      });
      const d = w.dispatcher('d1');
      const results = await Promise.all([d.dispatch('billing', 0), d.dispatch('billing', 1)]);
      expect(results.map((r) => r.status)).toEqual(['caught-up', 'caught-up']);

      expect(w.dlq.length).toBeGreaterThan(0);
      for (let p = 0; p < 2; p++) {
        const invs = w.invocations.filter((i) => i.partition === p);
        // Every invocation is a contiguous ascending run starting where the previous
        // acknowledged (or given-up) records end: in order, one batch in flight.
        const done: number[] = [];
        const dlq = w.dlq.filter((f) => f.partition === p);
        for (const inv of invs) {
          for (let i = 1; i < inv.offsets.length; i++) expect(inv.offsets[i]).toBe(inv.offsets[i - 1]! + 1);
          done.push(...acknowledged(inv));
        }
        const given = dlq.flatMap((f) =>
          Array.from({ length: f.endOffset - f.startOffset + 1 }, (_, i) => f.startOffset + i),
        );
        expect([...done, ...given].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
        expect(new Set(done).size).toBe(done.length);
        // Acknowledged records come in order.
        expect(done).toEqual([...done].sort((a, b) => a - b));
        // Each DLQ entry is a run whose first record failed exactly maxRetryAttempts + 1 times
        // and whose records were never acknowledged.
        for (const f of dlq) {
          expect(f).toMatchObject({ topic: 'orders', condition: 'RetryAttemptsExhausted', attempts: 3 });
          expect(invs.filter((i) => firstFailing(i) === f.startOffset)).toHaveLength(3);
        }
        expect(await committed(w, 'sluice-subscription-billing', 'orders', p)).toBe(n);
      }
      // The subscription is a consumer group: its lag is visible there.
      const group = await describeGroup(
        {
          meta: w.meta,
          topics: { partitionCount: async () => 2, highWatermarks: async () => [n, n] },
          now: () => w.clock.now(),
        },
        'sluice-subscription-billing',
      );
      expect(group.lag.map((l) => l.lag)).toEqual([0, 0]);
    });

    it('bisects a failing batch down to the poison record and sends only it to the DLQ', async () => {
      const w = await setup(kind);
      await w.topics.create('t', 1);
      await w.produce('t', 0, 16);
      await w.subs.create({
        name: 's',
        topic: 't',
        target: 'fn',
        startingPosition: 'earliest',
        batchSize: 16,
        maxRetryAttempts: 1,
        bisectBatchOnFunctionError: true,
        onFailure: 'dlq',
      });
      w.setBehaviour((offsets) =>
        offsets.includes(11) ? { ok: false, error: 'poison' } : { ok: true, response: null },
      );
      const r = await w.dispatcher('d').dispatch('s', 0);
      expect(r).toMatchObject({ status: 'caught-up', committed: 16, delivered: 15, failed: 1 });
      expect(w.dlq).toEqual([
        expect.objectContaining({
          startOffset: 11,
          endOffset: 11,
          recordCount: 1,
          error: 'poison',
          attempts: 2,
        }),
      ]);
      const ok = w.invocations.filter((i) => i.outcome.ok).flatMap((i) => i.offsets);
      expect(ok).toEqual([...Array(16).keys()].filter((o) => o !== 11));
    });

    it('resumes after a dispatcher killed mid-batch, and refuses the deposed dispatcher’s late commit', async () => {
      const w = await setup(kind);
      await w.topics.create('t', 1);
      await w.produce('t', 0, 10);
      await w.subs.create({
        name: 's',
        topic: 't',
        target: 'fn',
        startingPosition: 'earliest',
        batchSize: 4,
      });
      let release!: () => void;
      const hung = new Promise<void>((r) => {
        release = r;
      });
      let calls = 0;
      w.setBehaviour(async () => {
        calls++;
        if (calls === 2) await hung; // A's second batch never returns (until we say so)
        return { ok: true, response: null };
      });
      const a = w.dispatcher('a').dispatch('s', 0);
      while (calls < 2) await new Promise((r) => setTimeout(r, 5));
      expect(await committed(w, 'sluice-subscription-s', 't', 0)).toBe(4);
      // A looks dead: another dispatcher waits out its lease and takes over.
      expect((await w.dispatcher('b').dispatch('s', 0)).status).toBe('busy');
      w.clock.advance(60_001);
      const b = await w.dispatcher('b').dispatch('s', 0);
      expect(b).toMatchObject({ status: 'caught-up', committed: 10 });
      release();
      expect((await a).status).toBe('deposed');
      expect(await committed(w, 'sluice-subscription-s', 't', 0)).toBe(10);
      // B started again at A's in-flight batch: at least once, never out of order.
      expect(w.invocations.map((i) => i.offsets)).toEqual([
        [0, 1, 2, 3],
        [4, 5, 6, 7],
        [8, 9],
        [4, 5, 6, 7],
      ]);
    });

    it('delivers nothing while paused and resumes where it stopped', async () => {
      const w = await setup(kind);
      await w.topics.create('t', 1);
      await w.subs.create({ name: 's', topic: 't', target: 'fn', batchSize: 3 });
      await w.produce('t', 0, 5);
      w.setBehaviour(async (offsets) => {
        if (offsets.includes(4)) await w.subs.update('s', { enabled: false });
        return { ok: true, response: null };
      });
      expect((await w.dispatcher('d').dispatch('s', 0)).status).toBe('paused');
      expect(w.invocations.map((i) => i.offsets)).toEqual([
        [0, 1, 2],
        [3, 4],
      ]);
      await w.produce('t', 0, 3);
      expect((await w.dispatcher('d').dispatch('s', 0)).status).toBe('paused');
      expect(w.invocations).toHaveLength(2);
      expect(await committed(w, 'sluice-subscription-s', 't', 0)).toBe(5);
      await w.subs.update('s', { enabled: true });
      expect((await w.dispatcher('d').dispatch('s', 0)).status).toBe('caught-up');
      expect(w.invocations.map((i) => i.offsets).at(-1)).toEqual([5, 6, 7]);
    });

    it('delivers only records matching the filters and commits past the others', async () => {
      const w = await setup(kind);
      await w.topics.create('t', 1);
      await w.produce('t', 0, 3, 'a'); // 0-2
      await w.produce('t', 0, 3, 'b'); // 3-5
      await w.produce('t', 0, 3, 'a'); // 6-8
      await w.produce('t', 0, 2, 'b'); // 9-10
      await w.subs.create({
        name: 's',
        topic: 't',
        target: 'fn',
        startingPosition: 'earliest',
        batchSize: 4,
        reportBatchItemFailures: true,
        filters: [{ pattern: JSON.stringify({ value: [{ prefix: 'a' }] }) }],
      });
      let failed = false;
      w.setBehaviour((offsets) => {
        if (!failed && offsets.includes(7)) {
          failed = true;
          return { ok: true, response: { batchItemFailures: [{ itemIdentifier: 't-0@7' }] } };
        }
        return { ok: true, response: null };
      });
      const r = await w.dispatcher('d').dispatch('s', 0);
      expect(r).toMatchObject({ status: 'caught-up', committed: 11, delivered: 6 });
      // [4, 5] and [9, 10] are filtered out: never invoked, committed past; 7 is retried alone.
      expect(w.invocations.map((i) => i.offsets)).toEqual([[0, 1, 2], [6, 7], [7], [8]]);
      expect(await committed(w, 'sluice-subscription-s', 't', 0)).toBe(11);

      // A batch with no matching record costs no invocation.
      await w.produce('t', 0, 4, 'b');
      expect(await w.dispatcher('d').dispatch('s', 0)).toMatchObject({ committed: 15, invocations: 0 });
    });

    it('starts a topic re-created under its name from its beginning: offsets of the deleted one are none (docs/design.md "Topic incarnations")', async () => {
      const w = await setup(kind);
      await w.topics.create('t', 1);
      await w.produce('t', 0, 4, 'old');
      // One subscription dispatched to the end, one created at latest and never dispatched.
      await w.subs.create({ name: 'busy', topic: 't', target: 'fn', startingPosition: 'earliest' });
      expect((await w.dispatcher('d').dispatch('busy', 0)).committed).toBe(4);
      await w.subs.create({ name: 'idle', topic: 't', target: 'fn' });
      expect(await committed(w, 'sluice-subscription-idle', 't', 0)).toBe(4);

      await w.topics.delete('t');
      await w.topics.create('t', 1);
      await w.produce('t', 0, 6, 'new');
      w.invocations.length = 0;
      for (const name of ['busy', 'idle']) {
        expect(await w.dispatcher('d').dispatch(name, 0)).toMatchObject({
          status: 'caught-up',
          committed: 6,
        });
      }
      expect(w.invocations.flatMap((i) => i.offsets)).toEqual([0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4, 5]);
    });

    it('starts at latest by default and sends records past maxRecordAgeMs to the DLQ', async () => {
      const w = await setup(kind);
      await w.topics.create('t', 1);
      await w.produce('t', 0, 3, 'before');
      await w.subs.create({ name: 's', topic: 't', target: 'fn', maxRecordAgeMs: 60_000, onFailure: 'dlq' });
      const now = w.clock.now();
      await w.produce('t', 0, 2, 'old', now - 120_000);
      await w.produce('t', 0, 2, 'new', now);
      const r = await w.dispatcher('d').dispatch('s', 0);
      expect(r).toMatchObject({ status: 'caught-up', committed: 7, delivered: 2, failed: 2 });
      expect(w.dlq).toEqual([
        expect.objectContaining({
          startOffset: 3,
          endOffset: 4,
          condition: 'RecordAgeExceeded',
          attempts: 0,
        }),
      ]);
      expect(w.invocations.map((i) => i.offsets)).toEqual([[5, 6]]);
    });
  });
}
