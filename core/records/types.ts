/**
 * The shapes of the record layer. Kept apart from the codecs so that callers (server, SDK)
 * can import types without pulling in any codec code.
 */

/** Compression codec of a batch: the value of the low three bits of its attributes, as in Kafka. */
export enum Compression {
  None = 0,
  Gzip = 1,
  Snappy = 2,
  Lz4 = 3,
  Zstd = 4,
}

/** A record header. Keys are UTF-8 strings (never null); values may be null. */
export interface RecordHeader {
  key: string;
  value: Uint8Array | null;
}

/** A record to encode. `timestamp` defaults to {@link EncodeOptions.now}. */
export interface RecordInput {
  key?: Uint8Array | null;
  value: Uint8Array | null;
  headers?: RecordHeader[];
  timestamp?: number;
}

/**
 * A decoded record. `key`, `value` and header values are views into the decoded buffer
 * (the batch itself when uncompressed): they alias it, so copy them before mutating it.
 */
export interface KafkaRecord {
  offset: number;
  timestamp: number;
  key: Uint8Array | null;
  value: Uint8Array | null;
  headers: RecordHeader[];
}

/** The fixed-size header of a RecordBatch v2, parsed without touching the records. */
export interface BatchHeader {
  baseOffset: number;
  /** Kafka's `batchLength`: bytes after this field, so the whole batch is `batchLength + 12` bytes. */
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  /** CRC32C (unsigned) over everything from `attributes` to the end of the batch. */
  crc: number;
  attributes: number;
  compression: Compression;
  timestampType: 'create' | 'logAppend';
  isTransactional: boolean;
  isControl: boolean;
  lastOffsetDelta: number;
  baseTimestamp: number;
  maxTimestamp: number;
  /** -1n when the producer is not idempotent. */
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

/** A batch as it travels and rests: still compressed, header parsed, CRC verified. */
export interface DeflatedBatch {
  header: BatchHeader;
  /** The whole batch, including the 12-byte baseOffset + batchLength prefix (a view of the input). */
  bytes: Uint8Array;
}

/** A batch with its records decoded (and decompressed). */
export interface InflatedBatch {
  header: BatchHeader;
  records: KafkaRecord[];
}

/** How to encode a batch. Every field has Kafka's default for a non-idempotent producer. */
export interface EncodeOptions {
  /** @default 0 — the server patches it at fetch time (see {@link withBaseOffset}). */
  baseOffset?: number;
  /** @default Compression.None */
  compression?: Compression;
  /** @default -1n (not idempotent) */
  producerId?: bigint;
  /** @default -1 */
  producerEpoch?: number;
  /** @default -1 */
  baseSequence?: number;
  /** @default false */
  isTransactional?: boolean;
  /** @default -1 */
  partitionLeaderEpoch?: number;
  /** @default 'create' */
  timestampType?: 'create' | 'logAppend';
  /** Timestamp for records without one; required if any record lacks a timestamp. */
  now?: number;
}
