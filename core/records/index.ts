/**
 * The record layer: Kafka RecordBatch v2 codec, compression, partitioners and the segment
 * object format. Everything here is pure and synchronous.
 */

export { decodeBatch } from './batch-decode.js';
export { encodeBatch, recordSizeInBatch } from './batch-encode.js';
export {
  ATTRIBUTES_OFFSET,
  BATCH_HEADER_SIZE,
  LOG_OVERHEAD,
  readBatchHeader,
  splitBatches,
  verifyBatch,
  withBaseOffset,
} from './batch-header.js';
export { compress, DEFAULT_MAX_DECOMPRESSED_BYTES, decompress } from './compression.js';
export { crc32c } from './crc32c.js';
export { CodecUnavailableError } from './lazy.js';
export { murmur2, toPositive } from './murmur2.js';
export {
  createDefaultPartitioner,
  createRoundRobinPartitioner,
  createStickyPartitioner,
  defaultPartition,
  type Partitioner,
  type StickyPartitioner,
} from './partitioners.js';
export {
  decodeSegment,
  encodeSegment,
  SEGMENT_HEADER_SIZE,
  SEGMENT_VERSION,
  type SegmentIndexEntry,
  type SegmentRun,
} from './segment.js';
export {
  type BatchHeader,
  Compression,
  type DeflatedBatch,
  type EncodeOptions,
  type InflatedBatch,
  type KafkaRecord,
  type RecordHeader,
  type RecordInput,
} from './types.js';
