/** The consumer's public shapes, as kafkajs names them. */
import type { KafkaMessage } from '../messages.js';
import type { RetryOptions } from '../retry.js';
import type { Deserializer } from '../serializers.js';

export interface ConsumerConfig<K = Buffer, V = Buffer> {
  /**
   * The consumer group. Without one the consumer reads the partitions given to
   * `consumer.assign(...)` and commits nothing.
   */
  groupId?: string;
  /** A member that stops heartbeating for this long is removed from the group (ms, 6000–1800000). @default 45000 */
  sessionTimeout?: number;
  /** Upper bound of the heartbeat interval (ms); the server may ask for a shorter one. @default 3000 */
  heartbeatInterval?: number;
  /**
   * The heartbeat interval while the consumer is idle — its fetches come back empty (a
   * deployed cluster answers them at once) and no partition is being handed over — in ms,
   * capped at a third of `sessionTimeout`. Any record fetched brings it back to
   * `heartbeatInterval`. It bounds how long a joining member waits for an idle one to
   * release partitions, and an idle member's cost (docs/deploy.md: a heartbeat is a
   * billed Lambda request; 15 s makes about 1.7 × 10⁵ a month).
   * @default 5 × heartbeatInterval (15000)
   */
  idleHeartbeatInterval?: number;
  /** Byte budget of one fetch request across its partitions (at most 4 MiB). @default 4194304 */
  maxBytes?: number;
  /** A fetch waits up to this long for data when none is available (long poll, ms, ≤ 20000). @default 5000 */
  maxWaitTimeInMs?: number;
  /**
   * While the partitions stay empty and the server answers at once (a deployed cluster
   * holds no long polls), the consumer waits between fetches itself: 100 ms, doubling up
   * to this (ms). It bounds how late the first record after a quiet spell is seen, and
   * an idle consumer's cost (docs/deploy.md: about 2 × 10⁵ fetches a month at 10 s).
   * @default 10000
   */
  maxIdleWaitInMs?: number;
  /**
   * Where a partition with no committed offset (or whose offset fell out of the log)
   * starts; `subscribe({ fromBeginning: true })` selects `earliest`.
   * @default 'latest'
   */
  offsetReset?: 'earliest' | 'latest';
  /** Retry policy of requests and of a failing `eachMessage`/`eachBatch`. */
  retry?: RetryOptions;
  /** Turns key bytes into values. */
  keyDeserializer?: Deserializer<K>;
  /** Turns value bytes into values (e.g. `Deserializers.json()`, or an avsc `type.fromBuffer`). */
  valueDeserializer?: Deserializer<V>;
  /** How often regular-expression subscriptions look for new topics (ms). @default 30000 */
  metadataMaxAge?: number;
  /** kafkajs: accepted and ignored — the server assigns partitions (no client-side rebalance). */
  rebalanceTimeout?: number;
  /** kafkajs: accepted and ignored — the server assigns partitions (`SLUICE_GROUP_ASSIGNOR`). */
  partitionAssigners?: unknown[];
  /** kafkajs: accepted and ignored — a fetch returns as soon as any data is available. */
  minBytes?: number;
  /** kafkajs: accepted and ignored — `maxBytes` bounds the whole fetch. */
  maxBytesPerPartition?: number;
  /**
   * kafkajs's isolation switch, accepted and ignored: Sluice has no uncommitted records to
   * show. A transaction's records get index entries only when it commits, so every read is
   * read-committed, and no reader ever waits on an open transaction (no last stable offset).
   */
  readUncommitted?: boolean;
  /** kafkajs: accepted and ignored (no racks). */
  rackId?: string;
  /** kafkajs: accepted and ignored — a subscription never creates topics. */
  allowAutoTopicCreation?: boolean;
  /** kafkajs: accepted and ignored. */
  maxInFlightRequests?: number | null;
}

export interface ConsumerSubscribeTopics {
  topics: (string | RegExp)[];
  /** Start partitions that have no committed offset at the earliest offset. @default false */
  fromBeginning?: boolean;
}

export interface TopicPartitions {
  topic: string;
  partitions: number[];
}

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  offset: string;
}

export interface TopicPartitionOffsetAndMetadata extends TopicPartitionOffset {
  metadata?: string | null;
}

