/**
 * The write path, exactly as DESIGN.md §3:
 *
 *   1. validate (topic from the per-instance cache, batch sizes and headers; CRCs were
 *      checked when the request was parsed);
 *   2. PUT one segment object holding every batch of the request;
 *   3. commit one transaction: per partition, CAS the head (`next` += count, producer
 *      state) and put an index item keyed by the run's last offset; plus one registry
 *      item counting the partitions that reference the object;
 *   4. on conflict, take the winners' heads from the error and commit again;
 *   5. ack only after the commit.
 *
 * Concurrent requests of one instance for the same partitions share step 3 (group
 * commit, docs/design.md "Contention and group commit"): one transaction advances each head past all of them, in order,
 * with each request's own index and registry items; each PUTs its own object first.
 *
 * Offsets are assigned at commit, never before the data is durable. A commit whose
 * outcome is unknown (a timeout, or "failed" after it succeeded) is retried: if it had
 * landed, the registry item tells so, with the offsets it assigned, and nothing is
 * appended twice. Requests above one transaction's 100 items are committed in chunks of
 * 49 partitions: atomic per chunk, not across chunks.
 */
import type { Clock, Random } from './clock.js';
import { SluiceError, UnavailableError } from './errors.js';
import { GroupCommitter } from './group-commit.js';
import { EMPTY_HEAD, type Head, HeadCache, type HeadData, headFromItem, headToData } from './heads.js';
import { INTENT_MAX_AGE_MS, type Intent, intentData, intentFromItem, intentSk } from './intents.js';
import { keys, objectKeys } from './keys.js';
import { KeyedMutex } from './mutex.js';
import {
  ConflictError,
  type ItemData,
  type ItemKey,
  type MetaStore,
  ObjectExistsError,
  type ObjectStore,
  type QueryPage,
  type TransactOp,
} from './ports.js';
import { ProducerItemCache } from './producer-cache.js';
import {
  checkSequence,
  DEFAULT_PRODUCER_LIMITS,
  nextState,
  type Placement,
  type ProducerAppend,
  type ProducerItem,
  type ProducerState,
  type ProducerStateLimits,
  placeProducer,
  producerItemData,
  producerItemFrom,
  pruneExpired,
  type SequenceCheck,
} from './producers.js';
import { type DeflatedBatch, decodeBatch, encodeSegment } from './records/index.js';
import { checkRecordRules, hasRecordRules } from './topic-rules.js';
import type { TopicConfig, TopicMeta, Topics } from './topics.js';

/**
 * An append met the tombstone of a deleted topic id (docs/design.md "Topic incarnations"):
 * the instance's cache held a topic that was deleted since. Nothing of the chunk was written.
 */
export class StaleTopicError extends SluiceError {
  override name = 'StaleTopicError';
  /** True when earlier chunks of the same request had landed. */
  landed = false;
  constructor(
    readonly topic: string,
    readonly topicId: string,
  ) {
    super('UNKNOWN_TOPIC_OR_PARTITION', `topic '${topic}' was deleted (id ${topicId})`);
  }
}

/** All batches of one topic-partition in a request, in order, CRCs already verified. */
export interface AppendRun {
  topic: string;
  partition: number;
  batches: DeflatedBatch[];
  /**
   * Batches this process encoded itself (the JSON path): their records need no check.
   * Others are decoded once before the ack, as Kafka's broker validates what it stores.
   */
  trusted?: boolean;
}

export interface AppendResult {
  topic: string;
  partition: number;
  baseOffset: number;
  /** Records appended (or, for a duplicate, originally appended). */
  count: number;
  logAppendTime: number;
  /** True when this was a retry of an append that had landed: nothing was written. */
  duplicate: boolean;
}

/** Index item of one run in one object: where its batches are, which offsets they hold. */
export interface IndexEntry {
  /** object key */
  o: string;
  /** byte position and length in the object */
  pos: number;
  len: number;
  /** first offset, offsets spanned, records, batches */
  base: number;
  n: number;
  rc: number;
  bc: number;
  /** max record timestamp, log append time */
  mt: number;
  at: number;
  /**
   * Set by compaction when the batches' own base offsets are authoritative (a compacted
   * run may skip offsets); otherwise offsets follow from `base` batch after batch.
   */
  abs?: boolean;
}

export interface AppendOptions {
  /**
   * Extra items written in the transaction of each chunk (at most
   * {@link AppendOptions.extraItems} of them), given the runs of that chunk: what a caller
   * must record atomically with the append (the inbox batcher's ledger of event ids).
   */
  chunkOps?: (runs: readonly AppendRun[], chunk: number, now: number) => TransactOp[];
  /** Items `chunkOps` may return per chunk. Default 1. */
  extraItems?: number;
  /**
   * A conflict on which the append stops (rethrowing it) instead of committing again: for
   * conditions of `chunkOps` that only the caller can re-decide.
   */
  abortOn?: (err: ConflictError) => boolean;
}

/** A segment written by {@link Appender.stage}: where each run lies and what it holds. */
export interface StagedSegment {
  objectKey: string;
  runs: {
    topic: string;
    topicId: string;
    partition: number;
    /** Byte position and length of the run in the object. */
    position: number;
    length: number;
    records: number;
    /** Offsets the run spans once committed. */
    offsets: number;
    batches: number;
    maxTimestamp: number;
  }[];
}

