/**
 * The admin client: topics, offsets and groups, with kafkajs' method names and shapes
 * where kafkajs has the method.
 */
import type { SubscriptionConfig, SubscriptionInput } from '../core/subscriptions/config.js';
import type { SluiceApi } from './api.js';
import {
  SluiceArgumentError,
  SluiceProtocolError,
  TopicAlreadyExistsError,
  UnknownTopicOrPartitionError,
} from './errors.js';

export interface ITopicConfig {
  topic: string;
  /** @default 1 */
  numPartitions?: number;
  /** Ignored: S3 and DynamoDB replicate. Accepted for kafkajs compatibility. */
  replicationFactor?: number;
  /** `retention.ms`, `retention.bytes`, `cleanup.policy`, `max.message.bytes`. */
  configEntries?: { name: string; value: string }[];
}

export interface TopicDescription {
  name: string;
  config: Record<string, string | number>;
  partitions: { partition: number; logStartOffset: number; highWatermark: number }[];
}

export interface PartitionMetadata {
  partitionId: number;
  partitionErrorCode: number;
  /** Sluice has no brokers: always 0. */
  leader: number;
  replicas: number[];
  isr: number[];
  offlineReplicas: number[];
}

export interface ITopicMetadata {
  name: string;
  partitions: PartitionMetadata[];
}

export interface SeekEntry {
  partition: number;
  offset: string;
}

export interface GroupOverview {
  groupId: string;
  protocolType: string;
  /** kafkajs' names, as `describeGroups`: `Empty`, `Stable`, `PreparingRebalance`. */
  state: string;
  members: number;
}

export interface MemberDescription {
  memberId: string;
  clientId: string;
  clientHost: string;
  memberMetadata: Buffer;
  memberAssignment: Buffer;
  /** Sluice: the member's epoch and its assignment, decoded. */
  memberEpoch: number;
  assignment: { topic: string; partitions: number[] }[];
}

export interface PartitionLag {
  topic: string;
  partition: number;
  committed: number | null;
  highWatermark: number | null;
  lag: number | null;
}

export interface GroupDescription {
  groupId: string;
  /** kafkajs' names: `Empty`, `Stable`, `PreparingRebalance`. */
  state: string;
  protocol: string;
  protocolType: string;
  members: MemberDescription[];
  /** Sluice: group epoch and per-partition lag. */
  epoch: number;
  lag: PartitionLag[];
}

export interface FetchOffsetsPartition {
  partition: number;
  /** The next offset to read, or '-1' when the group never committed the partition. */
  offset: string;
  metadata: string | null;
}

const STATES: Record<string, string> = {
  empty: 'Empty',
  stable: 'Stable',
  reconciling: 'PreparingRebalance',
};

interface RawGroup {
  group: string;
  state: string;
  epoch: number;
  members: { memberId: string; memberEpoch: number; assignment: { topic: string; partitions: number[] }[] }[];
  lag: PartitionLag[];
}

/**
 * Create it with `sluice.admin()`.
 *
 * @example
 * const admin = sluice.admin();
 * await admin.connect();
 * await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 6 }] });
 */
export class Admin {
  constructor(private readonly api: SluiceApi) {}

  /**
   * Reads cluster metadata (fails fast when the endpoint is wrong).
   * @example
   * await admin.connect();
   */
  async connect(): Promise<void> {
    await this.api.metadata(true);
  }

  /**
   * Nothing to close: requests are independent.
   * @example
   * await admin.disconnect();
   */
  async disconnect(): Promise<void> {}

  /**
   * Creates topics. Resolves `true` when every topic was created, `false` when some already
   * existed (as kafkajs). `validateOnly` only checks the names.
   *
   * @example
   * await admin.createTopics({
   *   topics: [{ topic: 'orders', numPartitions: 12, configEntries: [{ name: 'retention.ms', value: '86400000' }] }],
   * });
   */
  async createTopics(options: {
    topics: ITopicConfig[];
    validateOnly?: boolean;
    waitForLeaders?: boolean;
    timeout?: number;
  }): Promise<boolean> {
    if (!options || !Array.isArray(options.topics))
      throw new SluiceArgumentError('createTopics({ topics }) needs an array');
    let all = true;
    for (const t of options.topics) {
      if (options.validateOnly) {
        if (!/^[a-zA-Z0-9._-]{1,249}$/.test(t.topic) || t.topic === '.' || t.topic === '..') {
          throw new SluiceProtocolError('INVALID_TOPIC_EXCEPTION', `invalid topic name '${t.topic}'`, {
            status: 400,
            retriable: false,
          });
        }
        continue;
      }
      const config: Record<string, string | number> = {};
      for (const e of t.configEntries ?? [])
        config[e.name] = /^-?\d+$/.test(e.value) ? Number(e.value) : e.value;
      try {
        await this.api.json('admin', {
          method: 'POST',
          path: '/v1/topics',
          json: {
            name: t.topic,
            partitions: t.numPartitions ?? 1,
            ...(t.configEntries?.length && { config }),
          },
        });
      } catch (err) {
        if (!(err instanceof TopicAlreadyExistsError)) throw err;
        all = false;
      }
    }
    this.api.invalidate();
    return all;
  }

