/**
 * Read-only views of groups: listing, describing with per-partition lag, and committed
 * offsets. They read; they never write — a member whose session ran out is simply not shown
 * (the next heartbeat of anyone removes it from the item).
 */
import { SluiceError } from '../errors.js';
import { keys } from '../keys.js';
import type { Item, MetaStore } from '../ports.js';
import { decodeGroup, type GroupState, type GroupStateName, isLive, stateName } from './model.js';
import {
  byTopicPartition,
  type CommittedOffset,
  decodeOffset,
  incarnations,
  visibleOffsets,
} from './offsets.js';
import { type TopicPartitionList, toList } from './partition-sets.js';
import type { TopicView } from './ports.js';
import { readGroup } from './store.js';

export interface GroupSummary {
  group: string;
  state: GroupStateName;
  /** Number of live members. */
  members: number;
}

export interface MemberDescription {
  memberId: string;
  memberEpoch: number;
  /** What the member may consume now. */
  assignment: TopicPartitionList[];
  /** Subscribed topics. */
  topics: string[];
}

export interface PartitionLag {
  topic: string;
  partition: number;
  /** Next offset to read as committed; null when the group never committed this partition. */
  committed: number | null;
  /** Null when the topic or partition no longer exists. */
  highWatermark: number | null;
  /** `highWatermark − committed` (never below 0); null when either is unknown. */
  lag: number | null;
}

export interface GroupDescription {
  group: string;
  state: GroupStateName;
  epoch: number;
  members: MemberDescription[];
  /** Every partition the group committed or its members subscribe to, by topic and partition. */
  lag: PartitionLag[];
}

/** Every committed offset of a group, by topic and partition. */
export async function readOffsets(meta: MetaStore, group: string): Promise<CommittedOffset[]> {
  const out: CommittedOffset[] = [];
  let after: string | undefined;
  do {
    const page = await meta.query(
      keys.groupPk(group),
      { beginsWith: keys.committedPrefix },
      after === undefined ? {} : { after },
    );
    for (const item of page.items) {
      const o = decodeOffset(item);
      if (o) out.push(o);
    }
    after = page.next;
  } while (after !== undefined);
  return out.sort(byTopicPartition);
}

export function notFound(group: string): SluiceError {
  return new SluiceError('GROUP_ID_NOT_FOUND', `group ${group} does not exist`);
}

/** Live members of a state, by id. */
export function liveMembers(state: GroupState, now: number): [string, GroupState['members'][string]][] {
  return Object.entries(state.members)
    .filter(([, m]) => isLive(m, now))
    .sort(([a], [b]) => (a < b ? -1 : 1));
}

export async function describeGroup(
  deps: { meta: MetaStore; topics: TopicView; now: () => number },
  group: string,
): Promise<GroupDescription> {
  const [{ state }, stored] = await Promise.all([readGroup(deps.meta, group), readOffsets(deps.meta, group)]);
  if (!state) throw notFound(group);
  // Lag is of the current incarnation of each topic: offsets of older ones do not count.
  const committed = visibleOffsets(
    stored,
    await incarnations(
      deps.topics,
      stored.map((o) => o.topic),
    ),
  );
  const now = deps.now();
  const members = liveMembers(state, now);

  // Partitions to report: committed ones and every partition of a subscribed topic.
  const wanted = new Map<string, Map<number, number | null>>();
  for (const o of committed) {
    if (!wanted.has(o.topic)) wanted.set(o.topic, new Map());
    wanted.get(o.topic)!.set(o.partition, o.offset);
  }
  const subscribed = new Set(members.flatMap(([, m]) => m.topics));
  const counts = new Map<string, number | undefined>();
  const topicNames = [...new Set([...wanted.keys(), ...subscribed])];
  await Promise.all(topicNames.map(async (t) => counts.set(t, await deps.topics.partitionCount(t))));
  for (const topic of subscribed) {
    if (!wanted.has(topic)) wanted.set(topic, new Map());
    const parts = wanted.get(topic)!;
    for (let p = 0; p < (counts.get(topic) ?? 0); p++) if (!parts.has(p)) parts.set(p, null);
  }

  const lag: PartitionLag[] = [];
  await Promise.all(
    [...wanted].map(async ([topic, parts]) => {
      const count = counts.get(topic) ?? 0;
      const existing = [...parts.keys()].filter((p) => p < count);
      const hwms = existing.length > 0 ? await deps.topics.highWatermarks(topic, existing) : [];
      const hwmOf = new Map(existing.map((p, i) => [p, hwms[i]!]));
      for (const [partition, offset] of parts) {
        const highWatermark = hwmOf.get(partition) ?? null;
        lag.push({
          topic,
          partition,
          committed: offset,
          highWatermark,
          lag: offset === null || highWatermark === null ? null : Math.max(0, highWatermark - offset),
        });
      }
    }),
  );

  return {
    group,
    state: stateName(state, now),
    epoch: state.epoch,
    members: members.map(([memberId, m]) => ({
      memberId,
      memberEpoch: m.epoch,
      assignment: toList(m.assigned),
      topics: [...m.topics],
    })),
    lag: lag.sort(byTopicPartition),
  };
}

/** BatchGet takes at most 100 keys (DynamoDB's limit). */
const BATCH = 100;

export async function listGroups(deps: { meta: MetaStore; now: () => number }): Promise<GroupSummary[]> {
  const names: string[] = [];
  let after: string | undefined;
  do {
    const page = await deps.meta.query(keys.groupCatalogPk, undefined, after === undefined ? {} : { after });
    for (const item of page.items) names.push(item.sk);
    after = page.next;
  } while (after !== undefined);

  const items: (Item | undefined)[] = [];
  for (let i = 0; i < names.length; i += BATCH) {
    items.push(...(await deps.meta.batchGet(names.slice(i, i + BATCH).map((g) => keys.group(g)))));
  }
  const now = deps.now();
  const out: GroupSummary[] = [];
  names.forEach((group, i) => {
    const item = items[i];
    // Catalog entry and group item are written and deleted together; be lenient anyway.
    if (!item) return;
    const state = decodeGroup(item.data);
    out.push({ group, state: stateName(state, now), members: liveMembers(state, now).length });
  });
  return out;
}
