/**
 * A producer transaction, in kafkajs's shape: `send`/`sendBatch`/`sendOffsets`, then
 * `commit` or `abort`. Sends are staged by the server and become visible all at once when
 * `commit` resolves — together with the consumer offsets given to `sendOffsets` — or never.
 */
import { encodeBatch } from '../../core/records/index.js';
import { BATCHES_CONTENT_TYPE, encodeProduceFrames } from '../../core/wire.js';
import { parseJson, type SluiceApi } from '../api.js';
import { SluiceArgumentError } from '../errors.js';
import type { RetryOptions } from '../retry.js';
import { MAX_BATCH_BYTES, type QueuedRecord } from './request.js';
import type { ProducerBatch, ProducerRecord, RecordMetadata, TopicMessages } from './types.js';

/** What `POST /v1/transactions/{id}/init` answered, and the transaction in progress. */
export interface TransactionalIdentity {
  producerId: string;
  epoch: number;
  transaction: number;
}

/** A consumer whose group membership fences the offsets (the SDK's `Consumer`). */
export interface GroupMetadataSource {
  groupMetadata(): { groupId: string; memberId: string; memberEpoch: number } | undefined;
}

/** kafkajs's `sendOffsets` argument; `consumer` (KIP-447) fences by the member's epoch. */
export interface TransactionOffsets {
  consumerGroupId?: string;
  consumer?: GroupMetadataSource;
  topics: { topic: string; partitions: { partition: number; offset: string | number }[] }[];
}

/** One partition of a committed transaction: where its records landed. */
export interface CommittedPartition {
  topic: string;
  partition: number;
  baseOffset: number;
  count: number;
}

/** What a Transaction needs from its producer. */
export interface TransactionHost<K, V> {
  resolveRecords(
    topics: readonly TopicMessages<K, V>[],
    atomic: boolean,
    now: number,
  ): Promise<QueuedRecord[]>;
  /** Called when the transaction ended (committed, aborted or failed for good). */
  ended(error?: unknown): void;
}

/**
 * @example
 * const tx = await producer.transaction();
 * try {
 *   await tx.send({ topic: 'out', messages: [{ key: 'k', value: 'v' }] });
 *   await tx.sendOffsets({ consumer, topics: [{ topic: 'in', partitions: [{ partition: 0, offset: '42' }] }] });
 *   await tx.commit();
 * } catch (err) {
 *   await tx.abort();
 *   throw err;
 * }
 */
export class Transaction<K, V> {
  private sequence = 0;
  private active = true;

  constructor(
    private readonly host: TransactionHost<K, V>,
    private readonly api: SluiceApi,
    private readonly transactionalId: string,
    private readonly identity: TransactionalIdentity,
    private readonly retry: RetryOptions | undefined,
  ) {}

  /** True until `commit` or `abort` resolved. */
  isActive(): boolean {
    return this.active;
  }

  /**
   * Stages messages of one topic. Resolves once they are staged (durable, invisible); the
   * offsets are assigned at commit, so `baseOffset` is '-1' here: `commit()` answers them.
   */
  async send(record: ProducerRecord<K, V>): Promise<RecordMetadata[]> {
    const batch: ProducerBatch<K, V> = {
      topicMessages: [{ topic: record.topic, messages: record.messages }],
    };
    if (record.compression !== undefined) batch.compression = record.compression;
    return this.sendBatch(batch);
  }

