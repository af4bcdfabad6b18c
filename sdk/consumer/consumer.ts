/**
 * The consumer: a kafkajs-shaped facade over its parts — the fetch loop (fetch-loop.ts)
 * long-polls every partition it consumes in one binary `POST /v1/fetch`, delivery
 * (delivery.ts) hands records to `eachMessage`/`eachBatch` in offset order per partition,
 * the commit policy (commit-policy.ts) commits what was processed, and in a group the
 * background heartbeat (membership.ts, group-assignment.ts) decides which partitions it
 * consumes; without a group, `assign` does. Pause and seek state: partition-table.ts.
 */
import type { SluiceApi } from '../api.js';
import { SluiceArgumentError } from '../errors.js';
import type { Logger } from '../logger.js';
import { DEFAULT_RETRY } from '../retry.js';
import { CommitPolicy } from './commit-policy.js';
import { Delivery } from './delivery.js';
import { DEFAULT_MAX_IDLE_WAIT_MS, FetchLoop } from './fetch-loop.js';
import { GroupAssignment } from './group-assignment.js';
import { GroupMembership } from './membership.js';
import { PartitionTable, toOffset } from './partition-table.js';
import type { ConsumerRuntime } from './runtime.js';
import {
  type ConsumerConfig,
  type ConsumerEvent,
  type ConsumerEventName,
  ConsumerEvents,
  type ConsumerRunConfig,
  type ConsumerSubscribeTopics,
  type TopicPartitionOffset,
  type TopicPartitionOffsetAndMetadata,
  type TopicPartitions,
} from './types.js';

const MAX_FETCH_BYTES = 4 * 1024 * 1024;
const MAX_WAIT_MS = 20_000;

/**
 * A kafkajs-shaped consumer. Create it with `sluice.consumer(config)`.
 *
 * @example
 * const consumer = sluice.consumer({ groupId: 'billing' });
 * await consumer.connect();
 * await consumer.subscribe({ topics: ['orders'], fromBeginning: true });
 * await consumer.run({
 *   eachMessage: async ({ topic, partition, message }) => {
 *     console.log(topic, partition, message.offset, message.value?.toString());
 *   },
 * });
 */
export class Consumer<K = Buffer, V = Buffer> {
  private readonly rt: ConsumerRuntime<K, V>;
  private readonly commits: CommitPolicy<K, V>;
  private readonly fetcher: FetchLoop<K, V>;
  private readonly group: GroupAssignment<K, V>;
  private manual: { topic: string; partitions?: number[] }[] | undefined;
  private loop: Promise<void> | undefined;
  private readonly listeners = new Map<ConsumerEventName, Set<(e: ConsumerEvent) => void>>();
  private eventId = 0;

  constructor(
    api: SluiceApi,
    logger: Logger,
    private readonly config: ConsumerConfig<K, V> = {},
  ) {
    const groupId = config.groupId;
    if (groupId !== undefined && (typeof groupId !== 'string' || groupId.length === 0)) {
      throw new SluiceArgumentError(
        'groupId must be a non-empty string (or omitted for a consumer without a group)',
      );
    }
    this.rt = {
      api,
      logger: logger.namespace('Consumer'),
      config,
      groupId,
      retry: { ...DEFAULT_RETRY, ...config.retry },
      table: new PartitionTable(),
      subscription: undefined,
      runConfig: {
        autoCommit: true,
        eachBatchAutoResolve: true,
        partitionsConsumedConcurrently: 1,
        delivery: 'at-least-once',
      },
      running: false,
      membership: undefined,
      wakeUp: () => this.fetcher.wakeUp(),
      emit: (type, payload) => this.emit(type, payload),
    };
    const maxBytes = Math.min(MAX_FETCH_BYTES, config.maxBytes ?? MAX_FETCH_BYTES);
    const maxWaitMs = Math.min(MAX_WAIT_MS, Math.max(0, config.maxWaitTimeInMs ?? 5000));
    this.commits = new CommitPolicy(this.rt);
    this.fetcher = new FetchLoop(
      this.rt,
      new Delivery(this.rt, this.commits),
      this.commits,
      maxBytes,
      maxWaitMs,
      Math.max(0, config.maxIdleWaitInMs ?? DEFAULT_MAX_IDLE_WAIT_MS),
    );
    this.group = new GroupAssignment(this.rt, this.commits, config.metadataMaxAge ?? 30_000);
  }

