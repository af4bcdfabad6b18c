import { beforeEach, describe, expect, it } from 'vitest';
import { MemoryMetaStore } from '../../storage/memory.js';
import { FakeTopics, SpyMeta } from '../../test/groups/fakes.js';
import { ManualClock, seededRandom } from '../clock.js';
import { SluiceError } from '../errors.js';
import { keys } from '../keys.js';
import { GroupCoordinator } from './coordinator.js';
import type { HeartbeatResponse } from './membership.js';

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SluiceError) return err.code;
    throw err;
  }
  return 'OK';
}

function owned(r: HeartbeatResponse) {
  return r.assignment;
}

function parts(r: HeartbeatResponse, topic = 'orders'): number[] {
  return r.assignment.find((a) => a.topic === topic)?.partitions ?? [];
}

let clock: ManualClock;
let meta: SpyMeta;
let topics: FakeTopics;
let groups: GroupCoordinator;

beforeEach(() => {
  clock = new ManualClock();
  meta = new SpyMeta(new MemoryMetaStore());
  topics = new FakeTopics().create('orders', 4).create('audit', 2);
  groups = new GroupCoordinator({ meta, topics, clock, random: seededRandom(7) });
});

/** Heartbeat at the member's current epoch, reporting its assignment as owned. */
function beat(g: GroupCoordinator, r: HeartbeatResponse, extra: object = {}) {
  return g.heartbeat('g1', {
    memberId: r.memberId,
    memberEpoch: r.memberEpoch,
    ownedPartitions: owned(r),
    ...extra,
  });
}