  /**
   * Deletes topics; an unknown topic rejects with `UnknownTopicOrPartitionError`.
   * @example
   * await admin.deleteTopics({ topics: ['orders'] });
   */
  async deleteTopics(options: { topics: string[]; timeout?: number }): Promise<void> {
    for (const topic of options.topics) {
      await this.api.call('admin', { method: 'DELETE', path: `/v1/topics/${encodeURIComponent(topic)}` });
    }
    this.api.invalidate();
  }

  /**
   * @example
   * const names = await admin.listTopics(); // ['orders', 'audit']
   */
  async listTopics(): Promise<string[]> {
    const res = await this.api.json<{ topics: { name: string }[] }>('admin', {
      method: 'GET',
      path: '/v1/topics',
    });
    return res.topics.map((t) => t.name);
  }

  /**
   * Sluice: a topic's configuration and, per partition, log start and high watermark.
   * @example
   * const { config, partitions } = await admin.describeTopic('orders');
   * console.log(config['retention.ms'], partitions[0].highWatermark);
   */
  async describeTopic(topic: string): Promise<TopicDescription> {
    return this.api.json<TopicDescription>('admin', {
      method: 'GET',
      path: `/v1/topics/${encodeURIComponent(topic)}`,
    });
  }

  /**
   * Partitions of the given topics (all topics when none are named).
   * @example
   * const { topics } = await admin.fetchTopicMetadata({ topics: ['orders'] });
   * console.log(topics[0].partitions.length);
   */
  async fetchTopicMetadata(options?: { topics?: string[] }): Promise<{ topics: ITopicMetadata[] }> {
    const meta = await this.api.metadata(true);
    const wanted = options?.topics;
    const found = wanted
      ? wanted.map((name) => meta.topics.find((t) => t.name === name) ?? name)
      : meta.topics;
    return {
      topics: found.map((t) => {
        if (typeof t === 'string')
          throw new UnknownTopicOrPartitionError(`topic '${t}' does not exist`, { status: 404 });
        return {
          name: t.name,
          partitions: Array.from({ length: t.partitions }, (_, partitionId) => ({
            partitionId,
            partitionErrorCode: 0,
            leader: 0,
            replicas: [0],
            isr: [0],
            offlineReplicas: [],
          })),
        };
      }),
    };
  }

  /**
   * Grows topics to `count` partitions (a count never shrinks).
   * @example
   * await admin.createPartitions({ topicPartitions: [{ topic: 'orders', count: 24 }] });
   */
  async createPartitions(options: {
    topicPartitions: { topic: string; count: number }[];
    validateOnly?: boolean;
    timeout?: number;
  }): Promise<boolean> {
    if (options.validateOnly) return true;
    for (const tp of options.topicPartitions) {
      await this.api.call('admin', {
        method: 'POST',
        path: `/v1/topics/${encodeURIComponent(tp.topic)}/partitions`,
        json: { count: tp.count },
      });
    }
    this.api.invalidate();
    return true;
  }

  /**
   * Log start (`low`) and high watermark (`high`, also `offset`) of every partition.
   * @example
   * for (const p of await admin.fetchTopicOffsets('orders')) console.log(p.partition, p.low, p.high);
   */
  async fetchTopicOffsets(topic: string): Promise<(SeekEntry & { high: string; low: string })[]> {
    const res = await this.api.json<{
      partitions: { partition: number; logStartOffset: number; highWatermark: number }[];
    }>('admin', { method: 'GET', path: `/v1/topics/${encodeURIComponent(topic)}` });
    return res.partitions.map((p) => ({
      partition: p.partition,
      offset: String(p.highWatermark),
      high: String(p.highWatermark),
      low: String(p.logStartOffset),
    }));
  }

  /**
   * Per partition, the first offset whose timestamp is ≥ `timestamp` (the high watermark
   * when none is); without a timestamp, the latest offsets.
   * @example
   * const anHourAgo = await admin.fetchTopicOffsetsByTimestamp('orders', Date.now() - 3_600_000);
   */
  async fetchTopicOffsetsByTimestamp(topic: string, timestamp?: number): Promise<SeekEntry[]> {
    const count = await this.api.partitionCount(topic);
    return Promise.all(
      Array.from({ length: count }, async (_, partition) => {
        const res = await this.api.json<{ offset: number }>('fetch', {
          method: 'GET',
          path: '/v1/offsets',
          query: {
            topic,
            partition,
            at: timestamp === undefined ? 'latest' : Math.max(0, Math.floor(timestamp)),
          },
        });
        return { partition, offset: String(res.offset) };
      }),
    );
  }