export interface AppenderDeps {
  meta: MetaStore;
  objects: ObjectStore;
  topics: Topics;
  clock: Clock;
  random: Random;
  producerLimits?: ProducerStateLimits;
  /** Attempts at committing one chunk before giving up with UNAVAILABLE. Default 200. */
  maxCommitAttempts?: number;
  /** Time spent committing one chunk before giving up with UNAVAILABLE, in ms. Default 20000. */
  commitTimeoutMs?: number;
  /**
   * Concurrent requests for the same partitions share one commit (group commit; see
   * the design). Default true; false commits one transaction per request.
   */
  groupCommit?: boolean;
  /**
   * Writers in separate instances that race for a partition's head stop racing: a writer
   * that lost a race publishes a write intent beside the head and one writer commits all
   * pending intents in one transaction (core/intents.ts; docs/design.md "Contention and
   * group commit"). Applies to requests of one partition in one transaction; a writer that
   * never loses a race never publishes an intent. Default true; false restores racing only
   * (optimistic retries with jittered backoff).
   */
  combine?: boolean;
}

/** A partition stays "contended" (requests go straight to intents) this long after a lost race, ms. */
const CONTENDED_MS = 1000;
/** Waiting writers look at the pending intents about this often, ms (jittered ±50%). */
const INTENT_POLL_MS = 10;
/** A writer whose intent waited this long commits the pending intents itself, ms. */
const INTENT_TAKEOVER_MS = 100;
/** Intents committed in one transaction: ≤ 4 items each (index, producer, registry, intent). */
export const COMBINE_CAPACITY = 24;

/** One request's chunk, committed alone or in a group with others on the same partitions. */
interface CommitMember {
  chunk: Prepared[];
  objectKey: string;
  /** Chunk number within its request. */
  index: number;
  /** The request's object registry item version as last known (0: absent). */
  registry: { version: number };
  /** Where the member's results go (shared by the request's chunks). */
  results: Map<Prepared, AppendResult>;
  /** The request's options: extra ops per chunk, conflicts that stop the append. */
  options: AppendOptions;
  /** The request is this one chunk of one run without extra ops: it may go through an intent. */
  single: boolean;
  /** Its write intent, once published (or, for a foreign member, as read). */
  intent?: { key: ItemKey; version: number };
  /** Another writer's intent, committed here on its behalf. */
  foreign?: boolean;
}

/** One attempt at committing a group. */
interface GroupPlan {
  ops: TransactOp[];
  /** Members that append something in this attempt, with the runs they append. */
  writers: { member: CommitMember; appends: Prepared[] }[];
  /** Members in this attempt (others wait for the next), with their results if it lands. */
  results: Map<CommitMember, Map<Prepared, AppendResult>>;
  /** Heads after this attempt lands, by partition pk. */
  newHeads: Map<string, Head>;
  /** Producer items after this attempt lands, by producer cache key. */
  newItems: Map<string, ProducerItem>;
  headKeys: Map<string, ItemKey>;
  /** Producer item keys of the producers in this attempt, by producer cache key. */
  producerKeys: Map<string, ItemKey>;
}

/**
 * Members in one group commit on `partitions` partitions: one head item per partition,
 * plus per member one index item and at most one producer item per partition, and its
 * registry item, within 100 items.
 */
export function groupCapacity(partitions: number): number {
  return Math.max(1, Math.floor((100 - partitions) / (2 * partitions + 1)));
}

/**
 * Partitions per transaction: 2 items each plus the registry item, within 100. A partition
 * written by an idempotent producer may take a third item (its producer state, when not
 * on the head), so chunks are packed by items: see {@link commitChunks}.
 */
export const PARTITIONS_PER_COMMIT = 49;

/** Items of one transaction besides the registry item. */
const ITEMS_PER_COMMIT = 2 * PARTITIONS_PER_COMMIT + 1;

/** Splits prepared runs into transactions of at most 100 items, in order. */
function commitChunks<T extends { producer: ProducerAppend | undefined }>(
  prepared: T[],
  reserved = 0,
): T[][] {
  const chunks: T[][] = [];
  let items = Number.POSITIVE_INFINITY;
  for (const p of prepared) {
    const cost = p.producer ? 3 : 2;
    if (items + cost > ITEMS_PER_COMMIT - reserved) {
      chunks.push([]);
      items = 0;
    }
    chunks.at(-1)!.push(p);
    items += cost;
  }
  return chunks;
}

interface Prepared {
  run: AppendRun;
  topic: TopicMeta;
  pk: string;
  records: number;
  offsets: number;
  maxTimestamp: number;
  producer: ProducerAppend | undefined;
  position: number;
  length: number;
  /** Batches of the run. */
  batchCount: number;
}

export class Appender {
  readonly heads = new HeadCache();
  readonly producers = new ProducerItemCache();
  /** Partitions where this instance lost a race lately, until when (ms): requests go straight to intents. */
  private readonly contended = new Map<string, number>();
  private readonly committer = new GroupCommitter<CommitMember>(new KeyedMutex(), (members) =>
    this.commitGroup(members),
  );
  private readonly limits: ProducerStateLimits;

  constructor(private readonly deps: AppenderDeps) {
    this.limits = deps.producerLimits ?? DEFAULT_PRODUCER_LIMITS;
  }

  /**
   * Appends runs atomically (per chunk of {@link PARTITIONS_PER_COMMIT} partitions) and
   * returns one result per distinct topic-partition, in order of first appearance.
   */
  async append(input: readonly AppendRun[], options: AppendOptions = {}): Promise<AppendResult[]> {
    try {
      return await this.appendOnce(input, options);
    } catch (err) {
      // The cache held a deleted incarnation of a topic (its head is a tombstone) and
      // nothing of the request landed: append again, to the topic of that name as it is now.
      if (!(err instanceof StaleTopicError) || err.landed) throw err;
      return this.appendOnce(input, options);
    }
  }

