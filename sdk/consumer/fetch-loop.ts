/**
 * The consumer's fetch loop: positions of newly consumed partitions (a pending seek, the
 * committed offset, or the reset policy), then one binary `POST /v1/fetch` long poll over
 * every partition ready to fetch, whose batches become work for delivery.ts. A wake-up
 * (seek, pause, assignment change, stop) aborts the poll; per-partition errors back off
 * that partition only.
 *
 * Idle polling: a deployed fetch function answers at once instead of holding a long poll
 * (SLUICE_FETCH_MAX_WAIT_MS = 0: a held poll bills the whole wait and holds a unit of
 * concurrency). When an answer comes back empty sooner than the wait asked for, the loop
 * waits itself, doubling from {@link IDLE_FIRST_MS} up to `maxIdleWaitInMs` while nothing
 * arrives; any record resets it, so a busy consumer never waits. Against a server that
 * holds polls (`sluice dev`) nothing changes.
 */
import { decodeBatch } from '../../core/records/index.js';
import { BATCHES_CONTENT_TYPE, parseFetchFrames } from '../../core/wire.js';
import type { SluiceApi } from '../api.js';
import { SluiceProtocolError } from '../errors.js';
import { type KafkaMessage, toMessage } from '../messages.js';
import { backoff, isRetriable } from '../retry.js';
import type { CommitPolicy } from './commit-policy.js';
import type { Delivery, Work } from './delivery.js';
import type { PartitionState } from './partition.js';
import { partitionKey } from './partition-table.js';
import type { ConsumerRuntime } from './runtime.js';

/** The first client-side wait after an empty answer (ms); it doubles up to `maxWaitTimeInMs`. */
export const IDLE_FIRST_MS = 100;
/** The longest client-side wait between idle fetches by default (ms). */
export const DEFAULT_MAX_IDLE_WAIT_MS = 10_000;

/** Empty answers in a row after which the consumer counts as quiet (0.1 + 0.2 + 0.4 s of waits). */
export const QUIET_AFTER_EMPTY_POLLS = 3;

export class FetchLoop<K, V> {
  private fetchAbort: AbortController | undefined;
  private idleWake: (() => void) | undefined;
  /** Empty answers in a row that the server did not hold. */
  private emptyPolls = 0;

  constructor(
    private readonly rt: ConsumerRuntime<K, V>,
    private readonly delivery: Delivery<K, V>,
    private readonly commits: CommitPolicy<K, V>,
    private readonly maxBytes: number,
    private readonly maxWaitMs: number,
    private readonly maxIdleWaitMs: number = DEFAULT_MAX_IDLE_WAIT_MS,
  ) {}

  /**
   * True once several answers in a row came back empty at once (the idle backoff is past
   * its first steps): the group heartbeat slows down too (membership.ts).
   */
  get quiet(): boolean {
    return this.emptyPolls >= QUIET_AFTER_EMPTY_POLLS;
  }

  /** Interrupts the long poll or the idle wait. */
  wakeUp(): void {
    this.fetchAbort?.abort();
    this.idleWake?.();
  }

