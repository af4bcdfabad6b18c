/**
 * The producer. `send` queues records and resolves once they are durably appended; a
 * background drain packs everything queued into binary produce requests (one S3 PUT and one
 * DynamoDB transaction each, whatever their size — so big requests are cheap ones).
 *
 * Idempotence: each partition's records carry the producer id and consecutive sequences.
 * A partition is in at most one request at a time; its sequence advances only when that
 * request succeeds, and a retry resends the very same bytes, so the server recognises a
 * request it already applied and answers its original offsets. When the outcome of a
 * request stays unknown (retries exhausted) the producer takes a new producer id, so later
 * sequences never collide with what may have been written.
 */
import {
  Compression,
  createDefaultPartitioner,
  createRoundRobinPartitioner,
  type Partitioner,
  type StickyPartitioner,
} from '../../core/records/index.js';
import { BATCHES_CONTENT_TYPE } from '../../core/wire.js';
import { parseJson, type SluiceApi } from '../api.js';
import {
  MessageTooLargeError,
  SluiceArgumentError,
  SluiceClientError,
  SluiceNumberOfRetriesExceededError,
  SluiceProtocolError,
  UnknownTopicOrPartitionError,
} from '../errors.js';
import type { Logger } from '../logger.js';
import { type Bytes, type Message, toRecord } from '../messages.js';
import { backoff, DEFAULT_RETRY, isRetriable, sleep } from '../retry.js';
import { InboxSender } from './inbox.js';
import {
  type BuiltRequest,
  buildRequest,
  compressionOf,
  type Job,
  MAX_SEQUENCE,
  type PartitionResult,
  type ProducerIdentity,
  type QueuedRecord,
  recordTooLarge,
  tpKey,
} from './request.js';
import {
  aloneBytes,
  inboxRecordBytes,
  inboxRoom,
  MAX_REQUEST_BODY_BYTES,
  RequestEstimate,
  recordBound,
  TARGET_REQUEST_BYTES,
} from './sizing.js';
import { Transaction, type TransactionalIdentity } from './transaction.js';
import type {
  ProducerBatch,
  ProducerConfig,
  ProducerRecord,
  RecordMetadata,
  TopicMessages,
} from './types.js';

/** Errors after which the request's outcome is certain (nothing was written) but the producer state is not. */
const RESET_CODES = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'INVALID_PRODUCER_EPOCH']);

/**
 * A kafkajs-shaped producer. Create it with `sluice.producer(config)`.
 *
 * @example
 * const producer = sluice.producer({ lingerMs: 5, compression: 'zstd' });
 * await producer.connect();
 * await producer.send({ topic: 'orders', messages: [{ key: 'o-1', value: '{"total":42}' }] });
 * await producer.disconnect();
 */
/** An acks=0 send pending longer than this at the next send is reported as late (ms). */
const LATE_BACKGROUND_MS = 2000;

export class Producer<K = Bytes, V = Bytes> {
  private readonly api: SluiceApi;
  private readonly logger: Logger;
  private readonly idempotent: boolean;
  private readonly compression: Compression;
  private readonly lingerMs: number;
  private readonly batchSize: number;
  private readonly maxInFlight: number;
  private readonly retry: Required<NonNullable<ProducerConfig['retry']>>;
  private readonly partition: (
    topic: string,
    count: number,
    message: Message<K, V>,
    key: Uint8Array | null,
  ) => number;
  private readonly sticky: StickyPartitioner | undefined;

  private state: 'new' | 'connected' | 'closed' = 'new';
  private connecting: Promise<void> | undefined;
  private identity: ProducerIdentity | undefined;
  /** Bumped whenever the producer id changes, so late answers of older requests are ignored. */
  private generation = 0;
  private resetNeeded = false;

  private txIdentity: Promise<TransactionalIdentity> | undefined;
  private txOpen = false;
  private txFenced: unknown;