  private async appendOnce(input: readonly AppendRun[], options: AppendOptions): Promise<AppendResult[]> {
    const runs = mergeRuns(input);
    if (runs.length === 0)
      throw new SluiceError('INVALID_REQUEST', 'a produce request needs at least one record');
    const prepared: Prepared[] = [];
    for (const run of runs) prepared.push(await this.prepare(run));

    const results = new Map<Prepared, AppendResult>();
    // Cheap early answer for a retried request: every run is a known duplicate.
    const now = this.deps.clock.now();
    const dupes = prepared.map((p) => {
      const head = this.heads.get(p.pk);
      return head && !head.data.deleted
        ? this.duplicateOf(p, this.placementOf(p, head, now)?.state)
        : undefined;
    });
    if (dupes.every((d) => d !== undefined)) return dupes as AppendResult[];

    const objectKey = await this.writeSegment(prepared);

    const chunks = commitChunks(prepared, options.chunkOps ? (options.extraItems ?? 1) : 0);
    if (chunks.length > 1) await this.precheckSequences(prepared);
    const registry = { version: 0 };
    for (const [index, chunk] of chunks.entries()) {
      try {
        await this.committer.submit(
          chunk.map((p) => p.pk),
          {
            chunk,
            objectKey,
            index,
            registry,
            results,
            options,
            single: chunks.length === 1 && chunk.length === 1 && !options.chunkOps,
          },
          // A request with ops of its own (the inbox batcher's ledger) commits alone.
          this.deps.groupCommit === false || options.chunkOps ? 1 : groupCapacity(chunk.length),
        );
      } catch (err) {
        if (err instanceof StaleTopicError) err.landed = index > 0;
        throw err;
      }
    }
    return prepared.map((p) => results.get(p)!);
  }

  /**
   * Validates runs and PUTs them as one segment object that no index entry references yet:
   * the staging step of a transaction (core/transactions), which makes the runs visible
   * later with index entries of its own. Producer fields of the batches are not checked
   * here; the transaction's epoch fences instead.
   */
  async stage(input: readonly AppendRun[]): Promise<StagedSegment> {
    const runs = mergeRuns(input);
    if (runs.length === 0) throw new SluiceError('INVALID_REQUEST', 'a send needs at least one record');
    const prepared: Prepared[] = [];
    for (const run of runs) prepared.push(await this.prepare(run));
    const objectKey = await this.writeSegment(prepared);
    return {
      objectKey,
      runs: prepared.map((p) => ({
        topic: p.run.topic,
        topicId: p.topic.id,
        partition: p.run.partition,
        position: p.position,
        length: p.length,
        records: p.records,
        offsets: p.offsets,
        batches: p.run.batches.length,
        maxTimestamp: p.maxTimestamp,
      })),
    };
  }

  /** Encodes the prepared runs into one segment, PUTs it, and records where each run lies. */
  private async writeSegment(prepared: Prepared[]): Promise<string> {
    const segment = encodeSegment(
      prepared.map((p) => ({
        topic: p.run.topic,
        partition: p.run.partition,
        batches: p.run.batches.map((b) => b.bytes),
      })),
    );
    prepared.forEach((p, i) => {
      p.position = segment.index[i]!.position;
      p.length = segment.index[i]!.length;
    });
    const objectKey = objectKeys.segment(this.newObjectId());
    await this.putObject(objectKey, segment.bytes);
    return objectKey;
  }