/**
 * The messages of one partition handed to `eachBatch`, in offset order.
 *
 * @example
 * await consumer.run({
 *   eachBatch: async ({ batch }) => console.log(batch.topic, batch.partition, batch.firstOffset(), batch.offsetLag()),
 * });
 */
export interface Batch<K = Buffer, V = Buffer> {
  topic: string;
  partition: number;
  highWatermark: string;
  messages: KafkaMessage<K, V>[];
  isEmpty(): boolean;
  firstOffset(): string | null;
  lastOffset(): string;
  /** Offsets between the last message and the high watermark. */
  offsetLag(): string;
  /** Offsets between the first message and the high watermark. */
  offsetLagLow(): string;
}

export interface OffsetsByTopicPartition {
  topics: { topic: string; partitions: { partition: number; offset: string }[] }[];
}

/**
 * @example
 * await consumer.run({
 *   eachMessage: async ({ topic, partition, message, pause }) => {
 *     if (!(await downstreamReady())) { const resume = pause(); setTimeout(resume, 5_000); throw new Error('retry later'); }
 *     await handle(topic, partition, message.value);
 *   },
 * });
 */
export interface EachMessagePayload<K = Buffer, V = Buffer> {
  topic: string;
  partition: number;
  message: KafkaMessage<K, V>;
  /** Heartbeats run in the background; kept for kafkajs compatibility. */
  heartbeat(): Promise<void>;
  /** Pauses this partition after this message; returns a function that resumes it. */
  pause(): () => void;
}

/**
 * @example
 * await consumer.run({
 *   eachBatchAutoResolve: false,
 *   eachBatch: async ({ batch, resolveOffset, commitOffsetsIfNecessary, isStale }) => {
 *     for (const message of batch.messages) {
 *       if (isStale()) break;
 *       await handle(message);
 *       resolveOffset(message.offset);
 *       await commitOffsetsIfNecessary();
 *     }
 *   },
 * });
 */
export interface EachBatchPayload<K = Buffer, V = Buffer> {
  batch: Batch<K, V>;
  /** Marks `offset` as processed: the next commit stores `offset + 1`. */
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
  pause(): () => void;
  /** Commits resolved offsets now if the auto-commit policy says so (or the given offsets). */
  commitOffsetsIfNecessary(offsets?: OffsetsByTopicPartition): Promise<void>;
  uncommittedOffsets(): OffsetsByTopicPartition;
  isRunning(): boolean;
  /** True once the partition was revoked, paused or sought: stop processing this batch. */
  isStale(): boolean;
}

export type EachMessageHandler<K = Buffer, V = Buffer> = (payload: EachMessagePayload<K, V>) => Promise<void>;
export type EachBatchHandler<K = Buffer, V = Buffer> = (payload: EachBatchPayload<K, V>) => Promise<void>;

export interface ConsumerRunConfig<K = Buffer, V = Buffer> {
  eachMessage?: EachMessageHandler<K, V>;
  eachBatch?: EachBatchHandler<K, V>;
  /** Commit processed offsets automatically. @default true */
  autoCommit?: boolean;
  /** Commit at most this often (ms); by default after every batch. */
  autoCommitInterval?: number | null;
  /** Commit once this many messages were processed since the last commit. */
  autoCommitThreshold?: number | null;
  /** After `eachBatch` returns, mark its last message processed. @default true */
  eachBatchAutoResolve?: boolean;
  /** Partitions processed at the same time (each in offset order). @default 1 */
  partitionsConsumedConcurrently?: number;
  /**
   * `at-least-once` (default) commits after processing: a crash re-delivers. `at-most-once`
   * commits a fetched batch before handing it over: a crash loses it, never re-delivers.
   * @default 'at-least-once'
   */
  delivery?: 'at-least-once' | 'at-most-once';
}

/** Consumer events (a subset of kafkajs'). */
export const ConsumerEvents = {
  GROUP_JOIN: 'consumer.group_join',
  HEARTBEAT: 'consumer.heartbeat',
  COMMIT_OFFSETS: 'consumer.commit_offsets',
  REBALANCING: 'consumer.rebalancing',
  CRASH: 'consumer.crash',
  STOP: 'consumer.stop',
} as const;

export type ConsumerEventName = (typeof ConsumerEvents)[keyof typeof ConsumerEvents];

export interface ConsumerEvent<P = Record<string, unknown>> {
  id: number;
  type: ConsumerEventName;
  timestamp: number;
  payload: P;
}