  private readonly queue: Job[] = [];
  private queuedBytes = 0;
  private readonly busy = new Set<string>();
  private inFlight = 0;
  private timer: NodeJS.Timeout | undefined;
  private drainScheduled = false;
  private flushing = 0;
  private idleWaiters: (() => void)[] = [];
  private inbox: InboxSender | undefined;
  /** Settles when the previous acks=1/0 send has been handed to {@link inbox}. */
  private inboxTurn: Promise<void> = Promise.resolve();
  /** acks=0 sends not answered yet: when each started and how many records it carries. */
  private readonly background = new Map<Promise<void>, { at: number; records: number }>();
  private lost = { sends: 0, records: 0 };
  private lostTotal = 0;
  private lateReported = new WeakSet<Promise<void>>();

  constructor(
    api: SluiceApi,
    logger: Logger,
    private readonly config: ProducerConfig<K, V> = {},
  ) {
    this.api = api;
    this.logger = logger.namespace('Producer');
    this.idempotent = config.idempotent ?? true;
    this.compression = compressionOf(config.compression);
    this.lingerMs = nonNegative(config.lingerMs ?? 0, 'lingerMs');
    this.batchSize = Math.min(TARGET_REQUEST_BYTES, positive(config.batchSize ?? 1024 * 1024, 'batchSize'));
    this.maxInFlight = positive(config.maxInFlight ?? 5, 'maxInFlight');
    this.retry = { ...DEFAULT_RETRY, ...config.retry };
    if (config.createPartitioner) {
      const custom = config.createPartitioner();
      this.partition = (topic, count, message) =>
        custom({
          topic,
          partitionMetadata: Array.from({ length: count }, (_, partitionId) => ({
            partitionId,
            leader: 0,
            replicas: [0],
            isr: [0],
            partitionErrorCode: 0,
          })),
          message: message as Message<unknown, unknown>,
        });
    } else {
      const p = config.partitioner ?? 'default';
      let fn: Partitioner;
      if (p === 'default') fn = this.sticky = createDefaultPartitioner(Math.random);
      else if (p === 'round-robin') fn = createRoundRobinPartitioner();
      else if (typeof p === 'function') fn = p;
      else
        throw new SluiceArgumentError(
          `partitioner must be 'default', 'round-robin' or a function, got '${p}'`,
        );
      this.partition = (topic, partitionCount, _m, key) => fn({ topic, partitionCount, key });
    }
  }

