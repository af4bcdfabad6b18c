/**
 * Committed offsets: one item per partition (`g#<group>`/`o#<topic>#<partition>`), holding
 * the next offset to read (Kafka's convention).
 *
 * Rules:
 * - A member commits only at its current epoch — or its previous one, since a heartbeat
 *   response may cross a commit in flight — and only partitions it holds (its assignment or
 *   partitions it is revoking, so it can commit on revocation, as Kafka consumers do). At
 *   the previous epoch, partitions granted by the last epoch bump are excluded: the member
 *   did not hold them when it sent the commit.
 * - A commit without a member is allowed only while the group has no live member.
 * - Offsets lie in [0, high watermark]; a topic or partition that does not exist is
 *   UNKNOWN_TOPIC_OR_PARTITION.
 * - Commits never move an offset backwards: a commit below the committed offset is refused
 *   as OFFSET_OUT_OF_RANGE and the whole request changes nothing. Going back is an explicit
 *   admin reset ({@link GroupCoordinator.resetOffsets}), allowed only on an empty group.
 *   Kafka accepts backwards commits; we do not, because a late commit (a retry, a client
 *   that lost a race) must never rewind a group and re-deliver what it processed.
 *   Re-committing the committed offset is accepted (and writes nothing when the metadata is
 *   the same), so retries are harmless.
 *
 * The commit's transaction carries a check on the group item's version: ownership as verified
 * and the offsets written are one atomic step.
 *
 * Topic incarnations (docs/design.md "Topic incarnations"): each offset item records the id
 * (`tid`) of the topic incarnation it was committed against. An item whose `tid` is not the
 * topic's current id belongs to a deleted incarnation: it is invisible (reads skip it, lag
 * ignores it, a commit treats it as absent) and maintenance deletes it. A commit may name
 * the `topicId` it means; a stale one is UNKNOWN_TOPIC_ID and changes nothing.
 */
import { SluiceError } from '../errors.js';
import { keys } from '../keys.js';
import type { Item, ItemData, ItemKey } from '../ports.js';
import { type GroupState, held, isLive } from './model.js';
import { has, minus, type TopicPartitions } from './partition-sets.js';
import type { TopicView } from './ports.js';
import type { CommitRequest, OffsetCommit } from './requests.js';

export interface CommittedOffset {
  topic: string;
  partition: number;
  offset: number;
  /** Free text the committer attached; null when none. */
  metadata: string | null;
  /** The topic incarnation the offset was committed against (absent on items from before ids). */
  topicId?: string;
}

/**
 * The current incarnation of each topic named: its id, or undefined when the topic does not
 * exist. `undefined` as a whole when the view knows no ids (every offset is then current).
 */
export async function incarnations(
  topics: TopicView,
  names: Iterable<string>,
  cached = false,
): Promise<Map<string, string | undefined> | undefined> {
  if (!topics.topicId) return undefined;
  const list = [...new Set(names)];
  const ids = await Promise.all(list.map((t) => topics.topicId!(t, cached)));
  return new Map(list.map((t, i) => [t, ids[i]]));
}

/**
 * True when a stored offset (its data) belongs to the incarnation `topicId`. Items written
 * before topic ids carry none and count as current; `topicId` undefined (no ids known, or
 * the topic is gone) makes only those count.
 */
export function isCurrent(data: { tid?: unknown }, topicId: string | undefined, idsKnown = true): boolean {
  if (!idsKnown) return true;
  if (topicId === undefined) return false;
  return data.tid === undefined || data.tid === topicId;
}

/** The stored offset item if it belongs to the topic's current incarnation, else undefined. */
export function currentItem(item: Item | undefined, topicId: string | undefined): Item | undefined {
  if (!item || topicId === undefined) return item;
  return item.data.tid === undefined || item.data.tid === topicId ? item : undefined;
}

/** Offsets of current incarnations only: those of deleted topics, or of an older topic of the same name, go. */
export function visibleOffsets(
  offsets: readonly CommittedOffset[],
  ids: Map<string, string | undefined> | undefined,
): CommittedOffset[] {
  if (!ids) return [...offsets];
  return offsets.filter((o) => isCurrent({ tid: o.topicId }, ids.get(o.topic)));
}

/** The partitions `member` may commit at `epoch`. */
function committable(
  state: GroupState | undefined,
  group: string,
  member: { id: string; epoch: number },
  now: number,
): TopicPartitions {
  const found = state?.members[member.id];
  if (!found || !isLive(found, now)) {
    throw new SluiceError(
      'UNKNOWN_MEMBER_ID',
      `member ${member.id} is not in group ${group} (it left or its session expired); rejoin with memberEpoch 0`,
    );
  }
  if (member.epoch === found.epoch) return held(found);
  if (found.previousEpoch > 0 && member.epoch === found.previousEpoch)
    return minus(held(found), found.granted);
  throw new SluiceError(
    'FENCED_MEMBER_EPOCH',
    `member ${member.id} committed at epoch ${member.epoch} but is at epoch ${found.epoch}`,
  );
}

/**
 * Throws unless the commit may be applied to `state`: the member's epoch is current (or
 * previous) and it holds every partition named, or there is no member and the group has no
 * live members.
 */