  /** Waits `ms`, or less when woken up. */
  idle(ms: number): Promise<void> {
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

  /** Fetches and hands over until the consumer stops. */
  async run(): Promise<void> {
    while (this.rt.running) {
      try {
        await this.fetchOnce();
      } catch (err) {
        if (!this.rt.running) break;
        this.rt.logger.error('fetch loop error', { error: String(err), stack: (err as Error).stack });
        await this.idle(backoff(this.rt.retry, 0));
      }
    }
  }

  private async fetchOnce(): Promise<void> {
    const { rt } = this;
    await this.initPositions();
    const now = Date.now();
    const states = rt.table.all();
    const ready = states.filter(
      (s) => s.position !== undefined && !s.revoking && !rt.table.isPaused(s) && s.retryAt <= now,
    );
    if (ready.length === 0) {
      const nextRetry = Math.min(...states.map((s) => (s.retryAt > now ? s.retryAt : Infinity)));
      await this.idle(Math.min(1000, Math.max(10, nextRetry - now)));
      return;
    }
    const requested = new Map(
      ready.map((s) => [s.key, { state: s, offset: s.position!, generation: s.generation }]),
    );
    const controller = new AbortController();
    this.fetchAbort = controller;
    const sentAt = Date.now();
    let res: Awaited<ReturnType<SluiceApi['send']>>;
    try {
      res = await rt.api.send('fetch', {
        method: 'POST',
        path: '/v1/fetch',
        json: {
          partitions: ready.map((s) => ({
            topic: s.topic,
            partition: s.partition,
            offset: s.position,
            ...(s.topicId !== undefined && { topicId: s.topicId }),
          })),
          maxBytes: this.maxBytes,
          maxWaitMs: this.maxWaitMs,
        },
        headers: { accept: BATCHES_CONTENT_TYPE },
        signal: controller.signal,
      });
    } catch (err) {
      if (controller.signal.aborted) return;
      if (!isRetriable(err)) throw err;
      rt.logger.warn('fetch failed; retrying', { error: String(err) });
      await this.idle(backoff(rt.retry, 0));
      return;
    } finally {
      if (this.fetchAbort === controller) this.fetchAbort = undefined;
    }
    const errors = JSON.parse(res.headers['x-sluice-partition-errors'] ?? '[]') as {
      topic: string;
      partition: number;
      error: { code: string; message: string };
    }[];
    for (const e of errors) this.partitionError(rt.table.get(e.topic, e.partition), e.error);
    const topicIds = JSON.parse(res.headers['x-sluice-topic-ids'] ?? '{}') as Record<string, string>;

    const work: Work<K, V>[] = [];
    let gotBatches = false;
    for (const frame of parseFetchFrames(res.body)) {
      if (frame.batches.length > 0) gotBatches = true;
      const req = requested.get(partitionKey(frame.topic, frame.partition));
      if (!req) continue;
      const { state, offset, generation } = req;
      state.highWatermark = frame.highWatermark;
      // Sought, revoked or reset while the fetch was in flight: drop what it brought.
      if (state.generation !== generation || state.position !== offset || state.revoking) continue;
      // The incarnation read from now on (servers before topic ids name none).
      state.topicId ??= topicIds[frame.topic];
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
          messages.push(toMessage(r, state, rt.config));
        }
        end = Math.max(end, batch.header.baseOffset + batch.header.lastOffsetDelta + 1);
      }
      if (messages.length === 0) {
        state.position = end;
        continue;
      }
      work.push({ state, generation, messages, end });
    }
    // Not quiet any more (before delivery: the heartbeat is back at its interval meanwhile).
    const empty = !gotBatches && errors.length === 0;
    if (!empty) this.emptyPolls = 0;
    if (work.length > 0) await this.delivery.processAll(work);
    if (rt.runConfig.autoCommit) await this.commits.commitIfNecessary();
    if (empty) await this.idleAfterEmpty(Date.now() - sentAt);
  }

  /** Backs off after an empty answer the server did not hold for (most of) the wait asked. */
  private async idleAfterEmpty(heldMs: number): Promise<void> {
    if (this.maxIdleWaitMs === 0 || heldMs >= this.maxWaitMs / 2) {
      this.emptyPolls = 0;
      return;
    }
    this.emptyPolls++;
    const wait = Math.min(this.maxIdleWaitMs, IDLE_FIRST_MS * 2 ** Math.min(this.emptyPolls - 1, 20));
    await this.idle(wait);
  }

  /** Runs the deserializers' `prepare` over the records; true when something was awaited. */
  private async prepareDeserializers(batches: readonly ReturnType<typeof decodeBatch>[]): Promise<boolean> {
    const key = this.rt.config.keyDeserializer?.prepare;
    const value = this.rt.config.valueDeserializer?.prepare;
    if (!key && !value) return false;
    const view = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    let waited = false;
    for (const batch of batches) {
      if (batch.header.isControl) continue;
      for (const r of batch.records) {
        const k = r.key !== null && key ? key(view(r.key)) : undefined;
        const v = r.value !== null && value ? value(view(r.value)) : undefined;
        if (k) await k;
        if (v) await v;
        waited ||= k !== undefined || v !== undefined;
      }
    }
    return waited;
  }

  private partitionError(state: PartitionState | undefined, error: { code: string; message: string }): void {
    if (!state) return;
    const { rt } = this;
    if (error.code === 'UNKNOWN_TOPIC_ID') {
      // The topic was deleted, maybe re-created under its name: this position is of the
      // old one. Start over from the group's commits on the topic as it is now (none of the
      // old one apply) or the reset policy — never from the old position.
      rt.logger.warn('the topic was deleted and re-created; positions start over (UnknownTopicIdError)', {
        topic: state.topic,
        partition: state.partition,
        offset: state.position,
        error: error.message,
      });
      state.forgetIncarnation();
      return;
    }
    if (error.code === 'OFFSET_OUT_OF_RANGE') {
      rt.logger.warn('offset out of range; applying the reset policy', {
        topic: state.topic,
        partition: state.partition,
        offset: state.position,
      });
      state.position = undefined;
      state.reset = true;
      return;
    }
    state.retryAttempt++;
    state.retryAt = Date.now() + backoff(rt.retry, Math.min(state.retryAttempt - 1, 10));
    rt.logger.warn('fetch of a partition failed', {
      topic: state.topic,
      partition: state.partition,
      error: error.message,
    });
  }

  /** Positions of partitions just assigned: a pending seek, the committed offset, or the reset policy. */
  private async initPositions(): Promise<void> {
    const { rt } = this;
    const now = Date.now();
    const pending = rt.table.all().filter((s) => s.position === undefined && !s.revoking && s.retryAt <= now);
    if (pending.length === 0) return;
    let committed = new Map<string, number>();
    let topicIds = new Map<string, string | undefined>();
    if (rt.groupId !== undefined && pending.some((s) => !s.reset)) {
      const res = await rt.api.json<{
        offsets: { topic: string; partition: number; offset: number; topicId?: string }[];
      }>('groups', {
        method: 'GET',
        path: `/v1/groups/${encodeURIComponent(rt.groupId)}/offsets`,
      });
      committed = new Map(res.offsets.map((o) => [partitionKey(o.topic, o.partition), o.offset]));
      topicIds = new Map(res.offsets.map((o) => [partitionKey(o.topic, o.partition), o.topicId]));
    }
    const policy = rt.config.offsetReset ?? (rt.subscription?.fromBeginning ? 'earliest' : 'latest');
    await Promise.all(
      pending.map(async (s) => {
        const c = committed.get(s.key);
        if (c !== undefined) s.committed = c;
        const seek = s.reset ? undefined : rt.table.takePendingSeek(s);
        if (seek !== undefined) {
          s.position = s.resolved = seek;
        } else if (c !== undefined && !s.reset) {
          s.position = c;
          // The commit names the incarnation it was made on: the position is of that one.
          s.topicId = topicIds.get(s.key);
        } else {
          try {
            const res = await rt.api.json<{ offset: number }>('fetch', {
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
}
