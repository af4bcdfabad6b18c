/**
 * What a consumer group costs in DynamoDB: a simulated stable group (ManualClock, so minutes
 * take milliseconds) on a metered MetaStore, every member heartbeating at the interval the
 * coordinator returns (3 s by default) with the default 45 s session. Counts writes, write
 * units and reads per member per minute of steady state, and what one offset commit costs.
 * Writes bench/results/groups.json.
 *
 *   npm run bench -- groups [--members=3] [--partitions=12] [--minutes=10]
 */
import { ManualClock, seededRandom } from '../core/clock.js';
import { GroupCoordinator } from '../core/groups/coordinator.js';
import type { HeartbeatResponse } from '../core/groups/membership.js';
import type { TopicView } from '../core/groups/ports.js';
import { keys } from '../core/keys.js';
import { itemBytes } from '../storage/limits.js';
import { MemoryMetaStore } from '../storage/memory.js';
import { Meter, MeteredMetaStore } from '../storage/metered.js';
import { numberArg, printTable, round, writeResults } from './lib.js';

export interface GroupCostFigures {
  members: number;
  partitions: number;
  minutes: number;
  heartbeatIntervalMs: number;
  heartbeatsPerMemberPerMinute: number;
  writesPerMemberPerMinute: number;
  wcuPerMemberPerMinute: number;
  readsPerMemberPerMinute: number;
  rcuPerMemberPerMinute: number;
  groupItemBytes: number;
  /** One member committing one partition: a transaction of a group check and an offset put. */
  wcuPerCommit: number;
}

/**
 * Runs a group of `members` on one topic of `partitions` until stable, then measures
 * `minutes` of heartbeats.
 *
 * @example
 * const f = await simulateStableGroup({ members: 3, partitions: 12, minutes: 10 });
 * f.writesPerMemberPerMinute; // ≈ 2.5
 */
export async function simulateStableGroup(opts: {
  members: number;
  partitions: number;
  minutes: number;
}): Promise<GroupCostFigures> {
  const clock = new ManualClock();
  const meter = new Meter();
  const meta = new MeteredMetaStore(new MemoryMetaStore(), meter);
  const topics: TopicView = {
    partitionCount: async (t) => (t === 'events' ? opts.partitions : undefined),
    highWatermarks: async (_t, ps) => ps.map(() => 1_000_000),
  };
  const groups = new GroupCoordinator({ meta, topics, clock, random: seededRandom(1) });
  const beat = (r: HeartbeatResponse) =>
    groups.heartbeat('bench', {
      memberId: r.memberId,
      memberEpoch: r.memberEpoch,
      ownedPartitions: r.assignment,
    });

  const members: HeartbeatResponse[] = [];
  for (let i = 0; i < opts.members; i++)
    members.push(await groups.heartbeat('bench', { memberEpoch: 0, topics: ['events'] }));
  const interval = members[0]!.heartbeatIntervalMs;
  for (let round = 0; round < 10 || (await groups.describeGroup('bench')).state !== 'stable'; round++) {
    clock.advance(interval);
    for (let m = 0; m < members.length; m++) members[m] = await beat(members[m]!);
    if (round > 100) throw new Error('the group did not stabilise');
  }

  meter.reset();
  const steps = Math.round((opts.minutes * 60_000) / interval);
  for (let i = 0; i < steps; i++) {
    clock.advance(interval);
    for (let m = 0; m < members.length; m++) members[m] = await beat(members[m]!);
  }
  const d = meter.snapshot().dynamo;
  const perMemberMinute = (n: number) => round(n / opts.members / opts.minutes, 3);

  const item = (await meta.inner.get(keys.group('bench')))!;
  const owner = members[0]!;
  meter.reset();
  await groups.commitOffsets('bench', {
    memberId: owner.memberId,
    memberEpoch: owner.memberEpoch,
    offsets: [{ topic: 'events', partition: owner.assignment[0]!.partitions[0]!, offset: 1 }],
  });
  return {
    members: opts.members,
    partitions: opts.partitions,
    minutes: opts.minutes,
    heartbeatIntervalMs: interval,
    heartbeatsPerMemberPerMinute: round(60_000 / interval, 2),
    writesPerMemberPerMinute: perMemberMinute(d.transact),
    wcuPerMemberPerMinute: perMemberMinute(d.wcu),
    readsPerMemberPerMinute: perMemberMinute(d.get + d.batchGet + d.query),
    rcuPerMemberPerMinute: perMemberMinute(d.rcu),
    groupItemBytes: itemBytes(item, item.data, item.ttl),
    wcuPerCommit: meter.snapshot().dynamo.wcu,
  };
}

export async function run(args: string[]): Promise<void> {
  const members = numberArg(args, 'members', 3);
  const partitions = numberArg(args, 'partitions', 12);
  const minutes = numberArg(args, 'minutes', 10);
  const rows: (string | number)[][] = [
    [
      'members',
      'item B',
      'hb/min',
      'writes/member/min',
      'WCU/member/min',
      'reads/member/min',
      'RCU/member/min',
      'WCU/commit',
    ],
  ];
  let main: GroupCostFigures | undefined;
  for (const n of [...new Set([members, 10, 50])]) {
    const f = await simulateStableGroup({ members: n, partitions: Math.max(partitions, n), minutes });
    main ??= f;
    rows.push([
      n,
      f.groupItemBytes,
      f.heartbeatsPerMemberPerMinute,
      f.writesPerMemberPerMinute,
      f.wcuPerMemberPerMinute,
      f.readsPerMemberPerMinute,
      f.rcuPerMemberPerMinute,
      f.wcuPerCommit,
    ]);
  }
  console.log(`stable group, default 45 s sessions, ${minutes} simulated minutes of steady state:`);
  printTable(rows);
  const { heartbeatIntervalMs, ...metrics } = main!;
  console.log(`wrote ${writeResults('groups', { ...metrics, heartbeatIntervalMs })}`);
}