  private get groupId(): string | undefined {
    return this.rt.groupId;
  }

  /** kafkajs-style event names: `consumer.events.GROUP_JOIN`… */
  readonly events = ConsumerEvents;

  /**
   * Checks the endpoint (reads cluster metadata).
   * @example
   * await consumer.connect();
   */
  async connect(): Promise<void> {
    await this.rt.api.metadata();
  }

  /**
   * Subscribes to topics by name or regular expression (matched against the topic list,
   * re-checked every `metadataMaxAge`). May be called several times before `run`.
   * Without a `groupId`, the consumer reads every partition of the matched topics.
   *
   * @example
   * await consumer.subscribe({ topics: ['orders', /^audit\./], fromBeginning: true });
   */
  async subscribe(
    subscription: ConsumerSubscribeTopics | { topic: string | RegExp; fromBeginning?: boolean },
  ): Promise<void> {
    if (this.rt.running)
      throw new SluiceArgumentError('subscribe before run(): stop the consumer to change its subscription');
    const s = subscription as Partial<ConsumerSubscribeTopics> & { topic?: string | RegExp };
    const patterns = s.topics ?? (s.topic !== undefined ? [s.topic] : undefined);
    if (!Array.isArray(patterns) || patterns.length === 0) {
      throw new SluiceArgumentError(
        'subscribe({ topics }) needs a non-empty array of topic names or regular expressions',
      );
    }
    for (const p of patterns) {
      if (typeof p !== 'string' && !(p instanceof RegExp)) {
        throw new SluiceArgumentError(`subscribe: '${String(p)}' is neither a topic name nor a RegExp`);
      }
    }
    // As kafkajs: a topic named outright must exist (UnknownTopicOrPartitionError), never waited on silently.
    for (const p of patterns) if (typeof p === 'string') await this.rt.api.partitionCount(p);
    this.rt.subscription = {
      patterns: [...(this.rt.subscription?.patterns ?? []), ...patterns],
      fromBeginning: s.fromBeginning ?? this.rt.subscription?.fromBeginning ?? false,
    };
  }

  /**
   * For a consumer without `groupId`: read these partitions (all of a topic's when
   * `partitions` is omitted). Positions come from `seek`, else the reset policy.
   *
   * @example
   * const reader = sluice.consumer();
   * reader.assign([{ topic: 'orders', partitions: [0, 1] }]);
   * reader.seek({ topic: 'orders', partition: 0, offset: '100' });
   * await reader.run({ eachMessage: async ({ message }) => console.log(message.offset) });
   */
  assign(assignment: { topic: string; partitions?: number[] }[]): void {
    if (this.groupId !== undefined) {
      throw new SluiceArgumentError(
        'assign() is for consumers without a groupId; a group member gets its partitions from the group',
      );
    }
    if (!Array.isArray(assignment))
      throw new SluiceArgumentError('assign([{ topic, partitions }]) needs an array');
    this.manual = assignment.map((a) => ({ topic: a.topic, partitions: a.partitions }));
    if (this.rt.running) {
      // Running already: a missing topic or partition is reported as kafkajs reports failures.
      void this.group
        .applyManual(this.manual)
        .catch((error) => this.emit(ConsumerEvents.CRASH, { error, groupId: undefined, restart: false }));
    }
  }

