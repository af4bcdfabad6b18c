/**
 * The subscription dispatcher (DESIGN.md "Subscriptions"): delivers one partition of a
 * subscription to its function, in order, one batch in flight, at least once.
 *
 * One run of {@link Dispatcher.dispatch} for (subscription, partition):
 * 1. takes the partition's subscription lease (fenced, `leases.ts`) — or returns `busy`;
 * 2. reads the group's committed offset (next offset to deliver);
 * 3. loops: fetch up to `batchSize` records; drop those matching none of the `filters`
 *    (committing past them); send records past `maxRecordAgeMs` to
 *    `onFailure`; make sure the lease outlives the invocation; invoke; commit what
 *    succeeded — in one transaction with a check on the lease item, so a deposed dispatcher's
 *    commit is refused — and retry the rest with backoff (halving the batch with
 *    `bisectBatchOnFunctionError`) until `maxRetryAttempts`, then hand it to `onFailure`
 *    and commit past it;
 * 4. stops when caught up, paused, deposed or past its deadline, and releases the lease.
 *
 * Fencing of invocations rests on the clock: the dispatcher invokes only while its lease has
 * at least half its TTL left, and an invocation must end within that half (the invoker's
 * timeout), so no other dispatcher can have taken the lease meanwhile. Commits are fenced by
 * the store itself.
 *
 * Retry state (attempts, the batch being retried or bisected, the backoff) is kept beside the
 * committed offset, written with the same fence: a run that stops mid-retry (its deadline, a
 * crash, a lease hand-off) is continued by the next with the same count, so a batch is
 * invoked at most `maxRetryAttempts + 1` times, as in Lambda. Only an invocation whose
 * outcome its dispatcher never learnt (it died during it) is not counted.
 */
import type { Clock, Random } from '../clock.js';
import { SluiceError } from '../errors.js';
import type { Reader } from '../fetch.js';
import { currentItem } from '../groups/offsets.js';
import { keys } from '../keys.js';
import { acquireLease, fenceOp, type Lease, releaseLease, renewLease } from '../leases.js';
import { ConflictError, type ItemKey, type MetaStore } from '../ports.js';
import type { KafkaRecord } from '../records/index.js';
import type { Topics } from '../topics.js';
import type { SubscriptionConfig } from './config.js';
import { buildEvent, firstFailedOffset } from './event.js';
import { compileFilters } from './filters.js';
import type { FailureDestination, FailureRecord, InvokeTarget } from './ports.js';

export interface DispatcherDeps {
  meta: MetaStore;
  reader: Reader;
  topics: Topics;
  clock: Clock;
  random: Random;
  invoker: InvokeTarget;
  failures: FailureDestination;
  /** Reads a subscription's current definition (undefined: deleted). */
  subscription(name: string): Promise<SubscriptionConfig | undefined>;
  /** Names this dispatcher in leases; unique per process. */
  owner: string;
  /** Goes into the event's `bootstrapServers` (`sluice://<cluster>`). */
  cluster: string;
  /** Lease lifetime (ms); an invocation must finish within half of it. @default 120_000 */
  leaseTtlMs?: number;
  /** Bytes of record keys + values per invocation (Lambda's payload limit is 6 MB, base64 adds a third). @default 4 MiB */
  maxBatchBytes?: number;
  /** First retry delay (ms), doubling per attempt, with jitter. @default 500 */
  retryBaseMs?: number;
  /** Longest retry delay (ms). @default 30_000 */
  retryMaxMs?: number;
}

/** Why a run stopped. */
export type DispatchStatus =
  /** Delivered everything up to the high watermark. */
  | 'caught-up'
  /** The subscription is disabled (or was disabled during the run). */
  | 'paused'
  /** The subscription does not exist (any more). */
  | 'deleted'
  /** Another dispatcher holds the lease. */
  | 'busy'
  /** The lease was lost during the run: nothing more was invoked or committed. */
  | 'deposed'
  /** The group's offset was moved by someone else (an admin reset): the next run starts there. */
  | 'offset-moved'
  /** The run reached its deadline with records left: run again. */
  | 'deadline';