  /**
   * Reads cluster metadata and, when idempotent, obtains a producer id. `send` connects
   * by itself if needed.
   *
   * @example
   * await producer.connect();
   */
  async connect(): Promise<void> {
    if (this.state === 'closed')
      throw new SluiceArgumentError('the producer was disconnected; create a new one');
    this.connecting ??= (async () => {
      await this.api.metadata();
      // An acks=1/0 producer numbers its inbox messages under an id of their own (inbox.ts):
      // the acks=all id is taken on its first acks=all send, if any.
      const acks = this.config.acks ?? -1;
      if (this.idempotent && acks !== 0 && acks !== 1) await this.ensureIdentity();
      this.state = 'connected';
    })().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  /**
   * True when records carry a producer id and sequences.
   * @example
   * if (!producer.isIdempotent()) console.warn('retries may duplicate records');
   */
  isIdempotent(): boolean {
    return this.idempotent;
  }

  /**
   * Appends messages to one topic. Resolves once they are durable, with one entry per
   * partition written. Records are cut into batches that fit the topic's
   * `max.message.bytes` (after compression) and requests that fit the function; the
   * records of one send are appended atomically when they fit in one request
   * (`batchSize`), a larger send is split across requests, in order per partition.
   *
   * @throws RecordTooLargeError (a `MessageTooLargeError`) naming the first record that
   *   cannot fit a batch alone; then nothing of the send was sent.
   *
   * @example
   * const [meta] = await producer.send({
   *   topic: 'orders',
   *   messages: [{ key: 'customer-7', value: JSON.stringify({ total: 42 }), headers: { source: 'web' } }],
   * });
   * console.log(meta.partition, meta.baseOffset);
   */
  async send(record: ProducerRecord<K, V>): Promise<RecordMetadata[]> {
    if (!record || typeof record.topic !== 'string' || !Array.isArray(record.messages)) {
      throw new SluiceArgumentError('send({ topic, messages }) needs a topic name and an array of messages');
    }
    const acks = record.acks ?? this.config.acks ?? -1;
    this.reportBackground();
    if (acks === 0) return this.sendInBackground(record);
    if (acks === 1) return this.sendToInbox(record);
    return this.enqueue([{ topic: record.topic, messages: record.messages }], record.compression, false);
  }

  /**
   * Appends messages to several topics in ONE request, atomically: all are written or none.
   * Each topic's records are cut into batches under its `max.message.bytes`.
   * Rejects with `MessageTooLargeError` when they do not fit in one request, and with
   * `RecordTooLargeError` naming a record that cannot fit a batch alone; nothing is sent then.
   *
   * @example
   * await producer.sendBatch({
   *   topicMessages: [
   *     { topic: 'orders', messages: [{ key: 'o-1', value: 'created' }] },
   *     { topic: 'audit', messages: [{ value: 'order o-1 created' }] },
   *   ],
   * });
   */
  async sendBatch(batch: ProducerBatch<K, V>): Promise<RecordMetadata[]> {
    if (!batch || !Array.isArray(batch.topicMessages)) {
      throw new SluiceArgumentError('sendBatch({ topicMessages }) needs an array of { topic, messages }');
    }
    return this.enqueue(batch.topicMessages, batch.compression, true);
  }

  /**
   * Sends everything queued now, ignoring `lingerMs`, and resolves when every request in
   * flight has been answered.
   *
   * @example
   * void producer.send({ topic: 'clicks', messages });
   * await producer.flush();
   */
  async flush(): Promise<void> {
    this.flushing++;
    try {
      while (this.background.size > 0) await Promise.allSettled([...this.background.keys()]);
      await this.inbox?.flush();
      this.schedule();
      while (this.queue.length > 0 || this.inFlight > 0) {
        await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
      }
    } finally {
      this.flushing--;
    }
  }

  /**
   * Flushes, then closes the producer: later sends are refused.
   *
   * @example
   * await producer.disconnect();
   */
  async disconnect(): Promise<void> {
    if (this.state === 'closed') return;
    await this.flush();
    this.state = 'closed';
    if (this.timer) clearTimeout(this.timer);
  }

  /** Records of acks=0 sends that failed for good since the producer was created (they were logged). */
  get backgroundFailures(): number {
    return this.lostTotal;
  }

  /**
   * acks=0: resolves at once with no metadata; the records go through the inbox (the cheapest
   * path) in the background. Failures are logged and counted ({@link backgroundFailures}).
   * Inside Lambda, `await producer.flush()` before the handler returns: a frozen environment
   * sends nothing, and the next invocation warns about what was late or lost.
   */
  private sendInBackground(record: ProducerRecord<K, V>): Promise<RecordMetadata[]> {
    const records = record.messages.length;
    const promise: Promise<void> = this.sendToInbox({ ...record, acks: 1 })
      .then(() => undefined)
      .catch((err: unknown) => {
        this.lost.sends++;
        this.lost.records += records;
        this.lostTotal += records;
        this.logger.error('acks=0 send failed; its records are lost', {
          topic: record.topic,
          records,
          error: String(err),
        });
      })
      .finally(() => this.background.delete(promise));
    this.background.set(promise, { at: Date.now(), records });
    return Promise.resolve([]);
  }

  /**
   * Warns, once per send, about acks=0 sends of an earlier invocation still pending (the
   * handler returned without `await producer.flush()`) and about those lost since the last warning.
   */
  private reportBackground(): void {
    const now = Date.now();
    const late = [...this.background.entries()].filter(
      ([p, b]) => now - b.at > LATE_BACKGROUND_MS && !this.lateReported.has(p),
    );
    if (late.length > 0) {
      for (const [p] of late) this.lateReported.add(p);
      this.logger.warn(
        'acks=0 sends from more than a while ago are still pending (in Lambda: of an earlier invocation, frozen with its environment): await producer.flush() before a handler returns, or before exiting',
        {
          sends: late.length,
          records: late.reduce((n, [, b]) => n + b.records, 0),
          oldestMs: now - Math.min(...late.map(([, b]) => b.at)),
        },
      );
    }
    if (this.lost.sends > 0) {
      this.logger.warn('acks=0 sends were lost since the last send', { ...this.lost });
      this.lost = { sends: 0, records: 0 };
    }
  }

  /** acks=1: through the inbox (`inbox.ts`); offsets are not known yet ('-1'). */
  private async sendToInbox(record: ProducerRecord<K, V>): Promise<RecordMetadata[]> {
    if (this.state === 'closed')
      throw new SluiceArgumentError('the producer was disconnected; create a new one');
    // Sends reach the inbox sender in the order they were made, whatever their serializers
    // and partitioners take (order per partition is decided there).
    const turn = this.inboxTurn;
    let done!: () => void;
    this.inboxTurn = new Promise<void>((resolve) => {
      done = resolve;
    });
    const now = Date.now();
    let records: Awaited<ReturnType<typeof this.resolveRecords>>;
    try {
      if (this.state === 'new') await this.connect();
      records = await this.resolveRecords(
        [{ topic: record.topic, messages: record.messages }],
        false,
        now,
        Compression.None,
      );
      // The batcher appends inbox records uncompressed, in batches under max.message.bytes
      // (checked above); each must also fit an inbox message on its own.
      const room = inboxRoom(record.topic);
      for (const r of records) {
        const bytes = inboxRecordBytes(r.record, now);
        if (bytes > room) throw recordTooLarge(r, bytes, room, 'inbox');
      }
    } catch (err) {
      await turn;
      done();
      throw err;
    }
    await turn;
    if (records.length === 0) {
      done();
      return [];
    }
    this.inbox ??= new InboxSender(
      this.api,
      this.retry,
      this.idempotent
        ? async () =>
            parseJson(
              await this.api.call('produce', { method: 'POST', path: '/v1/producers', json: {} }, this.retry),
            ) as { producerId: string; epoch: number }
        : undefined,
    );
    const sending = this.inbox.send(records, now);
    done();
    const receipts = await sending;
    return receipts.map((r) => ({
      topicName: r.topic,
      partition: r.partition,
      errorCode: 0,
      baseOffset: '-1',
      logAppendTime: '-1',
      logStartOffset: '-1',
      inboxMessageId: r.messageId,
    }));
  }

  private async enqueue(
    topics: readonly TopicMessages<K, V>[],
    compressionOption: ProducerRecord['compression'],
    atomic: boolean,
  ): Promise<RecordMetadata[]> {
    if (this.state === 'closed')
      throw new SluiceArgumentError('the producer was disconnected; create a new one');
    if (this.state === 'new') await this.connect();
    const compression = compressionOption === undefined ? this.compression : compressionOf(compressionOption);
    const records = await this.resolveRecords(topics, atomic, Date.now(), compression);
    if (records.length === 0) return [];
    const chunks = atomic ? [records] : splitBySize(records, this.batchSize);
    if (atomic) {
      const bytes = estimate(records);
      if (bytes > MAX_REQUEST_BODY_BYTES) {
        throw new MessageTooLargeError(
          `sendBatch holds about ${bytes} bytes; one request carries at most ${MAX_REQUEST_BODY_BYTES}: split it into several sends (nothing was sent)`,
          { status: 413, retriable: false },
        );
      }
    }
    const results = await Promise.all(chunks.map((c) => this.queueJob(c, compression)));
    return toMetadata(results.flat());
  }

  /**
   * Starts a transaction (the producer needs a `transactionalId`). The first call takes the
   * transactional id, fencing every earlier producer with it and aborting what one left open.
   *
   * @throws SluiceArgumentError without a transactionalId, or while a transaction is open;
   *   InvalidProducerEpochError once this producer was fenced (create a new producer).
   * @example
   * const producer = sluice.producer({ transactionalId: 'copier', maxInFlightRequests: 1, idempotent: true });
   * const tx = await producer.transaction();
   * await tx.send({ topic: 'out', messages: [{ value: 'x' }] });
   * await tx.commit();
   */
  async transaction(): Promise<Transaction<K, V>> {
    const id = this.config.transactionalId;
    if (typeof id !== 'string' || id.length === 0)
      throw new SluiceArgumentError('producer.transaction() needs a producer created with a transactionalId');
    if (this.state === 'closed')
      throw new SluiceArgumentError('the producer was disconnected; create a new one');
    if (this.txFenced) throw this.txFenced;
    if (this.txOpen) throw new SluiceArgumentError('a transaction is already open: commit or abort it first');
    this.txOpen = true;
    try {
      this.txIdentity ??= this.api
        .call(
          'produce',
          {
            method: 'POST',
            path: `/v1/transactions/${encodeURIComponent(id)}/init`,
            json:
              this.config.transactionTimeout === undefined
                ? {}
                : { transactionTimeoutMs: this.config.transactionTimeout },
          },
          this.retry,
        )
        .then((res) => parseJson(res) as TransactionalIdentity);
      const identity = await this.txIdentity.catch((err: unknown) => {
        this.txIdentity = undefined;
        throw err;
      });
      return new Transaction<K, V>(
        {
          resolveRecords: (topics, atomic, now, compression) =>
            this.resolveRecords(topics, atomic, now, compression),
          compression: this.compression,
          ended: (error) => {
            this.txOpen = false;
            const code = (error as { code?: unknown } | undefined)?.code;
            if (code === 'INVALID_PRODUCER_EPOCH') this.txFenced = error;
          },
        },
        this.api,
        id,
        identity,
        this.retry,
      );
    } catch (err) {
      this.txOpen = false;
      throw err;
    }
  }

  /**
   * Serialises and places messages: one queued record per message, with its partition and
   * its topic's `max.message.bytes`. Every record is checked to fit a batch alone
   * (compressed with `compression`) before any is sent.
   * @throws RecordTooLargeError naming the first record that cannot.
   * @internal also used by {@link Transaction}
   */
  async resolveRecords(
    topics: readonly TopicMessages<K, V>[],
    atomic: boolean,
    now: number,
    compression: Compression,
  ): Promise<QueuedRecord[]> {
    const records: QueuedRecord[] = [];
    for (const [t, tm] of topics.entries()) {
      if (!tm || typeof tm.topic !== 'string' || !Array.isArray(tm.messages)) {
        throw new SluiceArgumentError(`topicMessages[${t}] needs a topic name and an array of messages`);
      }
      let count = await this.api.partitionCount(tm.topic);
      const limit = await this.api.maxMessageBytes(tm.topic);
      // Schema serializers register or look up their schema once per topic here.
      await this.config.keySerializer?.prepare?.({ topic: tm.topic });
      await this.config.valueSerializer?.prepare?.({ topic: tm.topic });
      for (const [i, m] of tm.messages.entries()) {
        const where = atomic ? `topicMessages[${t}].messages[${i}]` : `messages[${i}]`;
        const record = toRecord(m, tm.topic, this.config, now, where);
        let partition = m.partition;
        if (partition === undefined || partition === null) {
          partition = this.partition(tm.topic, count, m, record.key ?? null);
        } else if (!Number.isInteger(partition) || partition < 0) {
          throw new SluiceArgumentError(
            `${where}.partition must be a non-negative integer, got ${partition}`,
          );
        }
        if (partition >= count) {
          this.api.invalidate();
          count = await this.api.partitionCount(tm.topic);
          if (partition >= count) {
            throw new UnknownTopicOrPartitionError(
              `topic '${tm.topic}' has no partition ${partition} (it has ${count})`,
              {
                status: 404,
              },
            );
          }
        }
        const queued: QueuedRecord = {
          topic: tm.topic,
          partition,
          record,
          size: recordBound(record),
          limit,
          index: i,
          topicIndex: t,
          ...(atomic && { batch: true }),
        };
        const alone = aloneBytes(record, compression, limit, now);
        if (alone > limit) throw recordTooLarge(queued, alone);
        records.push(queued);
      }
    }
    return records;
  }

  private queueJob(records: QueuedRecord[], compression: Compression): Promise<PartitionResult[]> {
    return new Promise<PartitionResult[]>((resolve, reject) => {
      const job: Job = {
        records,
        partitions: new Set(records.map((r) => tpKey(r.topic, r.partition))),
        bytes: estimate(records),
        compression,
        at: Date.now(),
        alone: false,
        resolve,
        reject,
      };
      this.queue.push(job);
      this.queuedBytes += job.bytes;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.queue.length === 0) {
      this.notifyIdle();
      return;
    }
    const waited = Date.now() - this.queue[0]!.at;
    const due =
      this.flushing > 0 ||
      this.lingerMs === 0 ||
      this.queuedBytes >= this.batchSize ||
      waited >= this.lingerMs;
    if (due) {
      if (this.timer) {
        clearTimeout(this.timer);
        this.timer = undefined;
      }
      if (!this.drainScheduled) {
        this.drainScheduled = true;
        // setImmediate: sends made in the same tick share the request.
        setImmediate(() => {
          this.drainScheduled = false;
          this.drain();
        });
      }
    } else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, this.lingerMs - waited);
    }
  }

