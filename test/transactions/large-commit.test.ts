/**
 * Large commits (DESIGN.md §13): a transaction over 120 partitions commits in steps —
 * markers, one commit point, one apply per partition, the end — and a crash is injected
 * after every step, on the embedded store and on moto. Readers, at any step and after the
 * crash, see all of the transaction or none of it (records of every partition and the group
 * offset together); whoever touches it next (a reader, a retried commit, an init, the
 * maintenance sweep) completes it if it passed its commit point, or leaves nothing visible.
 * A fenced zombie can neither mark heads nor roll its transaction forward.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SluiceError, UnavailableError } from '../../core/errors.js';
import { Reader } from '../../core/fetch.js';
import { keys } from '../../core/keys.js';
import { ConflictError } from '../../core/ports.js';
import {
  type CommitStep,
  decodeState,
  finishCommit,
  prepareHeads,
  TransactionCoordinator,
} from '../../core/transactions/index.js';
import { records, run } from '../helpers/engine.js';
import { makeStores, type TestStores } from '../helpers/stores.js';
import { type TxEngine, txEngine } from '../helpers/transactions.js';

const TIMEOUT = 1000;

class Crash extends Error {}

// The embedded store commits at DynamoDB's real 100-item limit; moto is slow for 120
// partitions per run, so there the coordinator is told a 10-item limit (same protocol, same
// code paths) — coordinator.test.ts commits 120 partitions at the real limit on moto too.
describe.each([
  ['sqlite', 20, 120, undefined],
  ['aws', 4, 12, 10],
] as const)('large commits on %s', (kind, runs, WIDE, maxTransactItems) => {
  let stores: TestStores;
  let e: TxEngine;
  beforeAll(async () => {
    stores = await makeStores(kind);
    e = txEngine(stores);
    await e.topics.create('in', 1);
    await e.appender.append([run('in', 0, records(10))]);
  });
  afterAll(async () => stores?.cleanup());

  /** All or nothing: every partition holds the transaction's record, and the group its offset, or none does. */
  async function visible(topic: string, group: string): Promise<boolean> {
    const hw = await e.reader.highWatermarks(
      topic,
      Array.from({ length: WIDE }, (_, p) => p),
    );
    const offsets = await e.groups.fetchOffsets(group).then(
      (o) => o.offsets,
      () => [],
    );
    const all = hw.every((h) => h === 1);
    const none = hw.every((h) => h === 0);
    expect(all || none, `partial: ${hw.join(',')}`).toBe(true);
    expect(offsets.length === 1, 'offset and records together').toBe(all);
    return all;
  }

  let n = 0;
  it('is all or nothing for readers with a crash after any step, and completes or vanishes after', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: WIDE + 3 }), // crash after this step (WIDE + 3: no crash)
        fc.integer({ min: 0, max: WIDE + 2 }), // a reader reads one partition after this step
        fc.integer({ min: 0, max: WIDE - 1 }),
        fc.constantFrom('read', 'retry', 'init', 'maintenance'),
        async (crashAt, readAt, readPartition, recovery) => {
          const i = n++;
          const [topic, id, group] = [`w${i}`, `c${i}`, `g${i}`];
          await e.topics.create(topic, WIDE);
          let step = -1;
          let passed = false;
          const tx = new TransactionCoordinator({
            meta: e.meta,
            appender: e.appender,
            topicView: e.topicView,
            clock: e.clock,
            random: e.random,
            maxTransactItems,
            onCommitStep: async (s: CommitStep) => {
              step++;
              if (s === 'committed') passed = true;
              if (step === readAt) {
                // A concurrent reader of one partition rolls only it forward, or reads as before.
                const got = (await e.readAll(topic, readPartition)).map((r) => r.value);
                expect(got).toEqual(passed ? ['v0'] : []);
              }
              if (step === crashAt) throw new Crash(`after ${s}`);
            },
          });
          const p = await tx.init(id, { timeoutMs: TIMEOUT });
          await tx.send(
            id,
            p,
            p.transaction,
            0,
            Array.from({ length: WIDE }, (_, k) => run(topic, k, records(1))),
          );
          await tx.sendOffsets(id, p, p.transaction, 1, {
            groupId: group,
            offsets: [{ topic: 'in', partition: 0, offset: 7 }],
          });
          const crashed = await tx.commit(id, p, p.transaction).then(
            () => false,
            (err) => {
              if (!(err instanceof Crash)) throw err;
              return true;
            },
          );
          expect(crashed).toBe(crashAt < WIDE + 3);
          expect(await visible(topic, group)).toBe(passed);
          let expected = passed;
          switch (recovery) {
            case 'read':
              break;
            case 'retry': {
              const again = new TransactionCoordinator({ ...e, topicView: e.topicView, maxTransactItems });
              await again.commit(id, p, p.transaction);
              expected = true;
              break;
            }
            case 'init':
              await e.tx.init(id);
              break;
            case 'maintenance':
              e.clock.advance(TIMEOUT + 1);
              await e.tx.abortExpired();
              break;
          }
          expect(await visible(topic, group)).toBe(expected);
          const state = decodeState((await e.meta.get(keys.transaction(id)))!.data)!;
          if (recovery !== 'read') {
            expect(state.committing).toBeUndefined();
            expect(state.last).toMatchObject({ txn: 0, outcome: expected ? 'committed' : 'aborted' });
          }
          // Every record once, at offset 0.
          expect((await e.readAll(topic, WIDE - 1)).map((r) => [r.offset, r.value])).toEqual(
            expected ? [[0, 'v0']] : [],
          );
          // Readers removed or applied every marker once the transaction is over.
          if (recovery !== 'read' || crashAt >= WIDE + 2) {
            const topicId = (await e.topics.get(topic)).id;
            const heads = await e.meta.batchGet(
              Array.from({ length: WIDE }, (_, k) => keys.head(topicId, k)),
            );
            expect(heads.filter((h) => h?.data.x && Object.keys(h.data.x).length > 0)).toEqual([]);
          }
        },
      ),
      { numRuns: runs, seed: kind === 'aws' ? 151 : 15 },
    );
  }, 120_000);

  it('a read-only reader (the fetch function) writes nothing: before the commit point it reads as before, after it answers UNAVAILABLE until a writer rolls forward', async () => {
    for (const crashAfter of ['prepared', 'committed'] as const) {
      const topic = `ro-${crashAfter}`;
      const id = `ro-${crashAfter}`;
      await e.topics.create(topic, WIDE);
      const tx = new TransactionCoordinator({
        ...e,
        topicView: e.topicView,
        maxTransactItems,
        onCommitStep: (s) => {
          if (s === crashAfter) throw new Crash(s);
        },
      });
      const p = await tx.init(id);
      await tx.send(
        id,
        p,
        0,
        0,
        Array.from({ length: WIDE }, (_, k) => run(topic, k, records(1))),
      );
      await expect(tx.commit(id, p, 0)).rejects.toBeInstanceOf(Crash);
      const readOnly = new Reader({ ...e, readOnly: true });
      const all = Array.from({ length: WIDE }, (_, k) => k);
      const topicId = (await e.topics.get(topic)).id;
      const marked = async () =>
        (await e.meta.batchGet(all.map((k) => keys.head(topicId, k)))).filter(
          (h) => (h?.data.x as Record<string, number> | undefined)?.[id] !== undefined,
        ).length;
      if (crashAfter === 'prepared') {
        expect(await readOnly.highWatermarks(topic, all)).toEqual(Array(WIDE).fill(0));
      } else {
        await expect(readOnly.highWatermarks(topic, all)).rejects.toBeInstanceOf(UnavailableError);
        await expect(readOnly.fetchBatches(topic, 0, 0)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      }
      expect(await marked()).toBe(WIDE); // it wrote nothing
      await e.tx.abortExpired(); // the maintenance sweep: rolls a committing transaction forward
      if (crashAfter === 'committed') {
        expect(await readOnly.highWatermarks(topic, all)).toEqual(Array(WIDE).fill(1));
        expect(await marked()).toBe(0);
      }
    }
  });

  it('fences a zombie: it can neither mark heads nor roll its transaction forward', async () => {
    await e.topics.create('z', WIDE);
    let crash = true;
    const zombieSide = new TransactionCoordinator({
      ...e,
      topicView: e.topicView,
      maxTransactItems,
      onCommitStep: (s) => {
        if (crash && s === 'prepared') throw new Crash('zombie stalls after marking');
      },
    });
    const zombie = await zombieSide.init('zid');
    await zombieSide.send(
      'zid',
      zombie,
      0,
      0,
      Array.from({ length: WIDE }, (_, k) => run('z', k, records(1))),
    );
    const before = (await e.meta.get(keys.transaction('zid')))!;
    await expect(zombieSide.commit('zid', zombie, 0)).rejects.toBeInstanceOf(Crash);
    // A new producer takes the id: the zombie's transaction is aborted.
    const fresh = await e.tx.init('zid');
    expect(fresh.epoch).toBe(1);
    crash = false;
    await expect(zombieSide.commit('zid', zombie, 0)).rejects.toMatchObject({
      code: 'INVALID_PRODUCER_EPOCH',
    });
    expect(await finishCommit(e, 'zid')).toBeUndefined();
    // Its markers from before are stale: readers see nothing and drop them.
    expect(
      await e.reader.highWatermarks(
        'z',
        Array.from({ length: WIDE }, (_, k) => k),
      ),
    ).toEqual(Array(WIDE).fill(0));
    // Marking again with what it read before the fence is refused by the transaction item's check.
    const err = await prepareHeads(
      e.meta,
      e.clock,
      'zid',
      before,
      decodeState(before.data)!,
      maxTransactItems,
    ).catch((x) => x);
    expect(err).toBeInstanceOf(ConflictError);
    const zId = (await e.topics.get('z')).id;
    const heads = await e.meta.batchGet(Array.from({ length: WIDE }, (_, k) => keys.head(zId, k)));
    expect(heads.filter((h) => h?.data.x && Object.keys(h.data.x).length > 0)).toEqual([]);
    expect(await e.readAll('z', 0)).toEqual([]);
    expect(err instanceof SluiceError).toBe(false);
  });
});
