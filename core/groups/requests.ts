/**
 * The request shapes of the group API (API.md "Consumer groups") as the core accepts them,
 * and their validation into the normalised forms the pure functions work on. `null` is
 * accepted wherever a field is optional, as "absent".
 */
import { InvalidRequestError } from '../errors.js';
import type { GroupConfig } from './config.js';
import type { HeartbeatRequest } from './membership.js';
import { fromList } from './partition-sets.js';
import {
  MAX_SUBSCRIBED_TOPICS,
  validateMetadata,
  validateOffset,
  validatePartition,
  validateSessionTimeout,
  validateTopic,
} from './validate.js';

export interface HeartbeatInput {
  memberId?: string | null;
  /** 0 joins, -1 leaves, otherwise the epoch of the member's last response. */
  memberEpoch: number;
  topics?: readonly string[] | null;
  ownedPartitions?: readonly { topic: string; partitions: readonly number[] }[] | null;
  sessionTimeoutMs?: number | null;
}

export interface OffsetCommitInput {
  topic: string;
  partition: number;
  /** The next offset to read. */
  offset: number;
  metadata?: string | null;
  /** The topic incarnation the offset is about; a stale one is UNKNOWN_TOPIC_ID. */
  topicId?: string | null;
}

export interface CommitInput {
  memberId?: string | null;
  memberEpoch?: number | null;
  offsets: readonly OffsetCommitInput[];
}

export interface OffsetCommit {
  topic: string;
  partition: number;
  offset: number;
  metadata?: string;
  /**
   * The topic incarnation: as the committer named it, then (once checked against the log)
   * the current one, recorded with the offset.
   */
  topicId?: string;
}

export interface CommitRequest {
  /** Absent: a standalone commit, allowed only while the group has no members. */
  member?: { id: string; epoch: number };
  offsets: OffsetCommit[];
}

const MAX_MEMBER_ID_CHARS = 64;

function validateMemberId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_MEMBER_ID_CHARS) {
    throw new InvalidRequestError(`memberId: a string of 1-${MAX_MEMBER_ID_CHARS} characters`, 'memberId');
  }
}

/**
 * @throws InvalidRequestError naming the field; SluiceError INVALID_TOPIC_EXCEPTION for a bad topic name.
 */
export function validateHeartbeat(input: HeartbeatInput, config: GroupConfig): HeartbeatRequest {
  const epoch = input.memberEpoch;
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < -1) {
    throw new InvalidRequestError('memberEpoch: 0 to join, -1 to leave, or the current epoch', 'memberEpoch');
  }
  const req: HeartbeatRequest = { memberEpoch: epoch };
  if (input.memberId !== undefined && input.memberId !== null) {
    validateMemberId(input.memberId);
    req.memberId = input.memberId;
  } else if (epoch !== 0) {
    throw new InvalidRequestError('memberId: required unless joining (memberEpoch 0)', 'memberId');
  }
  if (input.topics !== undefined && input.topics !== null) {
    if (
      !Array.isArray(input.topics) ||
      input.topics.length === 0 ||
      input.topics.length > MAX_SUBSCRIBED_TOPICS
    ) {
      throw new InvalidRequestError(`topics: a list of 1-${MAX_SUBSCRIBED_TOPICS} topic names`, 'topics');
    }
    for (const [i, t] of input.topics.entries()) validateTopic(t, `topics.${i}`);
    req.topics = input.topics;
  } else if (epoch === 0) {
    throw new InvalidRequestError('topics: required to join (memberEpoch 0)', 'topics');
  }
  if (input.ownedPartitions !== undefined && input.ownedPartitions !== null) {
    if (!Array.isArray(input.ownedPartitions)) {
      throw new InvalidRequestError('ownedPartitions: a list of {topic, partitions}', 'ownedPartitions');
    }
    input.ownedPartitions.forEach((o, i) => {
      validateTopic(o?.topic, `ownedPartitions.${i}.topic`);
      if (!Array.isArray(o.partitions)) {
        throw new InvalidRequestError(
          `ownedPartitions.${i}.partitions: a list`,
          `ownedPartitions.${i}.partitions`,
        );
      }
      for (const [j, p] of (o.partitions as readonly unknown[]).entries()) {
        validatePartition(p, `ownedPartitions.${i}.partitions.${j}`);
      }
    });
    req.ownedPartitions = fromList(input.ownedPartitions);
  }
  if (input.sessionTimeoutMs !== undefined && input.sessionTimeoutMs !== null) {
    validateSessionTimeout(config, input.sessionTimeoutMs);
    req.sessionTimeoutMs = input.sessionTimeoutMs;
  }
  return req;
}

/** @throws InvalidRequestError naming the field; INVALID_TOPIC_EXCEPTION for a bad topic name. */
export function validateCommit(input: CommitInput): CommitRequest {
  const req: CommitRequest = { offsets: [] };
  const hasId = input.memberId !== undefined && input.memberId !== null;
  const hasEpoch = input.memberEpoch !== undefined && input.memberEpoch !== null;
  if (hasId) {
    validateMemberId(input.memberId);
    const epoch = input.memberEpoch;
    if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 1) {
      throw new InvalidRequestError(
        'memberEpoch: a member commits with its current epoch (≥ 1)',
        'memberEpoch',
      );
    }
    req.member = { id: input.memberId as string, epoch };
  } else if (hasEpoch && (input.memberEpoch as number) > 0) {
    throw new InvalidRequestError('memberId: required with a member epoch', 'memberId');
  }
  if (!Array.isArray(input.offsets)) throw new InvalidRequestError('offsets: a list', 'offsets');
  const seen = new Set<string>();
  input.offsets.forEach((o, i) => {
    validateTopic(o?.topic, `offsets.${i}.topic`);
    validatePartition(o.partition, `offsets.${i}.partition`);
    validateOffset(o.offset, `offsets.${i}.offset`);
    const metadata = o.metadata ?? undefined;
    validateMetadata(metadata, `offsets.${i}.metadata`);
    const id = `${o.topic}#${o.partition}`;
    if (seen.has(id)) {
      throw new InvalidRequestError(`offsets.${i}: ${o.topic}-${o.partition} is named twice`, `offsets.${i}`);
    }
    seen.add(id);
    const topicId = o.topicId ?? undefined;
    if (
      topicId !== undefined &&
      (typeof topicId !== 'string' || topicId.length === 0 || topicId.length > 64)
    ) {
      throw new InvalidRequestError(
        `offsets.${i}.topicId: a topic id (1-64 characters)`,
        `offsets.${i}.topicId`,
      );
    }
    req.offsets.push({
      topic: o.topic,
      partition: o.partition,
      offset: o.offset,
      ...(metadata !== undefined && { metadata }),
      ...(topicId !== undefined && { topicId }),
    });
  });
  return req;
}