  private drain(): void {
    while (this.inFlight < this.maxInFlight) {
      const jobs = this.take();
      if (jobs.length === 0) break;
      this.inFlight++;
      for (const j of jobs) for (const k of j.partitions) this.busy.add(k);
      void this.run(jobs).finally(() => {
        this.inFlight--;
        for (const j of jobs) for (const k of j.partitions) this.busy.delete(k);
        this.schedule();
        this.notifyIdle();
      });
    }
  }

  /** Jobs for one request, oldest first; a job never overtakes an earlier one on a partition. */
  private take(): Job[] {
    const blocked = new Set(this.busy);
    const taken: Job[] = [];
    let bytes = 0;
    for (let i = 0; i < this.queue.length; i++) {
      const job = this.queue[i]!;
      const free = [...job.partitions].every((k) => !blocked.has(k));
      const fits = taken.length === 0 || (!job.alone && bytes + job.bytes <= this.batchSize);
      if (free && fits) {
        taken.push(job);
        bytes += job.bytes;
        this.queue.splice(i--, 1);
        this.queuedBytes -= job.bytes;
        if (job.alone) break;
      } else {
        for (const k of job.partitions) blocked.add(k);
      }
      if (taken.length > 0 && taken[0]!.alone) break;
    }
    if (taken.length > 0) this.sticky?.nextBatch();
    return taken;
  }