  /**
   * @example
   * const { groups } = await admin.listGroups();
   */
  async listGroups(): Promise<{ groups: GroupOverview[] }> {
    const res = await this.api.json<{ groups: { group: string; state: string; members: number }[] }>(
      'groups',
      {
        method: 'GET',
        path: '/v1/groups',
      },
    );
    return {
      groups: res.groups.map((g) => ({
        groupId: g.group,
        protocolType: 'consumer',
        state: STATES[g.state] ?? 'Dead',
        members: g.members,
      })),
    };
  }

  /**
   * Members, assignments, state and lag of groups. An unknown group is described as
   * empty with no members (as kafkajs does, state `Dead` there).
   * @example
   * const { groups: [billing] } = await admin.describeGroups(['billing']);
   * console.log(billing.state, billing.lag);
   */
  async describeGroups(groupIds: string[]): Promise<{ groups: GroupDescription[] }> {
    const groups = await Promise.all(
      groupIds.map(async (groupId) => {
        try {
          const g = await this.api.json<RawGroup>('groups', {
            method: 'GET',
            path: `/v1/groups/${encodeURIComponent(groupId)}`,
          });
          return describe(g);
        } catch (err) {
          if (err instanceof SluiceProtocolError && err.code === 'GROUP_ID_NOT_FOUND') {
            return describe({ group: groupId, state: 'dead', epoch: 0, members: [], lag: [] });
          }
          throw err;
        }
      }),
    );
    return { groups };
  }

  /**
   * Committed offsets of a group. With `topics`, every partition of those topics is listed
   * ('-1' when never committed); `resolveOffsets` replaces '-1' by the latest offset.
   * @example
   * const [orders] = await admin.fetchOffsets({ groupId: 'billing', topics: ['orders'] });
   */
  async fetchOffsets(options: {
    groupId: string;
    topics?: string[];
    resolveOffsets?: boolean;
  }): Promise<{ topic: string; partitions: FetchOffsetsPartition[] }[]> {
    const res = await this.api.json<{
      offsets: { topic: string; partition: number; offset: number; metadata: string | null }[];
    }>('groups', { method: 'GET', path: `/v1/groups/${encodeURIComponent(options.groupId)}/offsets` });
    const topics = options.topics ?? [...new Set(res.offsets.map((o) => o.topic))].sort();
    return Promise.all(
      topics.map(async (topic) => {
        const committed = res.offsets.filter((o) => o.topic === topic);
        const count = options.topics
          ? await this.api.partitionCount(topic)
          : Math.max(...committed.map((o) => o.partition)) + 1;
        const latest = options.resolveOffsets ? await this.fetchTopicOffsets(topic) : [];
        const partitions: FetchOffsetsPartition[] = [];
        for (let partition = 0; partition < count; partition++) {
          const c = committed.find((o) => o.partition === partition);
          if (!c && !options.topics) continue;
          const offset = c
            ? String(c.offset)
            : options.resolveOffsets
              ? (latest[partition]?.high ?? '-1')
              : '-1';
          partitions.push({ partition, offset, metadata: c?.metadata ?? null });
        }
        return { topic, partitions };
      }),
    );
  }

  /**
   * Sets committed offsets of a group that has no live members — the only way to move them
   * backwards (members' commits only move forwards).
   * @example
   * await admin.setOffsets({ groupId: 'billing', topic: 'orders', partitions: [{ partition: 0, offset: '42' }] });
   */
  async setOffsets(options: { groupId: string; topic: string; partitions: SeekEntry[] }): Promise<void> {
    await this.api.call('groups', {
      method: 'POST',
      path: `/v1/groups/${encodeURIComponent(options.groupId)}/offsets/reset`,
      json: {
        topic: options.topic,
        partitions: options.partitions.map((p) => ({ partition: p.partition, offset: toOffset(p.offset) })),
      },
    });
  }

  /**
   * Moves every partition of a topic to its earliest (`earliest: true`) or latest offset.
   * @example
   * await admin.resetOffsets({ groupId: 'billing', topic: 'orders', earliest: true });
   */
  async resetOffsets(options: { groupId: string; topic: string; earliest?: boolean }): Promise<void> {
    const offsets = await this.fetchTopicOffsets(options.topic);
    await this.setOffsets({
      groupId: options.groupId,
      topic: options.topic,
      partitions: offsets.map((o) => ({ partition: o.partition, offset: options.earliest ? o.low : o.high })),
    });
  }

