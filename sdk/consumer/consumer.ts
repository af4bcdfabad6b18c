/**
 * The consumer: a fetch loop that long-polls every partition it consumes in one binary
 * `POST /v1/fetch`, hands records to `eachMessage`/`eachBatch` in offset order per
 * partition (several partitions at once up to `partitionsConsumedConcurrently`), and commits
 * what was processed. In a group, a background heartbeat (membership.ts) decides which
 * partitions it consumes; without a group, `assign` does.
 */
import { decodeBatch } from '../../core/records/index.js';
import { BATCHES_CONTENT_TYPE, parseFetchFrames } from '../../core/wire.js';
import type { SluiceApi } from '../api.js';
import {
  FencedMemberEpochError,
  OffsetOutOfRangeError,
  SluiceArgumentError,
  SluiceProtocolError,
  UnknownMemberIdError,
} from '../errors.js';
import type { Logger } from '../logger.js';
import { type KafkaMessage, toMessage } from '../messages.js';
import { backoff, DEFAULT_RETRY, isRetriable, type RetryOptions } from '../retry.js';
import { GroupMembership } from './membership.js';
import { PartitionState } from './partition.js';
import {
  type Batch,
  type ConsumerConfig,
  type ConsumerEvent,
  type ConsumerEventName,
  ConsumerEvents,
  type ConsumerRunConfig,
  type ConsumerSubscribeTopics,
  type EachBatchPayload,
  type OffsetsByTopicPartition,
  type TopicPartitionOffset,
  type TopicPartitionOffsetAndMetadata,
  type TopicPartitions,
} from './types.js';

const MAX_FETCH_BYTES = 4 * 1024 * 1024;
const MAX_WAIT_MS = 20_000;