export function checkCommitAllowed(
  state: GroupState | undefined,
  group: string,
  req: CommitRequest,
  now: number,
): void {
  if (!req.member) {
    const live = Object.values(state?.members ?? {}).filter((m) => isLive(m, now)).length;
    if (live > 0) {
      throw new SluiceError(
        'NON_EMPTY_GROUP',
        `group ${group} has ${live} member(s): only a member may commit (with memberId and memberEpoch)`,
      );
    }
    return;
  }
  const allowed = committable(state, group, req.member, now);
  for (const o of req.offsets) {
    if (!has(allowed, o.topic, o.partition)) {
      throw new SluiceError(
        'FENCED_MEMBER_EPOCH',
        `member ${req.member.id} does not own ${o.topic}-${o.partition} at epoch ${req.member.epoch}`,
      );
    }
  }
}

/** Consumer lag of a committed offset: high watermark − committed. */
export interface CommitLag {
  topic: string;
  partition: number;
  lag: number;
}

/**
 * Throws unless every partition exists and every offset is at most its high watermark;
 * returns the lag each commit leaves (the watermarks are read anyway).
 */
export async function checkAgainstLog(
  topics: TopicView,
  offsets: readonly OffsetCommit[],
): Promise<CommitLag[]> {
  const lags: CommitLag[] = [];
  const byTopic = new Map<string, OffsetCommit[]>();
  for (const o of offsets) {
    const list = byTopic.get(o.topic);
    if (list) list.push(o);
    else byTopic.set(o.topic, [o]);
  }
  // The instance's cached ids (no read on the commit path): a cache behind records an offset
  // with the deleted topic's id, where it is invisible — a commit lost, never a position
  // applied to the new topic. An id the client names is checked against the catalog.
  const ids = await incarnations(topics, byTopic.keys(), true);
  await Promise.all(
    [...byTopic].map(async ([topic, list]) => {
      let current = ids?.get(topic);
      if (ids && list.some((o) => o.topicId !== undefined && o.topicId !== current)) {
        current = await topics.topicId!(topic);
      }
      for (const o of list) {
        if (o.topicId !== undefined && ids && o.topicId !== current) {
          throw new SluiceError(
            'UNKNOWN_TOPIC_ID',
            current === undefined
              ? `topic ${topic} (id ${o.topicId}) was deleted`
              : `topic ${topic} is now id ${current}, not ${o.topicId}: it was deleted and re-created`,
          );
        }
        if (current !== undefined) o.topicId = current;
      }
      const count = await topics.partitionCount(topic);
      for (const o of list) {
        if (count === undefined || o.partition >= count) {
          throw new SluiceError(
            'UNKNOWN_TOPIC_OR_PARTITION',
            count === undefined
              ? `topic ${topic} does not exist`
              : `topic ${topic} has no partition ${o.partition} (it has ${count})`,
          );
        }
      }
      const hwms = await topics.highWatermarks(
        topic,
        list.map((o) => o.partition),
      );
      list.forEach((o, i) => {
        if (o.offset > hwms[i]!) {
          throw new SluiceError(
            'OFFSET_OUT_OF_RANGE',
            `offset ${o.offset} of ${topic}-${o.partition} is past its high watermark ${hwms[i]}`,
          );
        }
        lags.push({ topic, partition: o.partition, lag: hwms[i]! - o.offset });
      });
    }),
  );
  return lags;
}

export function offsetKey(group: string, o: { topic: string; partition: number }): ItemKey {
  return keys.committed(group, o.topic, o.partition);
}

export function offsetData(o: OffsetCommit, now: number): ItemData {
  const data: ItemData =
    o.metadata === undefined || o.metadata === ''
      ? { offset: o.offset, at: now }
      : { offset: o.offset, metadata: o.metadata, at: now };
  if (o.topicId !== undefined) data.tid = o.topicId;
  return data;
}

/** Reads a committed-offset item; undefined for an item that is not one. */
export function decodeOffset(item: Item): CommittedOffset | undefined {
  const rest = item.sk.slice(keys.committedPrefix.length);
  const hash = rest.lastIndexOf('#');
  const partition = Number(rest.slice(hash + 1));
  const offset = item.data.offset;
  if (hash <= 0 || !Number.isSafeInteger(partition) || typeof offset !== 'number') return undefined;
  const metadata = item.data.metadata;
  const tid = item.data.tid;
  return {
    topic: rest.slice(0, hash),
    partition,
    offset,
    metadata: typeof metadata === 'string' ? metadata : null,
    ...(typeof tid === 'string' && { topicId: tid }),
  };
}

/**
 * Throws when a commit would move a committed offset backwards. An offset of another
 * incarnation of the topic is no bound.
 */
export function checkForward(o: OffsetCommit, stored: Item | undefined): void {
  const current = currentItem(stored, o.topicId);
  const committed = current?.data.offset;
  if (typeof committed === 'number' && o.offset < committed) {
    throw new SluiceError(
      'OFFSET_OUT_OF_RANGE',
      `offset ${o.offset} of ${o.topic}-${o.partition} is behind the committed offset ${committed}: ` +
        'commits never move an offset backwards; reset the offsets of the (empty) group instead',
    );
  }
}

/** True when writing `o` over `current` would change nothing a reader sees. */
export function isNoop(o: OffsetCommit, current: Item | undefined): boolean {
  if (!current) return false;
  if (current.data.tid !== o.topicId) return false;
  const metadata = typeof current.data.metadata === 'string' ? current.data.metadata : undefined;
  return current.data.offset === o.offset && metadata === (o.metadata || undefined);
}

/** Sorts by topic, then partition number. */
export function byTopicPartition(
  a: { topic: string; partition: number },
  b: { topic: string; partition: number },
): number {
  return a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition;
}