  private notifyIdle(): void {
    if (this.queue.length > 0 || this.inFlight > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  private async ensureIdentity(): Promise<void> {
    if (!this.idempotent) return;
    if (this.identity && !this.resetNeeded) return;
    const res = parseJson(
      await this.api.call('produce', { method: 'POST', path: '/v1/producers', json: {} }, this.retry),
    ) as { producerId: string; epoch: number };
    this.identity = { producerId: BigInt(res.producerId), epoch: res.epoch, sequences: new Map() };
    this.generation++;
    this.resetNeeded = false;
    this.logger.debug('producer id assigned', { producerId: res.producerId, epoch: res.epoch });
  }

  private async run(taken: Job[]): Promise<void> {
    let jobs = taken;
    let built: BuiltRequest;
    let generation: number;
    try {
      await this.ensureIdentity();
      generation = this.generation;
      built = buildRequest(jobs, this.identity, Date.now());
      // Estimates are upper bounds before compression; what compression added may not fit
      // the function: later jobs wait for the next request.
      while (built.body.length > MAX_REQUEST_BODY_BYTES && jobs.length > 1) {
        const later = jobs.slice(Math.ceil(jobs.length / 2));
        jobs = jobs.slice(0, jobs.length - later.length);
        this.requeue(later);
        built = buildRequest(jobs, this.identity, Date.now());
      }
      if (built.body.length > MAX_REQUEST_BODY_BYTES) {
        throw new MessageTooLargeError(
          `a produce request of ${built.body.length} bytes is over the ${MAX_REQUEST_BODY_BYTES} a function takes; nothing of it was sent`,
          { status: 413, retriable: false },
        );
      }
    } catch (err) {
      for (const j of jobs) j.reject(err);
      return;
    }
    let answer: {
      topic: string;
      partition: number;
      baseOffset: number;
      count: number;
      logAppendTime: number;
    }[];
    try {
      answer = await this.post(built);
    } catch (err) {
      const rebuilt = err instanceof MessageTooLargeError ? await this.relimit(jobs) : undefined;
      if (!rebuilt) {
        this.onFailure(jobs, err);
        return;
      }
      // A topic's limit shrank since the metadata was read: nothing was written, so the
      // same sequences go again in smaller batches.
      if (rebuilt.length === 0) return;
      jobs = rebuilt;
      try {
        built = buildRequest(jobs, this.identity, Date.now());
        answer = await this.post(built);
      } catch (again) {
        this.onFailure(jobs, again);
        return;
      }
    }
    const byTp = new Map(answer.map((p) => [tpKey(p.topic, p.partition), p]));
    const perJob = new Map<Job, PartitionResult[]>(jobs.map((j) => [j, []]));
    for (const run of built.runs) {
      const got = byTp.get(run.key);
      if (!got) {
        this.onFailure(jobs, new SluiceClientError(`the produce answer lacks ${run.topic}-${run.partition}`));
        return;
      }
      if (this.identity && generation === this.generation) {
        this.identity.sequences.set(run.key, (run.baseSequence + run.count) % (MAX_SEQUENCE + 1));
      }
      for (const [job, start] of run.jobStarts) {
        perJob.get(job)!.push({
          topic: run.topic,
          partition: run.partition,
          baseOffset: got.baseOffset + start,
          logAppendTime: got.logAppendTime,
        });
      }
    }
    for (const [job, results] of perJob) job.resolve(results);
  }

  /** Sends the same bytes until an answer, retrying what may be retried. */
  private async post(built: BuiltRequest) {
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.api.send('produce', {
          method: 'POST',
          path: '/v1/produce',
          body: built.body,
          headers: { 'content-type': BATCHES_CONTENT_TYPE },
        });
        return (
          parseJson(res) as {
            partitions: {
              topic: string;
              partition: number;
              baseOffset: number;
              count: number;
              logAppendTime: number;
            }[];
          }
        ).partitions;
      } catch (err) {
        let retry = isRetriable(err);
        if (err instanceof UnknownTopicOrPartitionError) {
          // The topic may have just been created or grown (a server's cache lagging): retry if metadata agrees.
          this.api.invalidate();
          retry = await this.partitionsExist(built).catch(() => false);
        }
        if (!retry) throw err;
        if (attempt >= this.retry.retries)
          throw new SluiceNumberOfRetriesExceededError(err as Error, attempt, Date.now() - started);
        const delay = backoff(this.retry, attempt);
        this.logger.warn('retrying produce request', {
          attempt: attempt + 1,
          delayMs: delay,
          error: String(err),
        });
        await sleep(delay);
      }
    }
  }