export interface DispatchResult {
  status: DispatchStatus;
  /** The committed offset when the run stopped (-1 when it never read it). */
  committed: number;
  invocations: number;
  /** Records delivered by successful invocations during this run. */
  delivered: number;
  /** Records handed to `onFailure` during this run. */
  failed: number;
}

export interface DispatchOptions {
  /** Stop starting invocations after this instant (ms since the epoch of the clock). */
  deadline?: number;
}

class Deposed extends Error {}
class OffsetMoved extends Error {}

/** Dispatches partitions of subscriptions; one instance per process (its `owner`). */
export class Dispatcher {
  private readonly ttl: number;
  private readonly maxBytes: number;

  constructor(private readonly deps: DispatcherDeps) {
    this.ttl = deps.leaseTtlMs ?? 120_000;
    this.maxBytes = deps.maxBatchBytes ?? 4 * 1024 * 1024;
  }

  /**
   * Delivers `partition` of subscription `name` until caught up (or paused, deposed, past
   * `deadline`). Safe to call concurrently from anywhere: the lease lets one run at a time.
   *
   * @example
   * const { status } = await dispatcher.dispatch('orders-to-billing', 0);
   * if (status === 'deadline') schedule again;
   */
  async dispatch(name: string, partition: number, options: DispatchOptions = {}): Promise<DispatchResult> {
    const result: DispatchResult = {
      status: 'caught-up',
      committed: -1,
      invocations: 0,
      delivered: 0,
      failed: 0,
    };
    const sub = await this.deps.subscription(name);
    if (!sub) return { ...result, status: 'deleted' };
    if (!sub.enabled) return { ...result, status: 'paused' };
    const topic = await this.deps.topics.withPartition(sub.topic, partition);
    const lease = await acquireLease(
      this.deps.meta,
      keys.subscriptionLease(topic.id, partition, name),
      this.deps.owner,
      this.ttl,
      this.deps,
    );
    if (!lease) return { ...result, status: 'busy' };
    const run = new PartitionRun(
      this.deps,
      this.ttl,
      this.maxBytes,
      sub,
      topic.id,
      partition,
      lease,
      result,
      options,
    );
    let released = false;
    try {
      result.status = await run.loop();
    } catch (error) {
      if (error instanceof Deposed) result.status = 'deposed';
      else if (error instanceof OffsetMoved) result.status = 'offset-moved';
      else throw error;
    } finally {
      if (result.status !== 'deposed')
        released = await releaseLease(this.deps.meta, run.lease).catch(() => false);
    }
    if (result.status === 'caught-up' && released) {
      // A produce that landed after our last fetch may have been refused a run ('busy')
      // while we held the lease: look once more, now that the lease is free.
      const head = await this.deps.reader.head(topic, partition);
      if (head.data.next > result.committed) {
        const again = await this.dispatch(name, partition, options);
        if (again.status !== 'busy') {
          return {
            ...again,
            invocations: result.invocations + again.invocations,
            delivered: result.delivered + again.delivered,
            failed: result.failed + again.failed,
          };
        }
      }
    }
    return result;
  }
}

/**
 * The retry state of the batch at the committed offset, kept in the group's committed-offset
 * item beside the offset (`retry`), so it outlives the run: a continuation after a deadline,
 * another process, or the next holder of the lease carries on counting (Lambda counts attempts
 * per batch). Moving the offset clears it.
 */
interface RetryState {
  /** Failed invocations of the current batch that counted (bisecting does not count). */
  attempts: number;
  /**
   * Exclusive end offsets of the batches still to deliver before the batch size applies again,
   * the nearest last: a failed batch is retried with exactly its records (its end is pushed),
   * and a bisected one as its halves (the middle is pushed on top of its end).
   */
  ends: number[];
  /** No invocation before this instant (ms since the epoch): the backoff of the last failure. */
  retryAt: number;
  /** The last error. */
  error: string | null;
}