interface Work<K, V> {
  state: PartitionState;
  generation: number;
  messages: KafkaMessage<K, V>[];
  /** Offset after the last fetched batch (skips compaction gaps). */
  end: number;
}

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
  private readonly api: SluiceApi;
  private readonly logger: Logger;
  private readonly groupId: string | undefined;
  private readonly retry: Required<RetryOptions>;
  private readonly maxBytes: number;
  private readonly maxWaitMs: number;
  private readonly metadataMaxAge: number;

  private subscription: { patterns: (string | RegExp)[]; fromBeginning: boolean } | undefined;
  private manual: { topic: string; partitions?: number[] }[] | undefined;
  private readonly states = new Map<string, PartitionState>();
  private readonly pausedTopics = new Set<string>();
  private readonly pausedPartitions = new Set<string>();
  private readonly pendingSeeks = new Map<string, number>();
  private latestAssignment = new Set<string>();

  private membership: GroupMembership | undefined;
  private runConfig: Required<
    Pick<
      ConsumerRunConfig<K, V>,
      'autoCommit' | 'eachBatchAutoResolve' | 'partitionsConsumedConcurrently' | 'delivery'
    >
  > &
    ConsumerRunConfig<K, V> = {
    autoCommit: true,
    eachBatchAutoResolve: true,
    partitionsConsumedConcurrently: 1,
    delivery: 'at-least-once',
  };
  private running = false;
  private loop: Promise<void> | undefined;
  private fetchAbort: AbortController | undefined;
  private idleWake: (() => void) | undefined;
  private lastCommit = Date.now();
  private committing: Promise<void> = Promise.resolve();
  private resolvedTopics: { at: number; topics: string[] } | undefined;
  private readonly listeners = new Map<ConsumerEventName, Set<(e: ConsumerEvent) => void>>();
  private eventId = 0;

  constructor(
    api: SluiceApi,
    logger: Logger,
    private readonly config: ConsumerConfig<K, V> = {},
  ) {
    this.api = api;
    this.logger = logger.namespace('Consumer');
    this.groupId = config.groupId;
    if (this.groupId !== undefined && (typeof this.groupId !== 'string' || this.groupId.length === 0)) {
      throw new SluiceArgumentError(
        'groupId must be a non-empty string (or omitted for a consumer without a group)',
      );
    }
    this.retry = { ...DEFAULT_RETRY, ...config.retry };
    this.maxBytes = Math.min(MAX_FETCH_BYTES, config.maxBytes ?? MAX_FETCH_BYTES);
    this.maxWaitMs = Math.min(MAX_WAIT_MS, Math.max(0, config.maxWaitTimeInMs ?? 5000));
    this.metadataMaxAge = config.metadataMaxAge ?? 30_000;
  }

  /** kafkajs-style event names: `consumer.events.GROUP_JOIN`… */
  readonly events = ConsumerEvents;

  /**
   * Checks the endpoint (reads cluster metadata).
   * @example
   * await consumer.connect();
   */
  async connect(): Promise<void> {
    await this.api.metadata();
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
    if (this.running)
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
    this.subscription = {
      patterns: [...(this.subscription?.patterns ?? []), ...patterns],
      fromBeginning: s.fromBeginning ?? this.subscription?.fromBeginning ?? false,
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
    if (this.running) void this.applyManual();
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
    if (this.running) throw new SluiceArgumentError('the consumer is already running');
    if (!config || (typeof config.eachMessage !== 'function') === (typeof config.eachBatch !== 'function')) {
      throw new SluiceArgumentError('run() needs exactly one of eachMessage or eachBatch');
    }
    const concurrency = config.partitionsConsumedConcurrently ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new SluiceArgumentError(
        `partitionsConsumedConcurrently must be a positive integer, got ${concurrency}`,
      );
    }
    this.runConfig = {
      ...config,
      autoCommit: config.autoCommit ?? true,
      eachBatchAutoResolve: config.eachBatchAutoResolve ?? true,
      partitionsConsumedConcurrently: concurrency,
      delivery: config.delivery ?? 'at-least-once',
    };
    if (this.groupId !== undefined && !this.subscription) {
      throw new SluiceArgumentError('a group consumer needs subscribe({ topics }) before run()');
    }
    if (this.groupId === undefined && !this.subscription && !this.manual) {
      throw new SluiceArgumentError(
        'call subscribe({ topics }) or assign([{ topic, partitions }]) before run()',
      );
    }
    this.running = true;
    try {
      if (this.groupId !== undefined) {
        this.membership = new GroupMembership(this.api, this.logger, this.groupId, this.membershipHooks(), {
          sessionTimeout: this.config.sessionTimeout ?? 45_000,
          heartbeatInterval: this.config.heartbeatInterval ?? 3_000,
          retry: this.config.retry,
        });
        await this.membership.start();
      } else {
        if (this.subscription) {
          const topics = await this.subscribedTopics();
          this.manual = [...(this.manual ?? []), ...topics.map((topic) => ({ topic }))];
        }
        await this.applyManual();
      }
    } catch (err) {
      this.running = false;
      throw err;
    }
    this.loop = this.fetchLoop();
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
    if (!this.running) return;
    this.running = false;
    this.wakeUp();
    await this.loop;
    await Promise.all([...this.states.values()].map((s) => s.idle()));
    if (this.runConfig.autoCommit)
      await this.commitResolved([...this.states.values()]).catch(() => undefined);
    await this.membership?.leave();
    this.membership = undefined;
    this.states.clear();
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
    await this.commit(
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
    const n = toOffset(offset);
    const state = this.states.get(key(topic, partition));
    if (!state) {
      this.pendingSeeks.set(key(topic, partition), n);
      return;
    }
    state.position = n;
    state.resolved = n;
    state.reset = false;
    state.retryAt = 0;
    state.generation++;
    this.wakeUp();
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
    for (const t of topics) {
      if (t.partitions === undefined) this.pausedTopics.add(t.topic);
      else for (const p of t.partitions) this.pausedPartitions.add(key(t.topic, p));
    }
    this.wakeUp();
  }

  /**
   * @example
   * consumer.resume([{ topic: 'orders' }]);
   */
  resume(topics: { topic: string; partitions?: number[] }[]): void {
    for (const t of topics) {
      if (t.partitions === undefined) {
        this.pausedTopics.delete(t.topic);
        for (const k of [...this.pausedPartitions])
          if (k.startsWith(`${t.topic}\u0000`)) this.pausedPartitions.delete(k);
      } else for (const p of t.partitions) this.pausedPartitions.delete(key(t.topic, p));
    }
    this.wakeUp();
  }

  /**
   * @example
   * console.log(consumer.paused()); // [{ topic: 'orders', partitions: [0] }]
   */
  paused(): TopicPartitions[] {
    const out = new Map<string, Set<number>>();
    for (const s of this.states.values()) {
      if (this.isPaused(s)) out.set(s.topic, (out.get(s.topic) ?? new Set()).add(s.partition));
    }
    for (const k of this.pausedPartitions) {
      const [topic, p] = k.split('\u0000') as [string, string];
      out.set(topic, (out.get(topic) ?? new Set()).add(Number(p)));
    }
    return [...out].map(([topic, ps]) => ({ topic, partitions: [...ps].sort((a, b) => a - b) }));
  }

  /**
   * The partitions this consumer consumes now.
   * @example
   * console.log(consumer.assignment());
   */
  assignment(): TopicPartitions[] {
    return this.ownedList(false);
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
    const { groups } = await new Admin(this.api).describeGroups([this.groupId]);
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
        this.logger.error('event listener failed', { event: type, error: String(err) });
      }
    }
  }

  // --- membership ---------------------------------------------------------------------

  private membershipHooks() {
    return {
      topics: () => this.subscribedTopics(),
      owned: () => this.ownedList(true),
      onJoin: (memberId: string, memberEpoch: number, assignment: TopicPartitions[]) =>
        this.emit(ConsumerEvents.GROUP_JOIN, {
          groupId: this.groupId,
          memberId,
          memberEpoch,
          memberAssignment: assignment,
        }),
      onHeartbeat: (memberId: string, memberEpoch: number) =>
        this.emit(ConsumerEvents.HEARTBEAT, { groupId: this.groupId, memberId, memberEpoch }),
      onAssignment: (assignment: TopicPartitions[]) => this.applyAssignment(assignment),
      onLost: async () => {
        for (const s of this.states.values()) s.revoking = true;
        this.wakeUp();
        await Promise.all([...this.states.values()].map((s) => s.idle()));
        this.states.clear();
        this.latestAssignment = new Set();
      },
    };
  }

  private async subscribedTopics(): Promise<string[]> {
    const sub = this.subscription;
    if (!sub) return [];
    const names = sub.patterns.filter((p): p is string => typeof p === 'string');
    const regexes = sub.patterns.filter((p): p is RegExp => p instanceof RegExp);
    if (regexes.length === 0) return [...new Set(names)];
    if (!this.resolvedTopics || Date.now() - this.resolvedTopics.at > this.metadataMaxAge) {
      const meta = await this.api.metadata(true);
      const matched = meta.topics
        .map((t) => t.name)
        .filter((n) => regexes.some((r) => new RegExp(r.source, r.flags.replace('g', '')).test(n)));
      this.resolvedTopics = { at: Date.now(), topics: matched };
    }
    return [...new Set([...names, ...this.resolvedTopics.topics])];
  }

  private ownedList(includeRevoking: boolean): TopicPartitions[] {
    const by = new Map<string, number[]>();
    for (const s of this.states.values()) {
      if (s.revoking && !includeRevoking) continue;
      by.set(s.topic, [...(by.get(s.topic) ?? []), s.partition]);
    }
    return [...by].map(([topic, partitions]) => ({ topic, partitions: partitions.sort((a, b) => a - b) }));
  }

  private applyAssignment(assignment: TopicPartitions[]): void {
    const next = new Set<string>();
    let changed = false;
    for (const a of assignment) {
      for (const p of a.partitions) {
        const k = key(a.topic, p);
        next.add(k);
        if (!this.states.has(k)) {
          this.states.set(k, new PartitionState(a.topic, p));
          changed = true;
        }
      }
    }
    this.latestAssignment = next;
    for (const s of this.states.values()) {
      if (!next.has(s.key) && !s.revoking) {
        changed = true;
        this.revoke(s);
      }
    }
    if (changed) {
      this.emit(ConsumerEvents.REBALANCING, {
        groupId: this.groupId,
        memberId: this.membership?.memberId,
        assignment,
      });
      this.wakeUp();
    }
  }

  /** Stops a partition, commits what was processed, then tells the group it is released. */
  private revoke(state: PartitionState): void {
    state.revoking = true;
    this.wakeUp();
    void (async () => {
      await state.idle();
      if (this.runConfig.autoCommit) {
        await this.commitResolved([state]).catch((err) =>
          this.logger.warn('commit on revocation failed', {
            topic: state.topic,
            partition: state.partition,
            error: String(err),
          }),
        );
      }
      if (this.states.get(state.key) === state) this.states.delete(state.key);
      // Given back while it was being revoked: consume it again (from its committed offset).
      if (this.running && this.latestAssignment.has(state.key) && !this.states.has(state.key)) {
        this.states.set(state.key, new PartitionState(state.topic, state.partition));
        this.wakeUp();
      }
      this.membership?.kick();
    })();
  }

  private async applyManual(): Promise<void> {
    for (const a of this.manual ?? []) {
      const partitions =
        a.partitions ?? Array.from({ length: await this.api.partitionCount(a.topic) }, (_, i) => i);
      for (const p of partitions) {
        const k = key(a.topic, p);
        if (!this.states.has(k)) this.states.set(k, new PartitionState(a.topic, p));
      }
    }
    this.wakeUp();
  }

  // --- fetching -----------------------------------------------------------------------

  private isPaused(s: PartitionState): boolean {
    return this.pausedTopics.has(s.topic) || this.pausedPartitions.has(s.key);
  }

  private wakeUp(): void {
    this.fetchAbort?.abort();
    this.idleWake?.();
  }

  private idle(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(timer);
        if (self.idleWake === done) self.idleWake = undefined;
        resolve();
      }
      this.idleWake = done;
    });
  }

  private async fetchLoop(): Promise<void> {
    while (this.running) {
      try {
        await this.fetchOnce();
      } catch (err) {
        if (!this.running) break;
        this.logger.error('fetch loop error', { error: String(err), stack: (err as Error).stack });
        await this.idle(backoff(this.retry, 0));
      }
    }
  }

  private async fetchOnce(): Promise<void> {
    await this.initPositions();
    const now = Date.now();
    const ready = [...this.states.values()].filter(
      (s) => s.position !== undefined && !s.revoking && !this.isPaused(s) && s.retryAt <= now,
    );
    if (ready.length === 0) {
      const nextRetry = Math.min(
        ...[...this.states.values()].map((s) => (s.retryAt > now ? s.retryAt : Infinity)),
      );
      await this.idle(Math.min(1000, Math.max(10, nextRetry - now)));
      return;
    }
    const requested = new Map(
      ready.map((s) => [s.key, { state: s, offset: s.position!, generation: s.generation }]),
    );
    const controller = new AbortController();
    this.fetchAbort = controller;
    let res: Awaited<ReturnType<SluiceApi['send']>>;
    try {
      res = await this.api.send('fetch', {
        method: 'POST',
        path: '/v1/fetch',
        json: {
          partitions: ready.map((s) => ({ topic: s.topic, partition: s.partition, offset: s.position })),
          maxBytes: this.maxBytes,
          maxWaitMs: this.maxWaitMs,
        },
        headers: { accept: BATCHES_CONTENT_TYPE },
        signal: controller.signal,
      });
    } catch (err) {
      if (controller.signal.aborted) return;
      if (!isRetriable(err)) throw err;
      this.logger.warn('fetch failed; retrying', { error: String(err) });
      await this.idle(backoff(this.retry, 0));
      return;
    } finally {
      if (this.fetchAbort === controller) this.fetchAbort = undefined;
    }
    const errors = JSON.parse(res.headers['x-sluice-partition-errors'] ?? '[]') as {
      topic: string;
      partition: number;
      error: { code: string; message: string };
    }[];
    for (const e of errors) this.partitionError(this.states.get(key(e.topic, e.partition)), e.error);

    const work: Work<K, V>[] = [];
    for (const frame of parseFetchFrames(res.body)) {
      const req = requested.get(key(frame.topic, frame.partition));
      if (!req) continue;
      const { state, offset, generation } = req;
      state.highWatermark = frame.highWatermark;
      // Sought, revoked or reset while the fetch was in flight: drop what it brought.
      if (state.generation !== generation || state.position !== offset || state.revoking) continue;
      const batches = frame.batches.map((b) => decodeBatch(b.bytes));
      // Schema deserializers fetch the writers' schemas they have not seen (awaits only then).
      if (await this.prepareDeserializers(batches)) {
        if (state.generation !== generation || state.position !== offset || state.revoking) continue;
      }
      const messages: KafkaMessage<K, V>[] = [];
      let end = offset;
      for (const batch of batches) {
        if (batch.header.isControl) continue;
        for (const r of batch.records) {
          if (r.offset < offset) continue;
          messages.push(toMessage(r, state, this.config));
        }
        end = Math.max(end, batch.header.baseOffset + batch.header.lastOffsetDelta + 1);
      }
      if (messages.length === 0) {
        state.position = end;
        continue;
      }
      work.push({ state, generation, messages, end });
    }
    if (work.length > 0) await this.processAll(work);
    if (this.runConfig.autoCommit) await this.commitIfNecessary();
  }

  /** Runs the deserializers' `prepare` over the records; true when something was awaited. */
  private async prepareDeserializers(batches: readonly ReturnType<typeof decodeBatch>[]): Promise<boolean> {
    const key = this.config.keyDeserializer?.prepare;
    const value = this.config.valueDeserializer?.prepare;
    if (!key && !value) return false;
    let waited = false;
    for (const batch of batches) {
      if (batch.header.isControl) continue;
      for (const r of batch.records) {
        const k =
          r.key !== null && key
            ? key(Buffer.from(r.key.buffer, r.key.byteOffset, r.key.byteLength))
            : undefined;
        const v =
          r.value !== null && value
            ? value(Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength))
            : undefined;
        if (k) await k;
        if (v) await v;
        waited ||= k !== undefined || v !== undefined;
      }
    }
    return waited;
  }

  private partitionError(state: PartitionState | undefined, error: { code: string; message: string }): void {
    if (!state) return;
    if (error.code === 'OFFSET_OUT_OF_RANGE') {
      this.logger.warn('offset out of range; applying the reset policy', {
        topic: state.topic,
        partition: state.partition,
        offset: state.position,
      });
      state.position = undefined;
      state.reset = true;
      return;
    }
    state.retryAttempt++;
    state.retryAt = Date.now() + backoff(this.retry, Math.min(state.retryAttempt - 1, 10));
    this.logger.warn('fetch of a partition failed', {
      topic: state.topic,
      partition: state.partition,
      error: error.message,
    });
  }

  /** Positions of partitions just assigned: a pending seek, the committed offset, or the reset policy. */
  private async initPositions(): Promise<void> {
    const now = Date.now();
    const pending = [...this.states.values()].filter(
      (s) => s.position === undefined && !s.revoking && s.retryAt <= now,
    );
    if (pending.length === 0) return;
    let committed = new Map<string, number>();
    if (this.groupId !== undefined && pending.some((s) => !s.reset)) {
      const res = await this.api.json<{ offsets: { topic: string; partition: number; offset: number }[] }>(
        'groups',
        {
          method: 'GET',
          path: `/v1/groups/${encodeURIComponent(this.groupId)}/offsets`,
        },
      );
      committed = new Map(res.offsets.map((o) => [key(o.topic, o.partition), o.offset]));
    }
    const policy = this.config.offsetReset ?? (this.subscription?.fromBeginning ? 'earliest' : 'latest');
    await Promise.all(
      pending.map(async (s) => {
        const c = committed.get(s.key);
        if (c !== undefined) s.committed = c;
        const seek = this.pendingSeeks.get(s.key);
        if (seek !== undefined && !s.reset) {
          this.pendingSeeks.delete(s.key);
          s.position = s.resolved = seek;
        } else if (c !== undefined && !s.reset) {
          s.position = c;
        } else {
          try {
            const res = await this.api.json<{ offset: number }>('fetch', {
              method: 'GET',
              path: '/v1/offsets',
              query: { topic: s.topic, partition: s.partition, at: policy },
            });
            s.position = res.offset;
            s.reset = false;
          } catch (err) {
            if (err instanceof SluiceProtocolError && !err.retriable) this.partitionError(s, err);
            else throw err;
          }
        }
      }),
    );
  }

  // --- processing ---------------------------------------------------------------------

  private async processAll(work: Work<K, V>[]): Promise<void> {
    const queue = [...work];
    const workers = Array.from(
      { length: Math.min(queue.length, this.runConfig.partitionsConsumedConcurrently) },
      async () => {
        for (let w = queue.shift(); w; w = queue.shift()) {
          const item = w;
          await item.state.process(() => this.processPartition(item));
        }
      },
    );
    await Promise.all(workers);
  }

  private stale(w: Work<K, V>): boolean {
    return (
      !this.running ||
      w.state.revoking ||
      this.isPaused(w.state) ||
      w.state.generation !== w.generation ||
      this.membership?.expired() === true
    );
  }

  private async processPartition(w: Work<K, V>): Promise<void> {
    const { state, messages } = w;
    // Revoked, paused or sought between the fetch and now: hand nothing over.
    if (this.stale(w)) return;
    const atMostOnce = this.runConfig.delivery === 'at-most-once';
    if (atMostOnce && this.groupId !== undefined) {
      // Commit first: whatever happens next, these messages are never handed over again.
      // A refused commit (fenced) hands nothing over: the next owner will deliver these.
      if (!(await this.commit([{ topic: state.topic, partition: state.partition, offset: w.end }]))) return;
      state.resolved = w.end;
    }
    if (this.runConfig.eachMessage) {
      for (const message of messages) {
        if (this.stale(w)) return;
        const offset = Number(message.offset);
        try {
          await this.runConfig.eachMessage({
            topic: state.topic,
            partition: state.partition,
            message,
            heartbeat: async () => {},
            pause: () => this.pauseOne(state),
          });
        } catch (err) {
          if (!atMostOnce) return this.handlerFailed(state, offset, err);
          this.logger.error('eachMessage failed (at-most-once: the message is skipped)', {
            offset,
            error: String(err),
          });
        }
        // A seek from inside the handler wins over the message's own position.
        if (state.generation !== w.generation) return;
        this.resolve(state, offset);
        if (
          this.runConfig.autoCommit &&
          (this.runConfig.autoCommitThreshold || this.runConfig.autoCommitInterval)
        ) {
          await this.commitIfNecessary();
        }
      }
    } else {
      const payload = this.batchPayload(w);
      try {
        await this.runConfig.eachBatch!(payload);
      } catch (err) {
        if (!atMostOnce) return this.handlerFailed(state, state.position ?? Number(messages[0]!.offset), err);
        this.logger.error('eachBatch failed (at-most-once: the batch is skipped)', { error: String(err) });
      }
      if (this.stale(w)) return;
      const last = Number(messages.at(-1)!.offset);
      if (this.runConfig.eachBatchAutoResolve || atMostOnce) this.resolve(state, last);
      // Unresolved messages are fetched again; a fully resolved batch moves past its gaps.
      if (state.position === last + 1) state.position = w.end;
      state.retryAttempt = 0;
      return;
    }
    if (!this.stale(w)) state.position = w.end;
    state.retryAttempt = 0;
  }

  private resolve(state: PartitionState, offset: number): void {
    state.position = offset + 1;
    state.resolved = offset + 1;
    state.uncommitted++;
  }

  private pauseOne(state: PartitionState): () => void {
    this.pause([{ topic: state.topic, partitions: [state.partition] }]);
    return () => this.resume([{ topic: state.topic, partitions: [state.partition] }]);
  }

  private handlerFailed(state: PartitionState, offset: number, err: unknown): void {
    state.position = offset;
    const delay = backoff(this.retry, Math.min(state.retryAttempt, 10));
    state.retryAttempt++;
    state.retryAt = Date.now() + delay;
    this.logger.error('message handler failed; the partition will retry from the failed offset', {
      topic: state.topic,
      partition: state.partition,
      offset,
      retryInMs: delay,
      error: String(err),
      stack: (err as Error)?.stack,
    });
    this.emit(ConsumerEvents.CRASH, {
      error: err,
      groupId: this.groupId,
      restart: true,
      topic: state.topic,
      partition: state.partition,
    });
  }

  private batchPayload(w: Work<K, V>): EachBatchPayload<K, V> {
    const { state, messages } = w;
    const hwm = state.highWatermark;
    const batch: Batch<K, V> = {
      topic: state.topic,
      partition: state.partition,
      highWatermark: String(hwm),
      messages,
      isEmpty: () => messages.length === 0,
      firstOffset: () => messages[0]?.offset ?? null,
      lastOffset: () => messages.at(-1)?.offset ?? String(hwm - 1),
      offsetLag: () => String(Math.max(0, hwm - 1 - Number(messages.at(-1)?.offset ?? hwm - 1))),
      offsetLagLow: () => String(Math.max(0, hwm - 1 - Number(messages[0]?.offset ?? hwm - 1))),
    };
    return {
      batch,
      resolveOffset: (offset) => {
        if (!this.stale(w)) this.resolve(state, toOffset(offset));
      },
      heartbeat: async () => {},
      pause: () => this.pauseOne(state),
      commitOffsetsIfNecessary: async (offsets) => {
        if (offsets) {
          await this.commit(
            offsets.topics.flatMap((t) =>
              t.partitions.map((p) => ({
                topic: t.topic,
                partition: p.partition,
                offset: toOffset(p.offset),
              })),
            ),
          );
        } else if (this.runConfig.autoCommit) await this.commitIfNecessary();
      },
      uncommittedOffsets: () => this.uncommitted(),
      isRunning: () => this.running,
      isStale: () => this.stale(w),
    };
  }

  // --- commits ------------------------------------------------------------------------

  private uncommitted(): OffsetsByTopicPartition {
    const by = new Map<string, { partition: number; offset: string }[]>();
    for (const s of this.states.values()) {
      if (s.resolved !== undefined && s.resolved > (s.committed ?? -1)) {
        by.set(s.topic, [...(by.get(s.topic) ?? []), { partition: s.partition, offset: String(s.resolved) }]);
      }
    }
    return { topics: [...by].map(([topic, partitions]) => ({ topic, partitions })) };
  }

  private async commitIfNecessary(): Promise<void> {
    if (this.groupId === undefined) return;
    const { autoCommitInterval: interval, autoCommitThreshold: threshold } = this.runConfig;
    const pending = [...this.states.values()].reduce((n, s) => n + s.uncommitted, 0);
    const due =
      (!interval && !threshold) ||
      (interval && Date.now() - this.lastCommit >= interval) ||
      (threshold && pending >= threshold);
    if (due) await this.commitResolved([...this.states.values()]);
  }

  private async commitResolved(states: PartitionState[]): Promise<void> {
    if (this.groupId === undefined) return;
    const offsets = states
      .filter((s) => s.resolved !== undefined && s.resolved > (s.committed ?? -1))
      .map((s) => ({ topic: s.topic, partition: s.partition, offset: s.resolved! }));
    if (offsets.length === 0) return;
    await this.commit(offsets);
  }

  /** Commits one at a time, so that an older commit never lands after a newer one. */
  /** Resolves true when the offsets are committed (now or before), false when refused. */
  private commit(
    offsets: { topic: string; partition: number; offset: number; metadata?: string }[],
  ): Promise<boolean> {
    const run = this.committing.then(() => this.commitNow(offsets));
    this.committing = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  private async commitNow(
    offsets: { topic: string; partition: number; offset: number; metadata?: string }[],
  ): Promise<boolean> {
    // Never backwards: the server refuses it, and it would re-deliver what was processed.
    const forward = offsets.filter((o) => {
      const s = this.states.get(key(o.topic, o.partition));
      return (
        !s ||
        s.committed === undefined ||
        o.offset > s.committed ||
        (o.metadata !== undefined && o.offset === s.committed)
      );
    });
    if (forward.length === 0) return true;
    const member =
      this.membership && this.membership.epoch > 0
        ? { memberId: this.membership.memberId, memberEpoch: this.membership.epoch }
        : {};
    try {
      await this.api.call(
        'groups',
        {
          method: 'POST',
          path: `/v1/groups/${encodeURIComponent(this.groupId!)}/offsets`,
          json: { ...member, offsets: forward },
        },
        this.retry,
      );
    } catch (err) {
      if (err instanceof FencedMemberEpochError || err instanceof UnknownMemberIdError) {
        this.logger.warn('commit refused: this member was fenced; rejoining', { error: err.message });
        this.membership?.requestRejoin();
        return false;
      }
      if (err instanceof OffsetOutOfRangeError) {
        this.logger.warn('commit refused (behind the committed offset, or past the log end)', {
          error: err.message,
        });
        return false;
      }
      throw err;
    }
    this.lastCommit = Date.now();
    for (const o of forward) {
      const s = this.states.get(key(o.topic, o.partition));
      if (!s) continue;
      s.committed = Math.max(s.committed ?? -1, o.offset);
      s.uncommitted = 0;
    }
    this.emit(ConsumerEvents.COMMIT_OFFSETS, { groupId: this.groupId, topics: forward });
    return true;
  }
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

function toOffset(value: string | number): number {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw new SluiceArgumentError(`offset must be a non-negative integer, got '${value}'`);
  return n;
}
