/**
 * Transactions on the embedded store and on moto: staged sends are invisible until the
 * commit, which makes records and group offsets visible at once; aborts, zombies and
 * timeouts leave nothing visible.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SluiceError } from '../../core/errors.js';
import { keys } from '../../core/keys.js';
import { resolveMaintenanceOptions, runMaintenancePass } from '../../core/maintenance/index.js';
import { TransactionCoordinator } from '../../core/transactions/index.js';
import { records, run } from '../helpers/engine.js';
import { makeStores, type TestStores } from '../helpers/stores.js';
import { type TxEngine, txEngine } from '../helpers/transactions.js';

const HOUR = 3_600_000;
const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: unknown) => (e instanceof SluiceError ? e.code : String(e)),
  );

describe.each(['sqlite', 'aws'] as const)('transactions on %s', (kind) => {
  let stores: TestStores;
  let e: TxEngine;
  const setup = async () => {
    stores = await makeStores(kind);
    e = txEngine(stores);
    await e.topics.create('in', 2);
    await e.topics.create('out', 2);
  };
  afterEach(async () => stores?.cleanup());

  it('makes nothing visible before the commit, then records and offsets at once', async () => {
    await setup();
    await e.appender.append([run('in', 0, records(5))]);
    const p = await e.tx.init('copier');
    expect(p.epoch).toBe(0);
    await e.tx.send('copier', p, p.transaction, 0, [run('out', 0, records(3)), run('out', 1, records(2))]);
    await e.tx.send('copier', p, p.transaction, 1, [run('out', 0, records(1, { prefix: 'w' }))]);
    await e.tx.sendOffsets('copier', p, p.transaction, 2, {
      groupId: 'g',
      offsets: [{ topic: 'in', partition: 0, offset: 5 }],
    });
    expect(await e.reader.highWatermarks('out', [0, 1])).toEqual([0, 0]);
    expect((await e.groups.fetchOffsets('g').catch(() => ({ offsets: [] }))).offsets).toEqual([]);
    // A plain append meanwhile takes offsets first; the transaction lands after it.
    await e.appender.append([run('out', 0, records(1, { prefix: 'x' }))]);
    const { partitions } = await e.tx.commit('copier', p, p.transaction);
    expect(partitions).toEqual([
      { topic: 'out', partition: 0, baseOffset: 1, count: 4 },
      { topic: 'out', partition: 1, baseOffset: 0, count: 2 },
    ]);
    expect((await e.readAll('out', 0)).map((r) => r.value)).toEqual(['x0', 'v0', 'v1', 'v2', 'w0']);
    expect((await e.readAll('out', 1)).map((r) => r.value)).toEqual(['v0', 'v1']);
    expect((await e.groups.fetchOffsets('g')).offsets).toEqual([
      { topic: 'in', partition: 0, offset: 5, metadata: null },
    ]);
    // A retried commit answers what it committed; a retried send of it is refused.
    expect((await e.tx.commit('copier', p, p.transaction)).partitions).toEqual(partitions);
    expect(await code(e.tx.send('copier', p, p.transaction, 3, [run('out', 0, records(1))]))).toBe(
      'INVALID_TXN_STATE',
    );
    expect(await code(e.tx.abort('copier', p, p.transaction))).toBe('INVALID_TXN_STATE');
  });

  it('refuses to commit records sent to a topic deleted since, also once it is re-created; the abort goes through (docs/design.md "Topic incarnations")', async () => {
    await setup();
    const p = await e.tx.init('t');
    await e.tx.send('t', p, 0, 0, [run('out', 0, records(2, { prefix: 'old' }))]);
    await e.topics.delete('out');
    await e.topics.create('out', 2);
    await e.appender.append([run('out', 0, records(1, { prefix: 'new' }))]);
    expect(await code(e.tx.commit('t', p, 0))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    // Nothing of the transaction reached the topic of the same name.
    expect((await e.readAll('out', 0)).map((r) => [r.offset, r.value])).toEqual([[0, 'new0']]);
    await e.tx.abort('t', p, 0);
    await e.tx.send('t', p, 1, 0, [run('out', 0, records(1, { prefix: 'next' }))]);
    await e.tx.commit('t', p, 1);
    expect((await e.readAll('out', 0)).map((r) => r.value)).toEqual(['new0', 'next0']);
  });

  it('aborts: nothing visible, the next transaction starts where the log is', async () => {
    await setup();
    const p = await e.tx.init('t');
    await e.tx.send('t', p, 0, 0, [run('out', 0, records(3, { prefix: 'a' }))]);
    await e.tx.abort('t', p, 0);
    await e.tx.abort('t', p, 0); // retried abort
    expect(await code(e.tx.commit('t', p, 0))).toBe('INVALID_TXN_STATE');
    await e.tx.send('t', p, 1, 0, [run('out', 0, records(2, { prefix: 'c' }))]);
    expect((await e.tx.send('t', p, 1, 0, [run('out', 0, records(2, { prefix: 'c' }))])).duplicate).toBe(
      true,
    );
    await e.tx.commit('t', p, 1);
    expect((await e.readAll('out', 0)).map((r) => [r.offset, r.value])).toEqual([
      [0, 'c0'],
      [1, 'c1'],
    ]);
  });

  it('fences a zombie: a new init aborts its open transaction and refuses its sends and commit', async () => {
    await setup();
    const zombie = await e.tx.init('t');
    await e.tx.send('t', zombie, 0, 0, [run('out', 0, records(3, { prefix: 'z' }))]);
    const fresh = await e.tx.init('t');
    expect(fresh).toEqual({ producerId: zombie.producerId, epoch: 1, transaction: 1 });
    expect(await code(e.tx.send('t', zombie, 0, 1, [run('out', 0, records(1))]))).toBe(
      'INVALID_PRODUCER_EPOCH',
    );
    expect(
      await code(
        e.tx.sendOffsets('t', zombie, 0, 1, {
          groupId: 'g',
          offsets: [{ topic: 'in', partition: 0, offset: 0 }],
        }),
      ),
    ).toBe('INVALID_PRODUCER_EPOCH');
    expect(await code(e.tx.commit('t', zombie, 0))).toBe('INVALID_PRODUCER_EPOCH');
    await e.tx.commit('t', fresh, 1);
    expect(await e.readAll('out', 0)).toEqual([]);
  });

  it('aborts a transaction past its timeout and fences its producer', async () => {
    await setup();
    const p = await e.tx.init('t', { timeoutMs: 1000 });
    await e.tx.send('t', p, 0, 0, [run('out', 0, records(2))]);
    e.clock.advance(1001);
    expect(await code(e.tx.commit('t', p, 0))).toBe('INVALID_PRODUCER_EPOCH');
    expect(await e.readAll('out', 0)).toEqual([]);
    // Abandoned: maintenance aborts it.
    const q = await e.tx.init('t', { timeoutMs: 1000 });
    await e.tx.send('t', q, q.transaction, 0, [run('out', 1, records(2))]);
    e.clock.advance(1001);
    expect(await e.tx.abortExpired()).toBe(1);
    expect(await e.tx.abortExpired()).toBe(0);
    expect(await code(e.tx.commit('t', q, q.transaction))).toBe('INVALID_PRODUCER_EPOCH');
    expect(await e.readAll('out', 1)).toEqual([]);
  });

  it('an abandoned transaction is aborted by a maintenance pass; orphan GC then deletes its staged objects', async () => {
    await setup();
    // Object stores stamp real time: bring the virtual clock to it.
    e.clock.advance(Date.now() - e.clock.now());
    const deps = { meta: e.meta, objects: e.objects, clock: e.clock, random: e.random, owner: 'test' };
    const options = resolveMaintenanceOptions({ orphanGraceMs: HOUR });
    const p = await e.tx.init('abandoned', { timeoutMs: 1000 });
    await e.tx.send('abandoned', p, p.transaction, 0, [run('out', 0, records(2)), run('out', 1, records(1))]);
    await e.tx.send('abandoned', p, p.transaction, 1, [run('out', 0, records(1))]);
    const staged = (await e.objects.list('data/')).objects.length;
    expect(staged).toBe(2);
    // Still within its timeout: maintenance leaves it open.
    let { tasks, report } = await runMaintenancePass(deps, options);
    expect(tasks.map((t) => t.kind)).toContain('transactions');
    expect(report.transactionsAborted).toBe(0);
    e.clock.advance(1001);
    ({ report } = await runMaintenancePass(deps, options));
    expect(report).toMatchObject({ transactionsAborted: 1, orphansDeleted: 0, errors: [] });
    // Aborted and fenced: its producer can neither commit nor send.
    expect(await code(e.tx.commit('abandoned', p, p.transaction))).toBe('INVALID_PRODUCER_EPOCH');
    expect(await e.readAll('out', 0)).toEqual([]);
    e.clock.advance(HOUR + 1000);
    ({ report } = await runMaintenancePass(deps, options));
    expect(report).toMatchObject({ transactionsAborted: 0, orphansDeleted: 2, errors: [] });
    expect((await e.objects.list('data/')).objects).toEqual([]);
    // The id is usable again.
    const q = await e.tx.init('abandoned');
    await e.tx.send('abandoned', q, q.transaction, 0, [run('out', 0, records(1))]);
    await e.tx.commit('abandoned', q, q.transaction);
    expect((await e.readAll('out', 0)).map((r) => r.offset)).toEqual([0]);
  });

  it('commits offsets only for a member that owns the partitions (group fencing), atomically with the records', async () => {
    await setup();
    await e.appender.append([run('in', 0, records(4)), run('in', 1, records(4))]);
    let hb = await e.groups.heartbeat('g', { memberEpoch: 0, topics: ['in'] });
    hb = await e.groups.heartbeat('g', {
      memberId: hb.memberId,
      memberEpoch: hb.memberEpoch,
      ownedPartitions: hb.assignment,
    });
    const p = await e.tx.init('t');
    await e.tx.send('t', p, 0, 0, [run('out', 0, records(2))]);
    await e.tx.sendOffsets('t', p, 0, 1, {
      groupId: 'g',
      memberId: 'someone-else',
      memberEpoch: 1,
      offsets: [{ topic: 'in', partition: 0, offset: 4 }],
    });
    expect(await code(e.tx.commit('t', p, 0))).toBe('UNKNOWN_MEMBER_ID');
    expect(await e.readAll('out', 0)).toEqual([]);
    await e.tx.abort('t', p, 0);
    await e.tx.send('t', p, 1, 0, [run('out', 0, records(2))]);
    await e.tx.sendOffsets('t', p, 1, 1, {
      groupId: 'g',
      memberId: hb.memberId,
      memberEpoch: hb.memberEpoch,
      offsets: [
        { topic: 'in', partition: 0, offset: 4 },
        { topic: 'in', partition: 1, offset: 3 },
      ],
    });
    await e.tx.commit('t', p, 1);
    expect((await e.readAll('out', 0)).length).toBe(2);
    expect((await e.groups.fetchOffsets('g')).offsets.map((o) => o.offset)).toEqual([4, 3]);
  });

  it('commits above the item limit in steps; refuses what even its commit point cannot hold, changing nothing', async () => {
    await setup();
    // The embedded store at DynamoDB's real 100-item limit; moto (slow per request) with the
    // coordinator told a 10-item limit: the same protocol, 12 partitions instead of 120.
    const limit = kind === 'aws' ? 10 : 100;
    const wide = limit + 20 - (kind === 'aws' ? 18 : 0);
    const tx = new TransactionCoordinator({ ...e, maxTransactItems: limit });
    await e.topics.create('wide', wide);
    const p = await tx.init('t');
    await tx.send(
      't',
      p,
      0,
      0,
      Array.from({ length: wide }, (_, i) => run('wide', i, records(1))),
    );
    // limit - 2 offsets + group item + catalog + object registry + transaction item: limit + 2 items at the commit point.
    const offsets = Array.from({ length: limit - 2 }, (_, i) => ({ topic: 'wide', partition: i, offset: 0 }));
    expect(await code(tx.sendOffsets('t', p, 0, 1, { groupId: 'g', offsets }))).toBe('TRANSACTION_TOO_LARGE');
    expect(
      Object.keys((await e.meta.get(keys.transaction('t')))!.data).filter((k) => k.startsWith('s')),
    ).toEqual(['s0']);
    await tx.sendOffsets('t', p, 0, 1, { groupId: 'g', offsets: offsets.slice(0, limit - 4) });
    const { partitions } = await tx.commit('t', p, 0);
    expect(partitions).toHaveLength(wide);
    expect(partitions.every((x) => x.baseOffset === 0 && x.count === 1)).toBe(true);
    expect(await e.reader.highWatermarks('wide', [0, wide - 1])).toEqual([1, 1]);
    expect((await e.groups.fetchOffsets('g')).offsets).toHaveLength(limit - 4);
    // No marker is left on any head.
    const wideId = (await e.topics.get('wide')).id;
    for (const partition of [0, wide - 1]) {
      expect((await e.meta.get(keys.head(wideId, partition)))!.data.x).toBeUndefined();
    }
  });

  it('rejects bad input with typed errors', async () => {
    await setup();
    expect(await code(e.tx.init(''))).toBe('INVALID_REQUEST');
    expect(await code(e.tx.init('t', { timeoutMs: 0 }))).toBe('INVALID_REQUEST');
    const p = await e.tx.init('t');
    expect(await code(e.tx.send('t', p, 0, -1, [run('out', 0, records(1))]))).toBe('INVALID_REQUEST');
    expect(await code(e.tx.send('t', p, 0, 0, [run('nope', 0, records(1))]))).toBe(
      'UNKNOWN_TOPIC_OR_PARTITION',
    );
    expect(await code(e.tx.sendOffsets('t', p, 0, 0, { groupId: 'g', offsets: [] }))).toBe('INVALID_REQUEST');
    expect(await code(e.tx.send('u', p, 0, 0, [run('out', 0, records(1))]))).toBe('INVALID_PRODUCER_EPOCH');
  });
});