  /**
   * Starts consuming. Resolves once the consumer joined its group (or, without one, once
   * it started); processing runs in the background until `stop`/`disconnect`.
   *
   * @example
   * await consumer.run({
   *   partitionsConsumedConcurrently: 4,
   *   eachBatch: async ({ batch, resolveOffset }) => {
   *     for (const m of batch.messages) { await handle(m); resolveOffset(m.offset); }
   *   },
   * });
   */
  async run(config: ConsumerRunConfig<K, V>): Promise<void> {
    if (this.rt.running) throw new SluiceArgumentError('the consumer is already running');
    if (!config || (typeof config.eachMessage !== 'function') === (typeof config.eachBatch !== 'function')) {
      throw new SluiceArgumentError('run() needs exactly one of eachMessage or eachBatch');
    }
    const concurrency = config.partitionsConsumedConcurrently ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new SluiceArgumentError(
        `partitionsConsumedConcurrently must be a positive integer, got ${concurrency}`,
      );
    }
    this.rt.runConfig = {
      ...config,
      autoCommit: config.autoCommit ?? true,
      eachBatchAutoResolve: config.eachBatchAutoResolve ?? true,
      partitionsConsumedConcurrently: concurrency,
      delivery: config.delivery ?? 'at-least-once',
    };
    if (this.groupId !== undefined && !this.rt.subscription) {
      throw new SluiceArgumentError('a group consumer needs subscribe({ topics }) before run()');
    }
    if (this.groupId === undefined && !this.rt.subscription && !this.manual) {
      throw new SluiceArgumentError(
        'call subscribe({ topics }) or assign([{ topic, partitions }]) before run()',
      );
    }
    this.rt.running = true;
    try {
      if (this.groupId !== undefined) {
        this.rt.membership = new GroupMembership(
          this.rt.api,
          this.rt.logger,
          this.groupId,
          {
            ...this.group.hooks(),
            idle: () => this.fetcher.quiet && !this.rt.table.all().some((s) => s.revoking),
          },
          {
            sessionTimeout: this.config.sessionTimeout ?? 45_000,
            heartbeatInterval: this.config.heartbeatInterval ?? 3_000,
            ...(this.config.idleHeartbeatInterval !== undefined && {
              idleHeartbeatInterval: this.config.idleHeartbeatInterval,
            }),
            retry: this.config.retry,
          },
        );
        await this.rt.membership.start();
      } else {
        if (this.rt.subscription) {
          const topics = await this.group.subscribedTopics();
          this.manual = [...(this.manual ?? []), ...topics.map((topic) => ({ topic }))];
        }
        await this.group.applyManual(this.manual ?? []);
      }
    } catch (err) {
      this.rt.running = false;
      throw err;
    }
    this.loop = this.fetcher.run();
  }

  /**
   * Stops fetching, waits for the handlers in progress, commits what they processed and
   * leaves the group (its partitions move to the other members at once).
   *
   * @example
   * process.on('SIGTERM', () => consumer.disconnect());
   */
  async disconnect(): Promise<void> {
    await this.stop();
  }

  /**
   * Like `disconnect`; the consumer may `run` again.
   * @example
   * await consumer.stop();
   */
  async stop(): Promise<void> {
    if (!this.rt.running) return;
    this.rt.running = false;
    this.rt.wakeUp();
    await this.loop;
    await Promise.all(this.rt.table.all().map((s) => s.idle()));
    if (this.rt.runConfig.autoCommit)
      await this.commits.commitResolved(this.rt.table.all()).catch(() => undefined);
    await this.rt.membership?.leave();
    this.rt.membership = undefined;
    this.rt.table.states.clear();
    this.emit(ConsumerEvents.STOP, {});
  }

  /**
   * Commits offsets (the next offset to read, as in Kafka). Offsets below the committed
   * one are ignored: commits never move backwards (see `admin.setOffsets`).
   *
   * @example
   * await consumer.commitOffsets([{ topic: 'orders', partition: 0, offset: '42' }]);
   */
  async commitOffsets(offsets: TopicPartitionOffsetAndMetadata[]): Promise<void> {
    if (this.groupId === undefined)
      throw new SluiceArgumentError('commitOffsets needs a consumer with a groupId');
    await this.commits.commit(
      offsets.map((o) => ({
        topic: o.topic,
        partition: o.partition,
        offset: toOffset(o.offset),
        metadata: o.metadata ?? undefined,
      })),
    );
  }

  /**
   * Moves a partition's position: the next message handed over is at `offset`. Messages of
   * a batch fetched before are not handed over any more. Seeking before `run` sets where
   * the partition starts.
   *
   * @example
   * consumer.seek({ topic: 'orders', partition: 0, offset: '0' });
   */
  seek({ topic, partition, offset }: TopicPartitionOffset): void {
    if (this.rt.table.seek(topic, partition, toOffset(offset))) this.rt.wakeUp();
  }

  /**
   * Stops fetching from topics or partitions until `resume`; the rest of a batch in
   * progress is not handed over.
   *
   * @example
   * consumer.pause([{ topic: 'orders', partitions: [0] }]);
   * setTimeout(() => consumer.resume([{ topic: 'orders', partitions: [0] }]), 10_000);
   */
  pause(topics: { topic: string; partitions?: number[] }[]): void {
    this.rt.table.pause(topics);
    this.rt.wakeUp();
  }

  /**
   * @example
   * consumer.resume([{ topic: 'orders' }]);
   */
  resume(topics: { topic: string; partitions?: number[] }[]): void {
    this.rt.table.resume(topics);
    this.rt.wakeUp();
  }

  /**
   * @example
   * console.log(consumer.paused()); // [{ topic: 'orders', partitions: [0] }]
   */
  paused(): TopicPartitions[] {
    return this.rt.table.paused();
  }

  /**
   * The partitions this consumer consumes now.
   * @example
   * console.log(consumer.assignment());
   */
  assignment(): TopicPartitions[] {
    return this.rt.table.owned(false);
  }

  /**
   * The group membership a transaction's `sendOffsets({ consumer })` is fenced by (Kafka's
   * KIP-447 `groupMetadata()`); undefined outside a group or before joining.
   * @example
   * await tx.sendOffsets({ consumer, topics });
   */
  groupMetadata(): { groupId: string; memberId: string; memberEpoch: number } | undefined {
    const { groupId, membership } = this.rt;
    if (!groupId || !membership?.memberId || membership.epoch <= 0) return undefined;
    return { groupId, memberId: membership.memberId, memberEpoch: membership.epoch };
  }

  /**
   * Describes this consumer's group (members, assignments, lag).
   * @example
   * const { members } = await consumer.describeGroup();
   */
  async describeGroup() {
    if (this.groupId === undefined)
      throw new SluiceArgumentError('describeGroup needs a consumer with a groupId');
    const { Admin } = await import('../admin.js');
    const { groups } = await new Admin(this.rt.api).describeGroups([this.groupId]);
    return groups[0]!;
  }

  /**
   * Listens to an event; returns a function that removes the listener.
   * @example
   * const off = consumer.on(consumer.events.GROUP_JOIN, (e) => console.log('joined', e.payload));
   */
  on<P = Record<string, unknown>>(
    event: ConsumerEventName,
    listener: (e: ConsumerEvent<P>) => void,
  ): () => void {
    const set = this.listeners.get(event) ?? new Set();
    set.add(listener as (e: ConsumerEvent) => void);
    this.listeners.set(event, set);
    return () => set.delete(listener as (e: ConsumerEvent) => void);
  }

  private emit(type: ConsumerEventName, payload: Record<string, unknown>): void {
    const event = { id: ++this.eventId, type, timestamp: Date.now(), payload };
    for (const l of this.listeners.get(type) ?? []) {
      try {
        l(event);
      } catch (err) {
        this.rt.logger.error('event listener failed', { event: type, error: String(err) });
      }
    }
  }
}