  /**
   * After a MESSAGE_TOO_LARGE answer: re-reads the limits of the jobs' topics. When one
   * shrank, the records take it, a job holding a record that no longer fits alone is
   * rejected naming it, and the jobs left are returned to send again (maybe none);
   * undefined when no limit changed (the answer stands).
   */
  private async relimit(jobs: Job[]): Promise<Job[] | undefined> {
    this.api.invalidate();
    const limits = new Map<string, number>();
    try {
      for (const j of jobs)
        for (const r of j.records)
          if (!limits.has(r.topic)) limits.set(r.topic, await this.api.maxMessageBytes(r.topic));
    } catch {
      return undefined;
    }
    const changed = jobs.some((j) => j.records.some((r) => limits.get(r.topic)! < r.limit));
    if (!changed) return undefined;
    this.logger.warn("a topic's max.message.bytes shrank: re-cutting the request", {
      limits: Object.fromEntries(limits),
    });
    const now = Date.now();
    const left: Job[] = [];
    for (const j of jobs) {
      let failed: unknown;
      for (const r of j.records) {
        r.limit = limits.get(r.topic)!;
        const alone = failed ? 0 : aloneBytes(r.record, j.compression, r.limit, now);
        if (alone > r.limit) failed = recordTooLarge(r, alone);
      }
      if (failed) j.reject(failed);
      else left.push(j);
    }
    return left;
  }