const NO_RETRY: RetryState = { attempts: 0, ends: [], retryAt: 0, error: null };

function decodeRetry(raw: unknown): RetryState {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) return { ...NO_RETRY, ends: [] };
  const r = raw as Record<string, unknown>;
  return {
    attempts: Number.isSafeInteger(r.attempts) ? (r.attempts as number) : 0,
    ends: Array.isArray(r.ends) ? r.ends.filter((e): e is number => Number.isSafeInteger(e)) : [],
    retryAt: typeof r.retryAt === 'number' ? r.retryAt : 0,
    error: typeof r.error === 'string' ? r.error : null,
  };
}

class PartitionRun {
  private offset = 0;
  private offsetVersion: number | undefined;
  private readonly offsetKey: ItemKey;
  private retry: RetryState = { ...NO_RETRY, ends: [] };
  private compiled: { source: string; accept: ((r: KafkaRecord) => boolean) | undefined } | undefined;

  constructor(
    private readonly deps: DispatcherDeps,
    private readonly ttl: number,
    private readonly maxBytes: number,
    private sub: SubscriptionConfig,
    /** The topic incarnation dispatched: its records, its offsets, nothing of another. */
    private readonly topicId: string,
    private readonly partition: number,
    public lease: Lease,
    private readonly result: DispatchResult,
    private readonly options: DispatchOptions,
  ) {
    this.offsetKey = keys.committed(sub.groupId, sub.topic, partition);
  }