  /**
   * The PUT, retried on transient errors. The key is ours alone, so "exists" on a retry
   * means an earlier attempt landed after all.
   */
  private async putObject(key: string, bytes: Uint8Array): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.deps.objects.put(key, bytes);
        return;
      } catch (err) {
        if (attempt > 0 && err instanceof ObjectExistsError) return;
        if (!(err instanceof SluiceError && err.retriable) || attempt >= 3) throw err;
        await this.deps.clock.sleep(Math.floor(20 * 2 ** attempt * this.deps.random()));
      }
    }
  }

  private newObjectId(): string {
    const r = () =>
      Math.floor(this.deps.random() * 2 ** 32)
        .toString(16)
        .padStart(8, '0');
    // A random first component spreads keys over S3 prefixes; the time part helps humans.
    return `${r().slice(0, 4)}/${this.deps.clock.now().toString(36)}-${r()}${r()}`;
  }

  /** Where `p`'s producer state is, given `head` and the cached producer item. */
  private placementOf(p: Prepared, head: Head, now: number): Placement | undefined {
    if (!p.producer) return undefined;
    const item = this.producers.get(ProducerItemCache.key(p.pk, p.producer.producerId));
    return placeProducer(head.data.p, item, p.producer.producerId, now, this.limits);
  }

  private duplicateOf(p: Prepared, state: ProducerState | undefined): AppendResult | undefined {
    if (!p.producer || !state) return undefined;
    let check: SequenceCheck;
    try {
      check = checkSequence(state, p.producer);
    } catch {
      return undefined; // decided against a fresh head in commitChunk
    }
    if (check.kind !== 'duplicate') return undefined;
    return {
      topic: p.run.topic,
      partition: p.run.partition,
      baseOffset: check.baseOffset,
      count: p.records,
      logAppendTime: check.logAppendTime,
      duplicate: true,
    };
  }

  /**
   * A request committed in several transactions must not fail half-way on a sequence or
   * epoch error: every producer run is checked against fresh heads before the first commit.
   */
  private async precheckSequences(prepared: Prepared[]): Promise<void> {
    const withProducer = prepared.filter((p) => p.producer);
    if (withProducer.length === 0) return;
    const items = await this.deps.meta.batchGet(
      withProducer.flatMap((p) => [
        keys.head(p.topic.id, p.run.partition),
        keys.producer(p.topic.id, p.run.partition, p.producer!.producerId),
      ]),
    );
    const now = this.deps.clock.now();
    withProducer.forEach((p, i) => {
      const head = headFromItem(items[2 * i]);
      this.heads.set(p.pk, head);
      if (head.data.deleted) throw this.stale(p);
      this.producers.set(
        ProducerItemCache.key(p.pk, p.producer!.producerId),
        producerItemFrom(items[2 * i + 1]),
      );
      checkSequence(this.placementOf(p, this.heads.get(p.pk)!, now)!.state, p.producer!);
    });
  }

  /**
   * Commits a group of chunks (one chunk per request, on the same partitions) in one
   * transaction: per partition one head CAS covering every member's records, in order; per
   * member its index items, producer-state ops and its object's registry update.
   * `registry.version` is the object registry item's version as last known (0: absent),
   * updated as commits land. What a member's chunk `index` assigned is kept in its registry
   * under `b<index>` / `t<index>`, so an ambiguous commit is recognised on retry, whatever
   * else (maintenance releasing references) changed the item meanwhile. A member whose
   * producer sequence or epoch is refused (against items read just now) fails alone; a
   * member whose producer already appends to a partition in this transaction waits for
   * the next one (one op per item). Returns, per member, its error or `undefined` once its
   * results are set.
   */
  private async commitGroup(members: CommitMember[]): Promise<(unknown | undefined)[]> {
    const { clock, random } = this.deps;
    const maxAttempts = this.deps.maxCommitAttempts ?? 200;
    const deadline = clock.now() + (this.deps.commitTimeoutMs ?? 20_000);
    const errors = new Map<CommitMember, unknown>();
    const landed = new Set<CommitMember>();
    const fresh = new Set<string>();
    const pk = members[0]!.chunk[0]!.pk;
    // One partition, one transaction per request: a lost race may switch to intents.
    const combinable = this.deps.combine !== false && members.every((m) => m.single);
    let combine = combinable && (this.contended.get(pk) ?? 0) > clock.now();
    let combined = false;
    let lastError: unknown;
    let backoff = false;
    for (let attempt = 0; attempt < maxAttempts && (attempt < 2 || clock.now() < deadline); attempt++) {
      if (combine) {
        // At most once per group: members it hands back (withdrawn at the deadline, or
        // dropped as expired) go on racing below until the deadline.
        combine = false;
        combined = true;
        const live = members.filter((m) => !errors.has(m) && !landed.has(m));
        if (live.length > 0) await this.combine(live, errors, landed, fresh, deadline);
        continue;
      }
      // Full jitter, capped low: contention here is short-lived (one round trip per winner).
      if (backoff) await clock.sleep(Math.floor(Math.min(100, 2 ** Math.min(attempt, 7)) * random()));
      backoff = true;
      const now = clock.now();
      let plan: GroupPlan | undefined;
      while (!plan) {
        const live = members.filter((m) => !errors.has(m) && !landed.has(m));
        if (live.length === 0) break;
        plan = await this.planGroup(live, now, fresh, errors);
      }
      if (!plan) break;
      if (plan.ops.length === 0) {
        for (const [m, results] of plan.results) this.settle(m, results, landed);
        backoff = false;
        continue;
      }
      const failure = await this.tryPlan(plan, landed);
      if (failure) {
        lastError = failure.error;
        if (combinable && failure.raced) {
          this.contended.set(pk, clock.now() + CONTENDED_MS);
          combine = !combined;
        }
        continue;
      }
      // Members left out of this transaction (their producer was in it already) go next.
      backoff = false;
    }
    return members.map((m) => {
      if (errors.has(m)) return errors.get(m);
      if (landed.has(m)) return undefined;
      return new UnavailableError(
        'could not commit the append: too much contention on its partitions; retry',
        {
          cause: lastError,
        },
      );
    });
  }

  /**
   * Commits one planned attempt. On success updates the caches and settles its members;
   * otherwise learns what the error shows (heads, producer items, members an earlier
   * attempt had landed) and returns the error, `raced` when another writer's commit on the
   * head was the cause (a cancelled overlapping transaction, or the head's condition).
   * Throws errors that are final.
   */
  private async tryPlan(
    plan: GroupPlan,
    landed: Set<CommitMember>,
  ): Promise<{ error: unknown; raced: boolean } | undefined> {
    try {
      await this.deps.meta.transact(plan.ops);
    } catch (err) {
      if (!(err instanceof ConflictError)) {
        // Only transient failures (throttling, timeouts: retriable errors) have an unknown
        // outcome worth another attempt; anything else is final.
        if (!(err instanceof SluiceError && err.retriable)) throw err;
        // Unknown outcome (timeout, throttle, 5xx): commit again; if the first one had
        // landed, the registry condition says so. A cancellation for TransactionConflict
        // (storage/aws-errors.ts) is certain: another transaction held an item.
        return { error: err, raced: err.message.includes('TransactionConflict') };
      }
      for (const { member, appends } of plan.writers) {
        const registryKey = keys.objectRef(member.objectKey);
        if (!err.failed(registryKey)) continue;
        const current = err.currentOf(registryKey);
        const bases = current?.data[`b${member.index}`] as number[] | undefined;
        const time = current?.data[`t${member.index}`] as number | undefined;
        if (current && bases && time !== undefined && bases.length === appends.length) {
          // An earlier attempt of this chunk landed: answer with what it assigned.
          member.registry.version = current.version;
          appends.forEach((p, i) => {
            this.heads.delete(p.pk);
            if (p.producer) this.producers.delete(ProducerItemCache.key(p.pk, p.producer.producerId));
            member.results.set(p, this.result(p, bases[i]!, time));
          });
          landed.add(member);
        } else member.registry.version = current?.version ?? 0;
      }
      for (const { member } of plan.writers) {
        if (!landed.has(member) && member.options.abortOn?.(err)) throw err;
      }
      let learned = false;
      let raced = false;
      for (const [pk, key] of plan.headKeys) {
        if (err.failed(key)) {
          this.heads.set(pk, headFromItem(err.currentOf(key)));
          learned = true;
          raced = true;
        }
      }
      for (const [cacheKey, key] of plan.producerKeys) {
        if (err.failed(key)) {
          this.producers.set(cacheKey, producerItemFrom(err.currentOf(key)));
          learned = true;
        }
      }
      // Only index items conflicted (or the store said nothing useful): our heads are
      // stale in a way the error does not show. Forget them; the next attempt reads.
      const registries = new Set(plan.writers.map((w) => keys.objectRef(w.member.objectKey).pk));
      const onlyRegistry = err.failures.every((f) => registries.has(f.key.pk));
      if (!learned && !onlyRegistry) for (const pk of plan.headKeys.keys()) this.heads.delete(pk);
      return { error: err, raced };
    }
    for (const [pk, head] of plan.newHeads) this.heads.set(pk, head);
    for (const [cacheKey, item] of plan.newItems) this.producers.set(cacheKey, item);
    for (const { member } of plan.writers) {
      member.registry.version += 1;
      if (member.intent) member.intent.version = 0; // deleted with the commit
    }
    for (const [m, results] of plan.results) this.settle(m, results, landed);
    return undefined;
  }

  /**
   * Commits `own` (single-partition members that lost a race) through write intents
   * (core/intents.ts): publishes one intent per member, then until each has an outcome,
   * reads the partition's pending intents; the writer whose intent is oldest — or whose
   * own waited {@link INTENT_TAKEOVER_MS} — commits up to {@link COMBINE_CAPACITY} of them
   * in one transaction, the others wait and read again. A member leaves with its results
   * (`landed`), its error (`errors`, its intent withdrawn first), or neither: withdrawn at
   * the deadline or dropped, never to be committed by anyone after.
   */
  private async combine(
    own: CommitMember[],
    errors: Map<CommitMember, unknown>,
    landed: Set<CommitMember>,
    fresh: Set<string>,
    deadline: number,
  ): Promise<void> {
    const { clock, random, meta } = this.deps;
    const first = own[0]!.chunk[0]!;
    const { pk } = first;
    const published = clock.now();
    await this.publishIntents(own, published);
    const mine = new Map(own.map((m) => [m.intent!.key.sk, m]));
    /** Foreign intents to delete uncommitted: expired, refused, duplicates, landed before. */
    const stale = new Map<string, { key: ItemKey; version: number }>();
    /** Intents dropped here: a later page may still show them (a read racing the delete). */
    const skip = new Set<string>();
    let waitingSince = published;
    let polled = false;
    for (;;) {
      const pending = own.filter((m) => !landed.has(m) && !errors.has(m) && m.intent!.version > 0);
      if (pending.length === 0 || clock.now() >= deadline) break;
      if (polled) await clock.sleep(INTENT_POLL_MS * (0.5 + random()));
      polled = true;
      let page: QueryPage;
      try {
        page = await meta.query(pk, { beginsWith: keys.intentPrefix }, { limit: 100 });
        const present = new Set(page.items.map((i) => i.sk));
        // Past a partial page, absence proves nothing.
        const last = page.next === undefined ? undefined : page.items.at(-1)?.sk;
        const gone = pending.filter(
          (m) => !present.has(m.intent!.key.sk) && (last === undefined || m.intent!.key.sk < last),
        );
        if (gone.length > 0) await this.outcomesOf(gone, landed);
      } catch (err) {
        if (err instanceof SluiceError && err.retriable) continue;
        throw err;
      }
      const now = clock.now();
      const all = page.items.map(intentFromItem);
      for (const i of all) {
        if (!mine.has(i.key.sk) && now - i.at > INTENT_MAX_AGE_MS) stale.set(i.key.sk, i);
      }
      const live = all.filter((i) => !stale.has(i.key.sk) && !skip.has(i.key.sk));
      // Other writers' intents pending: the partition is still contended.
      if (live.some((i) => !mine.has(i.key.sk))) this.contended.set(pk, now + CONTENDED_MS);
      const waiting = live.some((i) => {
        const m = mine.get(i.key.sk);
        return m && !landed.has(m) && !errors.has(m);
      });
      if (!waiting) continue;
      const oldest = live[0]!;
      // The oldest intent's writer combines; another takes over only after waiting long
      // enough for that one to be gone (then it commits the orphan too).
      if (!mine.has(oldest.key.sk) && now - waitingSince < INTENT_TAKEOVER_MS) continue;

      // This writer combines: the oldest intents, its own among them where they fit, over
      // the head as it is now (others have committed since this writer last saw it: one
      // read instead of a transaction failing on the head's version).
      try {
        this.heads.set(pk, headFromItem(await meta.get(keys.head(first.topic.id, first.run.partition))));
      } catch (err) {
        if (err instanceof SluiceError && err.retriable) continue;
        throw err;
      }
      const members = live
        .slice(0, COMBINE_CAPACITY)
        .map((i) => mine.get(i.key.sk) ?? this.foreignMember(i, first.run.topic, first.topic));
      const refused = new Map<CommitMember, unknown>();
      let plan: GroupPlan | undefined;
      while (!plan) {
        const candidates = members.filter((m) => !refused.has(m) && !landed.has(m) && !errors.has(m));
        if (candidates.length === 0) break;
        plan = await this.planGroup(candidates, now, fresh, refused);
      }
      plan ??= emptyPlan();
      // Foreign intents refused or answered as duplicates here are deleted uncommitted:
      // their writers, finding them gone without offsets, commit directly and get their
      // own answer. Ours are withdrawn by ourselves, below.
      for (const [m, err] of refused) {
        if (m.foreign) stale.set(m.intent!.key.sk, m.intent!);
        else errors.set(m, err);
      }
      const writing = new Set(plan.writers.map((w) => w.member));
      for (const m of plan.results.keys()) {
        if (m.foreign && !writing.has(m)) stale.set(m.intent!.key.sk, m.intent!);
      }
      const drops = [...stale.entries()].slice(0, Math.max(0, 100 - plan.ops.length));
      for (const [, i] of drops)
        plan.ops.push({ type: 'delete', key: i.key, condition: { version: i.version } });
      if (plan.ops.length === 0) {
        for (const [m, results] of plan.results) this.settle(m, results, landed);
        continue;
      }
      const failure = await this.tryPlan(plan, landed);
      for (const [sk, i] of drops) {
        // Dropped, or gone already (its delete failed): either way no longer ours to drop.
        if (!failure || (failure.error instanceof ConflictError && failure.error.failed(i.key))) {
          stale.delete(sk);
          skip.add(sk);
        }
      }
      // A foreign intent an earlier commit had landed (its registry says so) is dropped next.
      for (const m of members)
        if (m.foreign && landed.has(m) && failure) stale.set(m.intent!.key.sk, m.intent!);
      waitingSince = clock.now();
    }
    // What is still ours to settle: intents not committed by the deadline, members refused
    // (their intent must not be committed later), duplicates answered without a commit.
    for (const m of own) {
      if (m.intent && m.intent.version > 0) await this.withdraw(m, landed, errors);
    }
  }

  /** A member standing for another writer's intent (results unused). */
  private foreignMember(intent: Intent, topicName: string, topic: TopicMeta): CommitMember {
    const partition = Number(intent.key.pk.slice(intent.key.pk.lastIndexOf('#') + 1));
    const prepared: Prepared = {
      run: { topic: topicName, partition, batches: [] },
      topic,
      pk: intent.key.pk,
      records: intent.records,
      offsets: intent.offsets,
      maxTimestamp: intent.maxTimestamp,
      producer: intent.producer,
      position: intent.position,
      length: intent.length,
      batchCount: intent.batches,
    };
    return {
      chunk: [prepared],
      objectKey: intent.objectKey,
      index: 0,
      registry: { version: 0 },
      results: new Map(),
      options: {},
      single: true,
      intent: { key: intent.key, version: intent.version },
      foreign: true,
    };
  }

  /** Puts the members' intents (one transaction; create-only, so a replay is harmless). */
  private async publishIntents(own: CommitMember[], now: number): Promise<void> {
    const { topic, run } = own[0]!.chunk[0]!;
    const ops: TransactOp[] = own.map((m) => {
      const p = m.chunk[0]!;
      const id = this.newObjectId().replace('/', '-');
      m.intent = { key: keys.intent(topic.id, run.partition, intentSk(now, id)), version: 1 };
      return {
        type: 'put',
        key: m.intent.key,
        data: intentData({
          objectKey: m.objectKey,
          position: p.position,
          length: p.length,
          offsets: p.offsets,
          records: p.records,
          batches: p.batchCount,
          maxTimestamp: p.maxTimestamp,
          producer: p.producer,
          at: now,
        }),
        ttl: Math.ceil((now + INTENT_MAX_AGE_MS) / 1000) + 3600,
        condition: { absent: true },
      };
    });
    for (let attempt = 0; ; attempt++) {
      try {
        await this.deps.meta.transact(ops);
        return;
      } catch (err) {
        // Create-only: a failed condition means an earlier attempt of this put landed.
        if (err instanceof ConflictError && attempt > 0) return;
        if (!(err instanceof SluiceError && err.retriable) || attempt >= 5) throw err;
        await this.deps.clock.sleep(Math.floor(10 * 2 ** attempt * this.deps.random()));
      }
    }
  }

  /**
   * The outcome of members whose intent is gone: committed (their registry holds the
   * offsets it assigned) or dropped (it does not; they race again, or time out).
   */
  private async outcomesOf(gone: CommitMember[], landed: Set<CommitMember>): Promise<void> {
    const items = await this.deps.meta.batchGet(gone.map((m) => keys.objectRef(m.objectKey)));
    gone.forEach((m, i) => {
      m.intent!.version = 0;
      const current = items[i];
      const bases = current?.data[`b${m.index}`] as number[] | undefined;
      const time = current?.data[`t${m.index}`] as number | undefined;
      if (!current || !bases || time === undefined) return;
      m.registry.version = current.version;
      const p = m.chunk[0]!;
      m.results.set(p, this.result(p, bases[0]!, time));
      landed.add(m);
    });
  }

  /**
   * Deletes a member's own intent (condition: its version), so no one commits it after.
   * If it was gone already, reads whether it was committed.
   */
  private async withdraw(
    m: CommitMember,
    landed: Set<CommitMember>,
    errors: Map<CommitMember, unknown>,
  ): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.deps.meta.transact([
          { type: 'delete', key: m.intent!.key, condition: { version: m.intent!.version } },
        ]);
        m.intent!.version = 0;
        return;
      } catch (err) {
        if (err instanceof ConflictError) {
          if (landed.has(m)) {
            m.intent!.version = 0;
            return;
          }
          await this.outcomesOf([m], landed);
          if (landed.has(m)) errors.delete(m); // committed by another writer after all
          return;
        }
        if (!(err instanceof SluiceError && err.retriable) || attempt >= 5) throw err;
        await this.deps.clock.sleep(Math.floor(10 * 2 ** attempt * this.deps.random()));
      }
    }
  }
  private settle(
    member: CommitMember,
    results: Map<Prepared, AppendResult>,
    landed: Set<CommitMember>,
  ): void {
    for (const [p, r] of results) member.results.set(p, r);
    landed.add(member);
  }

  /**
   * Builds one attempt's transaction for the live members, each partition's head advanced
   * member after member. Returns `undefined` when it must be planned again: items were read
   * fresh (a sequence or epoch error is only believed from items read just now, since
   * cached ones may be behind), or a member was refused (its error is in `errors`).
   */
  private async planGroup(
    live: CommitMember[],
    now: number,
    fresh: Set<string>,
    errors: Map<CommitMember, unknown>,
  ): Promise<GroupPlan | undefined> {
    const start = new Map<string, Head>();
    const running = new Map<string, Head>();
    const headKeys = new Map<string, ItemKey>();
    const plan: GroupPlan = {
      ops: [],
      writers: [],
      results: new Map(),
      newHeads: new Map(),
      newItems: new Map(),
      headKeys,
      producerKeys: new Map(),
    };
    members: for (const member of live) {
      // One op per item: a producer already appending to a partition here waits its turn.
      for (const p of member.chunk) {
        if (p.producer && plan.producerKeys.has(ProducerItemCache.key(p.pk, p.producer.producerId)))
          continue members;
      }
      const results = new Map<Prepared, AppendResult>();
      const appends: Prepared[] = [];
      const bases: number[] = [];
      const ops: TransactOp[] = [];
      const items = new Map<string, ProducerItem>();
      const heads = new Map<string, Head>();
      for (const p of member.chunk) {
        if (!start.has(p.pk)) {
          const head = this.heads.get(p.pk) ?? { version: 0, data: { ...EMPTY_HEAD, p: {} } };
          start.set(p.pk, head);
          running.set(p.pk, head);
          headKeys.set(p.pk, keys.head(p.topic.id, p.run.partition));
        }
        const head = heads.get(p.pk) ?? running.get(p.pk)!;
        if (head.data.deleted) {
          errors.set(member, this.stale(p));
          return undefined;
        }
        const placement = this.placementOf(p, head, now);
        if (p.producer) {
          try {
            checkSequence(placement!.state, p.producer);
          } catch (err) {
            const cacheKey = ProducerItemCache.key(p.pk, p.producer.producerId);
            if (fresh.has(cacheKey)) errors.set(member, err);
            else {
              fresh.add(cacheKey);
              const [headItem, producerItem] = await this.deps.meta.batchGet([
                headKeys.get(p.pk)!,
                keys.producer(p.topic.id, p.run.partition, p.producer.producerId),
              ]);
              this.heads.set(p.pk, headFromItem(headItem));
              this.producers.set(cacheKey, producerItemFrom(producerItem));
            }
            return undefined;
          }
        }
        const dup = this.duplicateOf(p, placement?.state);
        if (dup) {
          results.set(p, dup);
          continue;
        }
        const base = head.data.next;
        const state = p.producer && nextState(placement?.state, p.producer, base, now);
        const data: HeadData = {
          next: base + p.offsets,
          start: head.data.start,
          size: head.data.size + p.length,
          p: pruneExpired(head.data.p, now, this.limits),
        };
        // Pending-commit markers of large transactions stay (DESIGN.md §13).
        if (head.data.x) data.x = head.data.x;
        if (placement?.at === 'head') data.p[p.producer!.producerId] = state!;
        heads.set(p.pk, { version: head.version, data });
        if (p.producer) {
          const cacheKey = ProducerItemCache.key(p.pk, p.producer.producerId);
          plan.producerKeys.set(cacheKey, keys.producer(p.topic.id, p.run.partition, p.producer.producerId));
          if (placement?.at === 'item') items.set(cacheKey, { version: placement.version + 1, state });
        }
        const entry: IndexEntry = {
          o: member.objectKey,
          pos: p.position,
          len: p.length,
          base,
          n: p.offsets,
          rc: p.records,
          bc: p.batchCount,
          mt: p.maxTimestamp,
          at: now,
        };
        ops.push({
          type: 'put',
          key: keys.index(p.topic.id, p.run.partition, base + p.offsets - 1),
          data: entry as unknown as ItemData,
          condition: { absent: true },
        });
        ops.push(...this.producerOps(p, placement, state, now));
        appends.push(p);
        bases.push(base);
        results.set(p, this.result(p, base, now));
      }
      for (const [pk, head] of heads) running.set(pk, head);
      for (const [k, item] of items) plan.newItems.set(k, item);
      plan.results.set(member, results);
      if (appends.length === 0) continue;
      plan.ops.push(...ops);
      if (member.options.chunkOps) {
        plan.ops.push(
          ...member.options.chunkOps(
            member.chunk.map((p) => p.run),
            member.index,
            now,
          ),
        );
      }
      plan.writers.push({ member, appends });
      // The registry remembers what each chunk assigned, so an ambiguous commit can be
      // recognised and answered on retry without appending twice.
      const assigned = { [`b${member.index}`]: bases, [`t${member.index}`]: now };
      const registryKey = keys.objectRef(member.objectKey);
      plan.ops.push(
        member.registry.version === 0
          ? {
              type: 'put',
              key: registryKey,
              data: { refs: appends.length, at: now, ...assigned },
              condition: { absent: true },
            }
          : {
              type: 'update',
              key: registryKey,
              add: { refs: appends.length },
              set: assigned,
              condition: { version: member.registry.version },
            },
      );
      // A write intent goes with its commit: gone and committed, or neither.
      if (member.intent && member.intent.version > 0) {
        plan.ops.push({
          type: 'delete',
          key: member.intent.key,
          condition: { version: member.intent.version },
        });
      }
    }
    for (const [pk, head] of running) {
      const before = start.get(pk)!;
      if (head === before) continue;
      plan.ops.push({
        type: 'put',
        key: headKeys.get(pk)!,
        data: headToData(head.data),
        condition: before.version === 0 ? { absent: true } : { version: before.version },
      });
      plan.newHeads.set(pk, { version: before.version + 1, data: head.data });
    }
    return plan;
  }

  /**
   * The ops of a commit for a producer state kept apart from the head: its item written
   * at the version seen, or — for a producer entering the head — a check that it has no
   * item (so a retry of an append recorded there is never taken for a new one).
   */
  private producerOps(
    p: Prepared,
    placement: Placement | undefined,
    state: ProducerState | undefined,
    now: number,
  ): TransactOp[] {
    if (!placement || !p.producer) return [];
    const key = keys.producer(p.topic.id, p.run.partition, p.producer.producerId);
    if (placement.at === 'head') {
      return placement.fresh ? [{ type: 'check', key, condition: { absent: true } }] : [];
    }
    return [
      {
        type: 'put',
        key,
        data: producerItemData(state!),
        // Expired items are deleted by the table's TTL; an expired one still present is
        // treated as absent by `placeProducer` and overwritten here.
        ttl: Math.ceil((now + this.limits.retentionMs) / 1000) + 3600,
        condition: placement.version === 0 ? { absent: true } : { version: placement.version },
      },
    ];
  }

  /** The error for a run whose topic id was deleted; the topic is read afresh next time. */
  private stale(p: Prepared): StaleTopicError {
    this.deps.topics.invalidate(p.run.topic);
    return new StaleTopicError(p.run.topic, p.topic.id);
  }

  private result(p: Prepared, baseOffset: number, logAppendTime: number): AppendResult {
    return {
      topic: p.run.topic,
      partition: p.run.partition,
      baseOffset,
      count: p.records,
      logAppendTime,
      duplicate: false,
    };
  }

  private async prepare(run: AppendRun): Promise<Prepared> {
    const topic = await this.deps.topics.withPartition(run.topic, run.partition);
    let records = 0;
    let offsets = 0;
    let maxTimestamp = -1;
    let producer: ProducerAppend | undefined;
    let expectedSequence: number | undefined;
    const limit = topic.config['max.message.bytes'];
    run.batches.forEach((batch, i) => {
      const h = batch.header;
      const where = `${run.topic}/${run.partition} batch ${i}`;
      if (batch.bytes.length > limit) {
        throw new SluiceError(
          'MESSAGE_TOO_LARGE',
          `${where} is ${batch.bytes.length} bytes; topic '${run.topic}' accepts at most ${limit} (max.message.bytes)`,
        );
      }
      if (h.isControl || h.isTransactional) {
        throw new SluiceError(
          'INVALID_RECORD',
          `${where}: transactional and control batches are not supported`,
        );
      }
      if (h.recordCount < 1 || h.lastOffsetDelta !== h.recordCount - 1) {
        throw new SluiceError(
          'INVALID_RECORD',
          `${where}: a produced batch must hold records with offset deltas 0..count-1 (count ${h.recordCount}, lastOffsetDelta ${h.lastOffsetDelta})`,
        );
      }
      if (!run.trusted || hasRecordRules(topic.config)) checkRecords(batch, where, run.topic, topic.config);
      records += h.recordCount;
      offsets += h.lastOffsetDelta + 1;
      maxTimestamp = Math.max(maxTimestamp, h.maxTimestamp);
      const pid = h.producerId >= 0n ? h.producerId.toString() : undefined;
      if (i === 0) {
        if (pid !== undefined) {
          producer = {
            producerId: pid,
            epoch: h.producerEpoch,
            firstSequence: h.baseSequence,
            lastSequence: 0,
          };
        }
      } else if (pid !== producer?.producerId || (producer && h.producerEpoch !== producer.epoch)) {
        throw new SluiceError(
          'INVALID_RECORD',
          `${where}: every batch of a partition in one request needs the same producer`,
        );
      }
      if (producer) {
        if (h.baseSequence < 0)
          throw new SluiceError('INVALID_RECORD', `${where}: an idempotent batch needs a base sequence`);
        if (expectedSequence !== undefined && h.baseSequence !== expectedSequence) {
          throw new SluiceError(
            'OUT_OF_ORDER_SEQUENCE_NUMBER',
            `${where}: sequence ${h.baseSequence} does not follow the previous batch (expected ${expectedSequence})`,
          );
        }
        const last = (h.baseSequence + h.recordCount - 1) % 0x80000000;
        producer.lastSequence = last;
        expectedSequence = (last + 1) % 0x80000000;
      }
    });
    return {
      run,
      topic,
      pk: keys.partitionPk(topic.id, run.partition),
      records,
      offsets,
      maxTimestamp,
      producer,
      position: 0,
      length: 0,
      batchCount: run.batches.length,
    };
  }
}