  /** Puts jobs back at the head of the queue, in their order (their partitions stay busy until the request ends). */
  private requeue(jobs: Job[]): void {
    this.queue.unshift(...jobs);
    this.queuedBytes += jobs.reduce((n, j) => n + j.bytes, 0);
  }

  private async partitionsExist(built: BuiltRequest): Promise<boolean> {
    for (const run of built.runs) {
      if ((await this.api.partitionCount(run.topic)) <= run.partition) return false;
    }
    return true;
  }

  private onFailure(jobs: Job[], err: unknown): void {
    const code = err instanceof SluiceProtocolError ? err.code : undefined;
    const certain = err instanceof SluiceProtocolError && !err.retriable;
    if (!certain || (code && RESET_CODES.has(code))) {
      // The request may have been written (or the producer state is off): never reuse these sequences.
      if (this.idempotent) this.resetNeeded = true;
    }
    if (certain && !RESET_CODES.has(code!) && jobs.length > 1) {
      // Nothing was written, and the cause may be one job's: let each try on its own.
      for (const j of jobs) j.alone = true;
      this.requeue(jobs);
      return;
    }
    for (const j of jobs) j.reject(err);
  }
}

/** Cuts a send into requests of at most about `max` bytes (estimated, with every batch's overhead). */
function splitBySize(records: QueuedRecord[], max: number): QueuedRecord[][] {
  const out: QueuedRecord[][] = [];
  let current: QueuedRecord[] = [];
  let est = new RequestEstimate();
  for (const r of records) {
    if (current.length > 0 && est.bytes + est.cost(r.topic, r.partition, r.limit, r.size) > max) {
      out.push(current);
      current = [];
      est = new RequestEstimate();
    }
    current.push(r);
    est.add(r.topic, r.partition, r.limit, r.size);
  }
  if (current.length > 0) out.push(current);
  return out;
}