describe('join and heartbeat', () => {
  it('a first member gets every partition at epoch 1; the group is stable', async () => {
    const a = await groups.heartbeat('g1', { memberEpoch: 0, topics: ['orders'] });
    expect(a.memberId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(a.memberEpoch).toBe(1);
    expect(a.heartbeatIntervalMs).toBe(3000);
    expect(a.assignment).toEqual([{ topic: 'orders', partitions: [0, 1, 2, 3] }]);
    const d = await groups.describeGroup('g1');
    expect(d).toMatchObject({
      state: 'stable',
      epoch: 1,
      members: [{ memberId: a.memberId, memberEpoch: 1 }],
    });
  });

  it('hands partitions over only after the previous owner released them', async () => {
    let a = await groups.heartbeat('g1', { memberEpoch: 0, topics: ['orders'] });
    let b = await groups.heartbeat('g1', { memberEpoch: 0, topics: ['orders'] });
    expect(b.assignment).toEqual([]); // a still holds everything
    expect((await groups.describeGroup('g1')).state).toBe('reconciling');

    a = await beat(groups, a); // a learns it must give two up
    expect(parts(a)).toHaveLength(2);
    expect(a.memberEpoch).toBe(2);
    b = await beat(groups, b); // a has not confirmed yet
    expect(b.assignment).toEqual([]);

    a = await beat(groups, a); // confirms: owned no longer lists them
    b = await beat(groups, b);
    expect(parts(b)).toHaveLength(2);
    expect(new Set([...parts(a), ...parts(b)]).size).toBe(4);
    expect(b.memberEpoch).toBe(2);
    a = await beat(groups, a);
    b = await beat(groups, b);
    expect((await groups.describeGroup('g1')).state).toBe('stable');
  });

  it('treats a heartbeat at the current epoch without ownedPartitions as a confirmed release', async () => {
    let a = await groups.heartbeat('g1', { memberEpoch: 0, topics: ['orders'] });
    let b = await groups.heartbeat('g1', { memberEpoch: 0, topics: ['orders'] });
    a = await groups.heartbeat('g1', { memberId: a.memberId, memberEpoch: a.memberEpoch });
    expect(parts(a)).toHaveLength(2);
    // Still at the previous epoch: the revocation response may not have arrived.
    await groups.heartbeat('g1', { memberId: a.memberId, memberEpoch: a.memberEpoch - 1 });
    b = await beat(groups, b);
    expect(b.assignment).toEqual([]);
    await groups.heartbeat('g1', { memberId: a.memberId, memberEpoch: a.memberEpoch });
    b = await beat(groups, b);
    expect(parts(b)).toHaveLength(2);
  });

  it('keeps a partition listed in ownedPartitions held, even by a member that lost it', async () => {
    const a = await groups.heartbeat('g1', { memberEpoch: 0, topics: ['orders'] });
    let b = await groups.heartbeat('g1', { memberEpoch: 0, topics: ['orders'] });
    const a2 = await beat(groups, a);
    // a keeps reporting all four (still processing): b must wait.
    await groups.heartbeat('g1', {
      memberId: a.memberId,
      memberEpoch: a2.memberEpoch,
      ownedPartitions: a.assignment,
    });
    b = await beat(groups, b);
    expect(b.assignment).toEqual([]);
  });

  it('fences stale epochs, refuses unknown members, accepts the previous epoch', async () => {
    let a = await groups.heartbeat('g1', { memberEpoch: 0, topics: ['orders'] });
    await groups.heartbeat('g1', { memberEpoch: 0, topics: ['orders'] });
    a = await beat(groups, a); // epoch 2
    a = await beat(groups, a);
    expect(a.memberEpoch).toBe(2);
    expect(await code(groups.heartbeat('g1', { memberId: a.memberId, memberEpoch: 3 }))).toBe(
      'FENCED_MEMBER_EPOCH',
    );
    expect(await code(groups.heartbeat('g1', { memberId: a.memberId, memberEpoch: 1 }))).toBe('OK');
    expect(await code(groups.heartbeat('g1', { memberId: 'nobody', memberEpoch: 1 }))).toBe(
      'UNKNOWN_MEMBER_ID',
    );
    expect(await code(groups.heartbeat('nogroup', { memberId: a.memberId, memberEpoch: 1 }))).toBe(
      'UNKNOWN_MEMBER_ID',
    );
  });

  it('a stable group writes only to refresh sessions: one write per member per half session', async () => {
    let a = await groups.heartbeat('g1', { memberEpoch: 0, topics: ['orders'] });
    let b = await groups.heartbeat('g1', { memberEpoch: 0, topics: ['orders'] });
    for (let i = 0; i < 4; i++) [a, b] = [await beat(groups, a), await beat(groups, b)];
    expect((await groups.describeGroup('g1')).state).toBe('stable');
    const before = meta.transactions;
    for (let t = 0; t < 60_000; t += 3000) {
      clock.advance(3000);
      [a, b] = [await beat(groups, a), await beat(groups, b)];
    }
    // 45 s sessions refresh once at least 22.5 s passed: at most 3 writes each per minute.
    const writes = meta.transactions - before;
    expect(writes).toBeGreaterThanOrEqual(4);
    expect(writes).toBeLessThanOrEqual(6);
  });

  it('expires a silent member between one and 1.5 session timeouts, on anyone’s heartbeat', async () => {
    const a = await groups.heartbeat('g1', { memberEpoch: 0, topics: ['orders'], sessionTimeoutMs: 10_000 });
    let b = await groups.heartbeat('g1', { memberEpoch: 0, topics: ['orders'], sessionTimeoutMs: 10_000 });
    await beat(groups, a);
    // a goes silent now; b keeps heartbeating.
    for (let t = 0; t < 10_000; t += 2000) {
      clock.advance(2000);
      b = await beat(groups, b);
    }
    expect((await groups.describeGroup('g1')).members).toHaveLength(2);
    for (let t = 0; t < 6000; t += 2000) {
      clock.advance(2000);
      b = await beat(groups, b);
    }
    expect((await groups.describeGroup('g1')).members.map((m) => m.memberId)).toEqual([b.memberId]);
    b = await beat(groups, b);
    expect(parts(b)).toEqual([0, 1, 2, 3]);
    expect(await code(groups.heartbeat('g1', { memberId: a.memberId, memberEpoch: a.memberEpoch }))).toBe(
      'UNKNOWN_MEMBER_ID',
    );
  });

  it('leaving frees partitions at once and is idempotent', async () => {
    const a = await groups.heartbeat('g1', { memberEpoch: 0, topics: ['orders'] });
    let b = await groups.heartbeat('g1', { memberEpoch: 0, topics: ['orders'] });
    const left = await groups.heartbeat('g1', { memberId: a.memberId, memberEpoch: -1 });
    expect(left).toEqual({ memberId: a.memberId, memberEpoch: -1, heartbeatIntervalMs: 0, assignment: [] });
    expect(await code(groups.heartbeat('g1', { memberId: a.memberId, memberEpoch: -1 }))).toBe('OK');
    b = await beat(groups, b);
    expect(parts(b)).toEqual([0, 1, 2, 3]);
  });

  it('recomputes on subscription changes and partition additions; subscriptions may differ', async () => {
    let a = await groups.heartbeat('g1', { memberEpoch: 0, topics: ['orders'] });
    let b = await groups.heartbeat('g1', { memberEpoch: 0, topics: ['audit'] });
    expect(parts(b, 'audit')).toEqual([0, 1]);
    a = await beat(groups, a);
    expect(parts(a)).toEqual([0, 1, 2, 3]);
    b = await beat(groups, b, { topics: ['audit', 'orders'] });
    a = await beat(groups, a);
    a = await beat(groups, a);
    b = await beat(groups, b);
    expect(parts(a)).toHaveLength(2);
    expect(parts(b)).toHaveLength(2);
    const epoch = (await groups.describeGroup('g1')).epoch;
    topics.addPartitions('orders', 2);
    a = await beat(groups, a);
    b = await beat(groups, b);
    expect(parts(a).length + parts(b).length).toBe(6);
    expect((await groups.describeGroup('g1')).epoch).toBe(epoch + 1);
  });

  it('a client rejoining under its old id drops its old incarnation', async () => {
    const a = await groups.heartbeat('g1', { memberEpoch: 0, topics: ['orders'] });
    const again = await groups.heartbeat('g1', { memberId: a.memberId, memberEpoch: 0, topics: ['orders'] });
    expect(again.memberId).not.toBe(a.memberId);
    expect(parts(again)).toEqual([0, 1, 2, 3]);
    expect((await groups.describeGroup('g1')).members).toHaveLength(1);
  });

  it('validates requests, naming the field', async () => {
    await expect(groups.heartbeat('g1', { memberEpoch: 0 })).rejects.toMatchObject({ field: 'topics' });
    await expect(groups.heartbeat('g1', { memberEpoch: 2 })).rejects.toMatchObject({ field: 'memberId' });
    await expect(groups.heartbeat('g1', { memberEpoch: -2, memberId: 'x' })).rejects.toMatchObject({
      field: 'memberEpoch',
    });
    await expect(
      groups.heartbeat('g1', { memberEpoch: 0, topics: ['orders'], sessionTimeoutMs: 1000 }),
    ).rejects.toMatchObject({ field: 'sessionTimeoutMs' });
    await expect(groups.heartbeat('g1', { memberEpoch: 0, topics: ['bad topic'] })).rejects.toMatchObject({
      code: 'INVALID_TOPIC_EXCEPTION',
    });
    await expect(groups.heartbeat('', { memberEpoch: 0, topics: ['orders'] })).rejects.toMatchObject({
      field: 'group',
    });
  });
});

describe('offsets', () => {
  async function stableTwo() {
    let a = await groups.heartbeat('g1', { memberEpoch: 0, topics: ['orders'] });
    let b = await groups.heartbeat('g1', { memberEpoch: 0, topics: ['orders'] });
    for (let i = 0; i < 3; i++) [a, b] = [await beat(groups, a), await beat(groups, b)];
    for (let p = 0; p < 4; p++) topics.produce('orders', p, 100);
    return { a, b };
  }

  const commit = (r: HeartbeatResponse, partition: number, offset: number, epoch = r.memberEpoch) =>
    groups.commitOffsets('g1', {
      memberId: r.memberId,
      memberEpoch: epoch,
      offsets: [{ topic: 'orders', partition, offset }],
    });

  it('accepts the owner at its epoch and refuses others, stale epochs and zombies', async () => {
    const { a, b } = await stableTwo();
    const pa = parts(a)[0]!;
    expect(await code(commit(a, pa, 10))).toBe('OK');
    expect(await code(commit(b, pa, 11))).toBe('FENCED_MEMBER_EPOCH');
    expect(await code(commit(a, pa, 12, a.memberEpoch + 1))).toBe('FENCED_MEMBER_EPOCH');
    expect(await code(commit({ ...a, memberId: 'ghost' }, pa, 12))).toBe('UNKNOWN_MEMBER_ID');
    expect(await groups.fetchOffsets('g1')).toEqual({
      group: 'g1',
      offsets: [{ topic: 'orders', partition: pa, offset: 10, metadata: null }],
    });
  });

  it('never moves an offset backwards; re-committing the same offset is a no-op', async () => {
    const { a } = await stableTwo();
    const p = parts(a)[0]!;
    await commit(a, p, 50);
    expect(await code(commit(a, p, 49))).toBe('OFFSET_OUT_OF_RANGE');
    const writes = meta.transactions;
    expect(await code(commit(a, p, 50))).toBe('OK');
    expect(meta.transactions).toBe(writes);
    // The request is atomic: one backwards offset refuses the others too.
    const p2 = parts(a)[1]!;
    const both = groups.commitOffsets('g1', {
      memberId: a.memberId,
      memberEpoch: a.memberEpoch,
      offsets: [
        { topic: 'orders', partition: p2, offset: 5 },
        { topic: 'orders', partition: p, offset: 1 },
      ],
    });
    expect(await code(both)).toBe('OFFSET_OUT_OF_RANGE');
    expect((await groups.fetchOffsets('g1')).offsets.map((o) => o.offset)).toEqual([50]);
  });

  it('checks partitions and the high watermark', async () => {
    const { a } = await stableTwo();
    const p = parts(a)[0]!;
    expect(await code(commit(a, p, 101))).toBe('OFFSET_OUT_OF_RANGE');
    expect(await code(commit(a, p, 100))).toBe('OK');
    expect(await code(commit(a, 9, 0))).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    const nope = groups.commitOffsets('g1', { offsets: [{ topic: 'nope', partition: 0, offset: 0 }] });
    expect(await code(nope)).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    await expect(commit(a, p, -1)).rejects.toMatchObject({ field: 'offsets.0.offset' });
  });

  it('lets a revoking member commit what it still holds, and the previous epoch commit what it held', async () => {
    let a = await groups.heartbeat('g1', { memberEpoch: 0, topics: ['orders'] });
    for (let p = 0; p < 4; p++) topics.produce('orders', p, 100);
    const b = await groups.heartbeat('g1', { memberEpoch: 0, topics: ['orders'] });
    const before = a;
    a = await beat(groups, a); // revocation: a's epoch 2 drops two partitions
    const revoked = parts(before).filter((p) => !parts(a).includes(p));
    expect(revoked).toHaveLength(2);
    // Commit on revocation at the new epoch, and a commit sent before the response (epoch 1).
    expect(await code(commit(a, revoked[0]!, 7))).toBe('OK');
    expect(await code(commit(before, revoked[1]!, 8))).toBe('OK');
    a = await beat(groups, a); // released
    expect(await code(commit(a, revoked[0]!, 9))).toBe('FENCED_MEMBER_EPOCH');
    // b is granted them at its epoch 2; its epoch-1 commits for them are refused.
    const b2 = await beat(groups, b);
    expect(parts(b2)).toEqual(revoked);
    expect(await code(commit(b, revoked[0]!, 9))).toBe('FENCED_MEMBER_EPOCH');
    expect(await code(commit(b2, revoked[0]!, 9))).toBe('OK');
  });

  it('a commit is atomic with the ownership it checked (a racing rebalance refuses it)', async () => {
    const { a } = await stableTwo();
    const p = parts(a)[0]!;
    // Just before the commit's transaction, a leaves: the group item's version moves.
    meta.beforeTransact = async () => {
      await groups.heartbeat('g1', { memberId: a.memberId, memberEpoch: -1 });
    };
    expect(await code(commit(a, p, 10))).toBe('UNKNOWN_MEMBER_ID');
    expect((await groups.fetchOffsets('g1')).offsets).toEqual([]);
    const ops = meta.ops.at(-1)!;
    expect(ops.some((o) => o.type === 'check' && o.key.sk === 'group')).toBe(true);
  });

  it('standalone commits only while the group is empty; they create the group', async () => {
    topics.produce('orders', 0, 10);
    expect(
      await code(groups.commitOffsets('g2', { offsets: [{ topic: 'orders', partition: 0, offset: 3 }] })),
    ).toBe('OK');
    expect((await groups.listGroups()).map((g) => g.group)).toEqual(['g2']);
    expect((await groups.describeGroup('g2')).state).toBe('empty');
    await groups.heartbeat('g2', { memberEpoch: 0, topics: ['orders'] });
    expect(
      await code(groups.commitOffsets('g2', { offsets: [{ topic: 'orders', partition: 0, offset: 4 }] })),
    ).toBe('NON_EMPTY_GROUP');
  });

  it('reset moves offsets backwards, only on an empty group', async () => {
    const { a, b } = await stableTwo();
    await commit(a, parts(a)[0]!, 90);
    expect(await code(groups.resetOffsets('g1', 'orders', [{ partition: 0, offset: 0 }]))).toBe(
      'NON_EMPTY_GROUP',
    );
    await groups.heartbeat('g1', { memberId: a.memberId, memberEpoch: -1 });
    await groups.heartbeat('g1', { memberId: b.memberId, memberEpoch: -1 });
    await groups.resetOffsets('g1', 'orders', [
      { partition: parts(a)[0]!, offset: 5 },
      { partition: 3, offset: 100 },
    ]);
    const offsets = (await groups.fetchOffsets('g1')).offsets;
    expect(offsets.find((o) => o.partition === parts(a)[0])?.offset).toBe(5);
    expect(offsets.find((o) => o.partition === 3)?.offset).toBe(100);
    expect(await code(groups.resetOffsets('g1', 'orders', [{ partition: 0, offset: 101 }]))).toBe(
      'OFFSET_OUT_OF_RANGE',
    );
  });
});

describe('describe, list, delete', () => {
  it('reports per-partition lag, committed and not', async () => {
    let a = await groups.heartbeat('g1', { memberEpoch: 0, topics: ['orders'] });
    a = await beat(groups, a);
    topics.produce('orders', 0, 30);
    topics.produce('orders', 1, 5);
    await groups.commitOffsets('g1', {
      memberId: a.memberId,
      memberEpoch: a.memberEpoch,
      offsets: [{ topic: 'orders', partition: 0, offset: 20, metadata: 'm' }],
    });
    const d = await groups.describeGroup('g1');
    expect(d.lag).toEqual([
      { topic: 'orders', partition: 0, committed: 20, highWatermark: 30, lag: 10 },
      { topic: 'orders', partition: 1, committed: null, highWatermark: 5, lag: null },
      { topic: 'orders', partition: 2, committed: null, highWatermark: 0, lag: null },
      { topic: 'orders', partition: 3, committed: null, highWatermark: 0, lag: null },
    ]);
    expect(d.members[0]).toEqual({
      memberId: a.memberId,
      memberEpoch: a.memberEpoch,
      assignment: [{ topic: 'orders', partitions: [0, 1, 2, 3] }],
      topics: ['orders'],
    });
    expect((await groups.fetchOffsets('g1')).offsets[0]!.metadata).toBe('m');
    // A deleted topic's committed partitions stay, without a high watermark.
    topics.delete('orders');
    expect((await groups.describeGroup('g1')).lag).toEqual([
      { topic: 'orders', partition: 0, committed: 20, highWatermark: null, lag: null },
    ]);
  });

  it('lists groups with state and live members; unknown groups are GROUP_ID_NOT_FOUND', async () => {
    await groups.heartbeat('b', { memberEpoch: 0, topics: ['orders'] });
    await groups.heartbeat('a', { memberEpoch: 0, topics: ['orders'] });
    await groups.heartbeat('a', { memberEpoch: 0, topics: ['orders'] });
    expect(await groups.listGroups()).toEqual([
      { group: 'a', state: 'reconciling', members: 2 },
      { group: 'b', state: 'stable', members: 1 },
    ]);
    clock.advance(120_000);
    expect(await groups.listGroups()).toEqual([
      { group: 'a', state: 'empty', members: 0 },
      { group: 'b', state: 'empty', members: 0 },
    ]);
    expect(await code(groups.describeGroup('zz'))).toBe('GROUP_ID_NOT_FOUND');
    expect(await code(groups.fetchOffsets('zz'))).toBe('GROUP_ID_NOT_FOUND');
  });

  it('deletes only empty groups, with every committed offset', async () => {
    const a = await groups.heartbeat('g1', { memberEpoch: 0, topics: ['orders'] });
    expect(await code(groups.deleteGroup('g1'))).toBe('NON_EMPTY_GROUP');
    await groups.heartbeat('g1', { memberId: a.memberId, memberEpoch: -1 });
    topics.create('wide', 250);
    for (let p = 0; p < 250; p++) topics.produce('wide', p, 1);
    await groups.commitOffsets('g1', {
      offsets: Array.from({ length: 250 }, (_, p) => ({ topic: 'wide', partition: p, offset: 1 })),
    });
    expect((await groups.fetchOffsets('g1')).offsets).toHaveLength(250);
    await groups.deleteGroup('g1');
    expect(await code(groups.describeGroup('g1'))).toBe('GROUP_ID_NOT_FOUND');
    expect((await meta.query(keys.groupPk('g1'))).items).toEqual([]);
    expect(await groups.listGroups()).toEqual([]);
    expect(await code(groups.deleteGroup('g1'))).toBe('GROUP_ID_NOT_FOUND');
  });
});

describe('offset commits', () => {
  it('a commit of >98 offsets that is refused changes nothing (API.md: a failed request changes nothing)', async () => {
    const topics = new FakeTopics().create('t', 100);
    for (let p = 0; p < 100; p++) topics.produce('t', p, 10);
    const groups = new GroupCoordinator({
      meta: new MemoryMetaStore(),
      topics,
      clock: new ManualClock(1_700_000_000_000),
      random: seededRandom(1),
    });
    // Partition 99 is already committed at 5 (standalone commit: the group has no members).
    await groups.commitOffsets('g', { offsets: [{ topic: 't', partition: 99, offset: 5 }] });
    // One request: partitions 0..99 at 1. Partition 99 would go backwards: the request is refused…
    const all = Array.from({ length: 100 }, (_, p) => ({ topic: 't', partition: p, offset: 1 }));
    await expect(groups.commitOffsets('g', { offsets: all })).rejects.toMatchObject({
      code: 'OFFSET_OUT_OF_RANGE',
    });
    // …and must have changed nothing. It wrote partitions 0..97 (the first chunk).
    const { offsets } = await groups.fetchOffsets('g');
    expect(offsets.map((o) => `${o.partition}:${o.offset}`)).toEqual(['99:5']);
  });
});