/**
 * Decodes a client's batch once (decompressing with the usual bound) so that a batch whose
 * CRC is right but whose records are not never reaches the log, where it would stop every
 * reader at its offset. The stored bytes stay exactly as the client sent them.
 */
/** Decodes a produced batch: offset deltas in order, and the rules of the topic's config (topic-rules.ts). */
function checkRecords(batch: DeflatedBatch, where: string, topic: string, config: TopicConfig): void {
  const decoded = decodeBatch(batch);
  decoded.records.forEach((r, i) => {
    if (r.offset !== decoded.header.baseOffset + i) {
      throw new SluiceError(
        'INVALID_RECORD',
        `${where}: record ${i} has offset delta ${r.offset - decoded.header.baseOffset}, expected ${i}`,
      );
    }
    checkRecordRules(topic, config, r, `${where} record ${i}`);
  });
}

function emptyPlan(): GroupPlan {
  return {
    ops: [],
    writers: [],
    results: new Map(),
    newHeads: new Map(),
    newItems: new Map(),
    headKeys: new Map(),
    producerKeys: new Map(),
  };
}

/** Joins runs of the same topic-partition, keeping the order of first appearance. */
export function mergeRuns(runs: readonly AppendRun[]): AppendRun[] {
  const byKey = new Map<string, AppendRun>();
  for (const run of runs) {
    const key = `${run.topic}\u0000${run.partition}`;
    const existing = byKey.get(key);
    if (existing) {
      existing.batches.push(...run.batches);
      existing.trusted = existing.trusted && run.trusted;
    } else byKey.set(key, { ...run, batches: [...run.batches] });
  }
  return [...byKey.values()].filter((r) => r.batches.length > 0);
}