/** A request's estimated body for these records (batches, frames and bounds). */
function estimate(records: readonly QueuedRecord[]): number {
  const est = new RequestEstimate();
  for (const r of records) est.add(r.topic, r.partition, r.limit, r.size);
  return est.bytes;
}

/** One entry per partition, at the first offset the send got there. */
function toMetadata(results: PartitionResult[]): RecordMetadata[] {
  const first = new Map<string, PartitionResult>();
  for (const r of results) {
    const k = tpKey(r.topic, r.partition);
    const prev = first.get(k);
    if (!prev || r.baseOffset < prev.baseOffset) first.set(k, r);
  }
  return [...first.values()].map((r) => ({
    topicName: r.topic,
    partition: r.partition,
    errorCode: 0,
    baseOffset: String(r.baseOffset),
    logAppendTime: String(r.logAppendTime),
    logStartOffset: '-1',
  }));
}

function positive(n: number, name: string): number {
  if (!Number.isInteger(n) || n < 1)
    throw new SluiceArgumentError(`${name} must be a positive integer, got ${n}`);
  return n;
}

function nonNegative(n: number, name: string): number {
  if (!Number.isFinite(n) || n < 0) throw new SluiceArgumentError(`${name} must be ≥ 0, got ${n}`);
  return n;
}