  /** Stages messages of several topics in one request. */
  async sendBatch(batch: ProducerBatch<K, V>): Promise<RecordMetadata[]> {
    this.ensureActive();
    const now = Date.now();
    const records = await this.host.resolveRecords(batch.topicMessages ?? [], true, now);
    if (records.length === 0) return [];
    const byPartition = new Map<string, QueuedRecord[]>();
    for (const r of records) {
      const key = `${r.topic}\u0000${r.partition}`;
      const list = byPartition.get(key) ?? [];
      list.push(r);
      byPartition.set(key, list);
    }
    const frames: { topic: string; partition: number; batch: Uint8Array }[] = [];
    for (const list of byPartition.values()) {
      let start = 0;
      while (start < list.length) {
        let end = start;
        let bytes = 0;
        while (end < list.length && (end === start || bytes + list[end]!.size <= MAX_BATCH_BYTES)) {
          bytes += list[end]!.size;
          end++;
        }
        frames.push({
          topic: list[0]!.topic,
          partition: list[0]!.partition,
          batch: encodeBatch(
            list.slice(start, end).map((r) => r.record),
            { now },
          ),
        });
        start = end;
      }
    }
    await this.post('send', {
      body: encodeProduceFrames(frames),
      headers: { 'content-type': BATCHES_CONTENT_TYPE },
      query: {
        producerId: this.identity.producerId,
        epoch: this.identity.epoch,
        transaction: this.identity.transaction,
        sequence: this.sequence++,
      },
    });
    return [...byPartition.values()].map((list) => ({
      topicName: list[0]!.topic,
      partition: list[0]!.partition,
      errorCode: 0,
      baseOffset: '-1',
      logAppendTime: '-1',
      logStartOffset: '-1',
    }));
  }

  /**
   * Commits consumer offsets (the next offset to read) with the transaction. Pass the
   * `consumer` so that its group membership fences the commit: a consumer that lost its
   * partitions makes the commit fail instead of committing someone else's progress.
   */
  async sendOffsets(offsets: TransactionOffsets): Promise<void> {
    this.ensureActive();
    const meta = offsets.consumer?.groupMetadata();
    const groupId = offsets.consumerGroupId ?? meta?.groupId;
    if (!groupId) throw new SluiceArgumentError('sendOffsets needs consumerGroupId or a consumer in a group');
    if (meta && offsets.consumerGroupId !== undefined && meta.groupId !== offsets.consumerGroupId) {
      throw new SluiceArgumentError(
        `the consumer is in group '${meta.groupId}', not '${offsets.consumerGroupId}'`,
      );
    }
    const list = (offsets.topics ?? []).flatMap((t) =>
      t.partitions.map((p) => ({ topic: t.topic, partition: p.partition, offset: Number(p.offset) })),
    );
    await this.post('offsets', {
      json: {
        ...this.producerFields(),
        sequence: this.sequence++,
        groupId,
        ...(meta && { memberId: meta.memberId, memberEpoch: meta.memberEpoch }),
        offsets: list,
      },
    });
  }

  /** Makes every send and offset of the transaction visible at once. */
  async commit(): Promise<CommittedPartition[]> {
    this.ensureActive();
    const answer = (await this.post('commit', { json: this.producerFields() })) as {
      partitions: CommittedPartition[];
    };
    this.end();
    return answer.partitions;
  }

  /** Discards the transaction: nothing it sent becomes visible. */
  async abort(): Promise<void> {
    this.ensureActive();
    await this.post('abort', { json: this.producerFields() });
    this.end();
  }

  private end(): void {
    this.active = false;
    this.identity.transaction++;
    this.host.ended();
  }

  private producerFields() {
    return {
      producerId: this.identity.producerId,
      epoch: this.identity.epoch,
      transaction: this.identity.transaction,
    };
  }

  private ensureActive(): void {
    if (!this.active) throw new SluiceArgumentError('the transaction is over (committed or aborted)');
  }

  /** Every transaction request is safe to retry: sequences and transaction numbers dedupe. */
  private async post(
    op: 'send' | 'offsets' | 'commit' | 'abort',
    req: {
      json?: unknown;
      body?: Uint8Array;
      headers?: Record<string, string>;
      query?: Record<string, string | number>;
    },
  ): Promise<unknown> {
    try {
      const res = await this.api.call(
        'produce',
        {
          method: 'POST',
          path: `/v1/transactions/${encodeURIComponent(this.transactionalId)}/${op}`,
          ...req,
        },
        this.retry,
      );
      return parseJson(res);
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code === 'INVALID_PRODUCER_EPOCH' || code === 'INVALID_TXN_STATE') {
        this.active = false;
        this.host.ended(err);
      }
      throw err;
    }
  }
}