  async loop(): Promise<DispatchStatus> {
    const { clock, reader } = this.deps;
    const stored = await this.deps.meta.get(this.offsetKey);
    this.offsetVersion = stored?.version;
    // An offset of an older topic of the same name is no position in this one.
    const committed = currentItem(stored, this.topicId);
    this.offset =
      typeof committed?.data.offset === 'number'
        ? committed.data.offset
        : (await reader.listOffset(this.sub.topic, this.partition, 'earliest', { topicId: this.topicId }))
            .offset;
    this.retry = decodeRetry(committed?.data.retry);
    this.result.committed = this.offset;

    let first = true;
    for (;;) {
      if (this.options.deadline !== undefined && clock.now() >= this.options.deadline) return 'deadline';
      if (!first) {
        const current = await this.deps.subscription(this.sub.name);
        if (!current) return 'deleted';
        if (!current.enabled) return 'paused';
        this.sub = current;
      }
      first = false;

      // The backoff of the last failure, whether this run or an earlier one saw it.
      const wait = this.retry.retryAt - clock.now();
      if (wait > 0) {
        if (this.options.deadline !== undefined && this.retry.retryAt >= this.options.deadline)
          return 'deadline';
        await clock.sleep(wait);
      }

      const end = this.retry.ends.at(-1);
      const limit = Math.max(
        1,
        Math.min(this.sub.batchSize, end === undefined ? Infinity : end - this.offset),
      );
      let records = await this.fetch(limit);
      if (records === undefined) continue; // moved past a gap or lost records
      if (records.length === 0) return 'caught-up';
      if (end === undefined && this.sub.maxBatchingWindowMs > 0 && records.length < limit) {
        const waited = clock.now() - records[0]!.timestamp;
        if (waited >= 0 && waited < this.sub.maxBatchingWindowMs) {
          await clock.sleep(this.sub.maxBatchingWindowMs - waited);
          records = (await this.fetch(limit)) ?? [];
          if (records.length === 0) continue;
        }
      }

      // Records that match none of the filters are dropped (Lambda drops them) and committed past.
      const batchEnd = records.at(-1)!.offset + 1;
      const accept = this.filter();
      if (accept) {
        records = records.filter(accept);
        if (records.length === 0) {
          await this.commit(batchEnd);
          continue;
        }
      }

      // Records past their age go to onFailure unprocessed (the oldest come first).
      if (this.sub.maxRecordAgeMs >= 0) {
        const now = clock.now();
        const expired = records.findIndex((r) => now - r.timestamp <= this.sub.maxRecordAgeMs);
        const cut = expired === -1 ? records.length : expired;
        if (cut > 0) {
          await this.giveUp(records.slice(0, cut), 'RecordAgeExceeded');
          continue;
        }
      }

      await this.holdLease();
      this.result.invocations++;
      const event = buildEvent(this.deps.cluster, this.sub.topic, this.partition, records);
      const outcome = await this.deps.invoker.invoke(this.sub.target, event);
      let good = records.length;
      let error: string | null = null;
      if (!outcome.ok) {
        good = 0;
        error = outcome.error;
      } else if (this.sub.reportBatchItemFailures) {
        const failed = firstFailedOffset(
          outcome.response,
          this.sub.topic,
          this.partition,
          records.map((r) => r.offset),
        );
        if (failed !== undefined) {
          good = records.findIndex((r) => r.offset === failed);
          error = `the function reported a failure of ${this.sub.topic}-${this.partition}@${failed}`;
        }
      }
      if (good > 0) {
        // Up to the first failed record, or past the whole batch (and the records filtered out of it).
        await this.commit(good === records.length ? batchEnd : records[good]!.offset);
        this.result.delivered += good;
      }
      if (good === records.length) continue;

      const failing = records.slice(good);
      const failingEnd = batchEnd;
      const ends =
        this.retry.ends.at(-1) === failingEnd ? [...this.retry.ends] : [...this.retry.ends, failingEnd];
      if (this.sub.bisectBatchOnFunctionError && !outcome.ok && failing.length > 1) {
        // Each half is a batch of its own with its own retries (splitting uses up no attempt,
        // as in Lambda); a lone failing record ends up alone in its batch.
        ends.push(failing[Math.ceil(failing.length / 2)]!.offset);
        await this.saveRetry({ attempts: 0, ends, retryAt: 0, error });
        continue;
      }
      const attempts = this.retry.attempts + 1;
      if (this.sub.maxRetryAttempts >= 0 && attempts > this.sub.maxRetryAttempts) {
        await this.giveUp(failing, 'RetryAttemptsExhausted', { error, attempts });
        continue;
      }
      const base = this.deps.retryBaseMs ?? 500;
      const ceiling = Math.min(this.deps.retryMaxMs ?? 30_000, base * 2 ** (attempts - 1));
      const delay = Math.floor(ceiling / 2 + (this.deps.random() * ceiling) / 2);
      await this.saveRetry({ attempts, ends, retryAt: clock.now() + delay, error });
    }
  }

  /** The subscription's filters as a predicate, recompiled when they change; undefined: none. */
  private filter(): ((r: KafkaRecord) => boolean) | undefined {
    const filters = this.sub.filters ?? [];
    const source = JSON.stringify(filters);
    if (this.compiled?.source !== source) {
      this.compiled = { source, accept: filters.length === 0 ? undefined : compileFilters(filters) };
    }
    return this.compiled.accept;
  }

  /** Up to `limit` records from the committed offset; undefined after skipping a gap. */
  private async fetch(limit: number): Promise<KafkaRecord[] | undefined> {
    try {
      const got = await this.deps.reader.fetchRecords(this.sub.topic, this.partition, this.offset, {
        maxRecords: limit,
        maxBytes: this.maxBytes,
        topicId: this.topicId,
      });
      if (got.records.length === 0 && got.nextOffset > this.offset) {
        // Compaction removed every record of a range: nothing to deliver there.
        await this.commit(got.nextOffset);
        return undefined;
      }
      return got.records;
    } catch (error) {
      if (!(error instanceof SluiceError) || error.code !== 'OFFSET_OUT_OF_RANGE') throw error;
      const { offset: start } = await this.deps.reader.listOffset(
        this.sub.topic,
        this.partition,
        'earliest',
        {
          topicId: this.topicId,
        },
      );
      if (start <= this.offset) throw error;
      // Retention deleted records before they were delivered: say so, never silently.
      await this.report({
        startOffset: this.offset,
        endOffset: start - 1,
        recordCount: start - this.offset,
        condition: 'RecordAgeExceeded',
        error: 'deleted by retention before delivery',
        attempts: 0,
      });
      await this.commit(start);
      return undefined;
    }
  }

