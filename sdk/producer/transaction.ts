/**
 * A producer transaction, in kafkajs's shape: `send`/`sendBatch`/`sendOffsets`, then
 * `commit` or `abort`. Sends are staged by the server and become visible all at once when
 * `commit` resolves — together with the consumer offsets given to `sendOffsets` — or never.
 */
import { type Compression, encodeBatch } from '../../core/records/index.js';
import { BATCHES_CONTENT_TYPE, encodeProduceFrames } from '../../core/wire.js';
import { parseJson, type SluiceApi } from '../api.js';
import { SluiceArgumentError } from '../errors.js';
import type { RetryOptions } from '../retry.js';
import { compressionOf, type QueuedRecord, recordTooLarge } from './request.js';
import { cutBatches, frameOverhead, TARGET_REQUEST_BYTES } from './sizing.js';
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
    compression: Compression,
  ): Promise<QueuedRecord[]>;
  /** The producer's compression, for sends that name none. */
  compression: Compression;
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

  /**
   * Stages messages of several topics. Each partition's records are cut into batches under
   * its topic's `max.message.bytes` (after compression); a send larger than one request
   * carries goes as several staging requests, each with its own sequence — all still
   * become visible together at commit.
   *
   * @throws RecordTooLargeError naming a record that cannot fit a batch alone (nothing of
   *   the send is staged).
   */
  async sendBatch(batch: ProducerBatch<K, V>): Promise<RecordMetadata[]> {
    this.ensureActive();
    const now = Date.now();
    const compression =
      batch.compression === undefined ? this.host.compression : compressionOf(batch.compression);
    const records = await this.host.resolveRecords(batch.topicMessages ?? [], true, now, compression);
    if (records.length === 0) return [];
    const byPartition = new Map<string, QueuedRecord[]>();
    for (const r of records) {
      const key = `${r.topic}\u0000${r.partition}`;
      const list = byPartition.get(key) ?? [];
      list.push(r);
      byPartition.set(key, list);
    }
    type Frame = { topic: string; partition: number; batch: Uint8Array };
    const frames: Frame[] = [];
    for (const list of byPartition.values()) {
      const { topic, partition, limit } = list[0]!;
      const batches = cutBatches(
        list.map((r) => r.record),
        now,
        limit,
        (from, to) =>
          encodeBatch(
            list.slice(from, to).map((r) => r.record),
            { compression, now },
          ),
        (index, bytes) => recordTooLarge(list[index]!, bytes),
      );
      for (const b of batches) frames.push({ topic, partition, batch: b });
    }
    // Requests of at most TARGET_REQUEST_BYTES, frames in order.
    const requests: Frame[][] = [[]];
    let bytes = 0;
    for (const f of frames) {
      const size = frameOverhead(f.topic) + f.batch.length;
      if (requests.at(-1)!.length > 0 && bytes + size > TARGET_REQUEST_BYTES) {
        requests.push([]);
        bytes = 0;
      }
      requests.at(-1)!.push(f);
      bytes += size;
    }
    for (const part of requests) {
      await this.post('send', {
        body: encodeProduceFrames(part),
        headers: { 'content-type': BATCHES_CONTENT_TYPE },
        query: {
          producerId: this.identity.producerId,
          epoch: this.identity.epoch,
          transaction: this.identity.transaction,
          sequence: this.sequence++,
        },
      });
    }
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