  /**
   * Sluice: creates a subscription — the cluster pushes the topic's records to `target` (a
   * Lambda function name or ARN; a module `./handler.ts#main` under `sluice dev`). Fields and
   * defaults: API.md "Subscriptions".
   * @throws SubscriptionAlreadyExistsError, UnknownTopicOrPartitionError, InvalidRequestError
   * @example
   * await admin.createSubscription({ name: 'billing', topic: 'orders', target: 'billing-fn', onFailure: dlqArn });
   */
  async createSubscription(input: SubscriptionInput): Promise<Subscription> {
    const res = await this.api.json<{ subscription: Subscription }>('admin', {
      method: 'POST',
      path: '/v1/subscriptions',
      json: input,
    });
    return res.subscription;
  }

  /** Sluice: every subscription. */
  async listSubscriptions(): Promise<Subscription[]> {
    return (
      await this.api.json<{ subscriptions: Subscription[] }>('admin', {
        method: 'GET',
        path: '/v1/subscriptions',
      })
    ).subscriptions;
  }

  /**
   * Sluice: a subscription and its group's lag per partition.
   * @throws SubscriptionNotFoundError
   */
  async describeSubscription(name: string): Promise<{ subscription: Subscription; lag: SubscriptionLag[] }> {
    return this.api.json('admin', { method: 'GET', path: `/v1/subscriptions/${encodeURIComponent(name)}` });
  }

  /** Sluice: changes a subscription's mutable settings (target, batching, retries, onFailure, enabled). */
  async updateSubscription(name: string, changes: Partial<SubscriptionInput>): Promise<Subscription> {
    const res = await this.api.json<{ subscription: Subscription }>('admin', {
      method: 'PATCH',
      path: `/v1/subscriptions/${encodeURIComponent(name)}`,
      json: changes,
    });
    return res.subscription;
  }

  /** Sluice: stops delivering (offsets are kept). */
  async pauseSubscription(name: string): Promise<Subscription> {
    return this.enableSubscription(name, 'pause');
  }

  /** Sluice: delivers again from where it stopped. */
  async resumeSubscription(name: string): Promise<Subscription> {
    return this.enableSubscription(name, 'resume');
  }

  /** Sluice: deletes a subscription (its group and offsets stay). */
  async deleteSubscription(name: string): Promise<void> {
    await this.api.call('admin', { method: 'DELETE', path: `/v1/subscriptions/${encodeURIComponent(name)}` });
  }

  private async enableSubscription(name: string, action: 'pause' | 'resume'): Promise<Subscription> {
    const res = await this.api.json<{ subscription: Subscription }>('admin', {
      method: 'POST',
      path: `/v1/subscriptions/${encodeURIComponent(name)}/${action}`,
    });
    return res.subscription;
  }

  /**
   * Deletes groups and their committed offsets; a group with members fails with
   * `NonEmptyGroupError` in its result entry (as kafkajs reports per group).
   * @example
   * const [result] = await admin.deleteGroups(['billing']);
   */
  async deleteGroups(
    groupIds: string[],
  ): Promise<{ groupId: string; errorCode: number; error?: SluiceProtocolError }[]> {
    return Promise.all(
      groupIds.map(async (groupId) => {
        try {
          await this.api.call('groups', {
            method: 'DELETE',
            path: `/v1/groups/${encodeURIComponent(groupId)}`,
          });
          return { groupId, errorCode: 0 };
        } catch (err) {
          if (err instanceof SluiceProtocolError && !err.retriable)
            return { groupId, errorCode: err.status, error: err };
          throw err;
        }
      }),
    );
  }
}

/** A subscription as the API returns it (API.md "Subscriptions"). */
export type Subscription = SubscriptionConfig;
/** What `createSubscription` takes: name, topic and target, the rest optional. */
export type { SubscriptionInput };
/** Lag of a subscription's group on one partition. */
export interface SubscriptionLag {
  topic: string;
  partition: number;
  committed: number | null;
  highWatermark: number | null;
  lag: number | null;
}

function toOffset(value: string | number): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new SluiceArgumentError(`offset must be a non-negative integer, got '${value}'`);
  return n;
}

function describe(g: RawGroup): GroupDescription {
  return {
    groupId: g.group,
    state: STATES[g.state] ?? 'Dead',
    protocol: 'uniform',
    protocolType: 'consumer',
    epoch: g.epoch,
    lag: g.lag,
    members: g.members.map((m) => ({
      memberId: m.memberId,
      clientId: '',
      clientHost: '',
      memberMetadata: Buffer.alloc(0),
      memberAssignment: Buffer.alloc(0),
      memberEpoch: m.memberEpoch,
      assignment: m.assignment,
    })),
  };
}