  private async giveUp(
    records: readonly KafkaRecord[],
    condition: FailureRecord['condition'],
    last: { error: string | null; attempts: number } = this.retry,
  ): Promise<void> {
    await this.report({
      startOffset: records[0]!.offset,
      endOffset: records.at(-1)!.offset,
      recordCount: records.length,
      condition,
      error: last.error,
      attempts: last.attempts,
    });
    this.result.failed += records.length;
    await this.commit(records.at(-1)!.offset + 1);
  }

  private async report(
    part: Pick<
      FailureRecord,
      'startOffset' | 'endOffset' | 'recordCount' | 'condition' | 'error' | 'attempts'
    >,
  ): Promise<void> {
    const record: FailureRecord = {
      subscription: this.sub.name,
      groupId: this.sub.groupId,
      topic: this.sub.topic,
      partition: this.partition,
      ...part,
      timestamp: this.deps.clock.now(),
    };
    if (this.sub.onFailure === null) {
      // Without a destination, a record is never dropped: keep retrying it (Lambda would
      // discard it; Sluice refuses to skip silently).
      await this.holdLease();
      throw new SluiceError(
        'UNAVAILABLE',
        `subscription ${this.sub.name}: ${part.condition} for ${this.sub.topic}-${this.partition} ` +
          `offsets ${part.startOffset}..${part.endOffset} and no onFailure destination; not skipping them`,
      );
    }
    await this.holdLease();
    await this.deps.failures.send(this.sub.onFailure, record);
  }

  /** Renews the lease when less than half its TTL is left, so an invocation ends within it. */
  private async holdLease(): Promise<void> {
    const { clock, meta } = this.deps;
    if (this.lease.expiresAt - clock.now() >= this.ttl / 2) return;
    const renewed = await renewLease(meta, this.lease, this.ttl, { clock });
    if (!renewed) throw new Deposed();
    this.lease = renewed;
  }

  /** Moves the group's offset to `next` (which clears the retry state), fenced by the lease. */
  private async commit(next: number): Promise<void> {
    await this.write(next, undefined);
    this.offset = next;
    this.result.committed = next;
    const ends = this.retry.ends.filter((e) => e > next);
    this.retry = { ...NO_RETRY, ends };
  }

  /** Records the retry state of the batch at the committed offset, fenced by the lease. */
  private async saveRetry(retry: RetryState): Promise<void> {
    await this.write(this.offset, retry);
    this.retry = retry;
  }

  /**
   * One transaction: a check on the lease item and the offset item conditioned on its
   * version, so neither a deposed dispatcher nor one whose offset was reset under it writes.
   */
  private async write(offset: number, retry: RetryState | undefined): Promise<void> {
    const at = this.deps.clock.now();
    try {
      await this.deps.meta.transact([
        fenceOp(this.lease),
        {
          type: 'put',
          key: this.offsetKey,
          data:
            retry === undefined
              ? { offset, at, tid: this.topicId }
              : { offset, at, tid: this.topicId, retry: { ...retry } },
          condition: this.offsetVersion === undefined ? { absent: true } : { version: this.offsetVersion },
        },
      ]);
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      if (error.failed(this.lease.key)) throw new Deposed();
      throw new OffsetMoved();
    }
    this.offsetVersion = (this.offsetVersion ?? 0) + 1;
  }
}
