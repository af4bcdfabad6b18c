/** The producer's public shapes, as kafkajs names them. */
import type { Partitioner } from '../../core/records/index.js';
import type { Bytes, Message } from '../messages.js';
import type { RetryOptions } from '../retry.js';
import type { Serializer } from '../serializers.js';

/** Compression codecs, numbered as Kafka's (and kafkajs' `CompressionTypes`). */
export const CompressionTypes = {
  None: 0,
  GZIP: 1,
  Snappy: 2,
  LZ4: 3,
  ZSTD: 4,
} as const;

export type CompressionType = (typeof CompressionTypes)[keyof typeof CompressionTypes];

/** A codec by number or by name. */
export type CompressionOption = CompressionType | 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

/** kafkajs' custom partitioner factory: `() => ({ topic, partitionMetadata, message }) => partition`. */
export type ICustomPartitioner = () => (args: {
  topic: string;
  partitionMetadata: {
    partitionId: number;
    leader: number;
    replicas: number[];
    isr: number[];
    partitionErrorCode: number;
  }[];
  message: Message<unknown, unknown>;
}) => number;

export interface ProducerConfig<K = Bytes, V = Bytes> {
  /**
   * Exactly-once appends per partition across retries (producer id + sequences). As in
   * Kafka 3+, on by default.
   * @default true
   */
  idempotent?: boolean;
  /**
   * Acknowledgement level of every send unless a send names another: -1 ("all": after the
   * commit, with offsets), 1 (once the durable inbox holds the records; docs/api.md,
   * "acks=1: the inbox") or 0 (at once; sent in the background through the inbox — await
   * `flush()` before a Lambda handler returns). @default -1
   */
  acks?: -1 | 0 | 1;
  /** Codec of every batch unless a send names another. @default 'none' */
  compression?: CompressionOption;
  /**
   * How records without a `partition` are placed: `'default'` (murmur2 of the key, Kafka's
   * byte for byte; keyless records stick to one partition per request), `'round-robin'`,
   * or a function `({ topic, partitionCount, key }) => partition`.
   * @default 'default'
   */
  partitioner?: 'default' | 'round-robin' | Partitioner;
  /** kafkajs-style partitioner factory; overrides `partitioner`. */
  createPartitioner?: ICustomPartitioner;
  /**
   * Wait up to this long (ms) for more sends to join a request. Requests are the unit of
   * cost: a busy producer should send about 1 MiB per request.
   * @default 0 (sends made in the same tick, or while requests are in flight, still share one)
   */
  lingerMs?: number;
  /** Bytes that make a request go out before `lingerMs`, and the size a request is capped at. @default 1048576 */
  batchSize?: number;
  /** Requests in flight at once (a partition is never in two at once). @default 5 */
  maxInFlight?: number;
  /** @default kafkajs' defaults (5 retries, 300 ms initial, ×2, 30 s max) */
  retry?: RetryOptions;
  /** Turns application keys into bytes (Avro, Protobuf, JSON…). */
  keySerializer?: Serializer<K>;
  /** Turns application values into bytes. */
  valueSerializer?: Serializer<V>;
  /** Topic metadata older than this is refreshed (ms). @default 300000 */
  metadataMaxAge?: number;
  /** kafkajs: accepted and ignored — topics are never created implicitly (a send to a missing topic fails). */
  allowAutoTopicCreation?: boolean;
  /**
   * Makes the producer transactional (exactly-once): `producer.transaction()` starts
   * transactions. The first transaction fences every earlier producer with the same id.
   */
  transactionalId?: string;
  /** An open transaction idle this long is aborted by the server (ms, ≤ 900000). @default 60000 */
  transactionTimeout?: number;
  /** kafkajs's name; accepted. Transactions send one request at a time whatever it says. */
  maxInFlightRequests?: number;
}

export interface ProducerRecord<K = Bytes, V = Bytes> {
  topic: string;
  messages: Message<K, V>[];
  /**
   * -1 (default, "all"): acknowledged after the durable commit, with offsets. 1: acknowledged
   * once the cluster's durable inbox holds the records (`baseOffset` '-1'; the batcher appends
   * them within its batch window). Overrides the producer's `acks`.
   */
  acks?: number;
  /** Accepted for kafkajs compatibility; use `retry` to bound a send. */
  timeout?: number;
  compression?: CompressionOption;
}

export interface TopicMessages<K = Bytes, V = Bytes> {
  topic: string;
  messages: Message<K, V>[];
}

export interface ProducerBatch<K = Bytes, V = Bytes> {
  topicMessages: TopicMessages<K, V>[];
  acks?: number;
  timeout?: number;
  compression?: CompressionOption;
}

/** Where a send's records landed in one partition, as kafkajs reports it. */
export interface RecordMetadata {
  topicName: string;
  partition: number;
  /** Always 0: failures reject the promise. */
  errorCode: number;
  /** Offset of this send's first record in the partition. */
  baseOffset: string;
  /** Server time of the append (ms since the epoch). */
  logAppendTime: string;
  /** Not tracked by Sluice's produce answer: always '-1'. */
  logStartOffset: string;
  /** acks=1: the inbox's id of the message holding the records (a receipt); offsets come with consumption. */
  inboxMessageId?: string;
}
