/**
 * RecordBatch v2 (magic 2) header, the part of a batch that is read without decoding records.
 *
 *   offset  size  field
 *    0      8     baseOffset            int64   not covered by the CRC: patched at fetch time
 *    8      4     batchLength           int32   bytes after this field
 *   12      4     partitionLeaderEpoch  int32   not covered by the CRC
 *   16      1     magic                 int8    = 2
 *   17      4     crc                   uint32  CRC32C of bytes [21, end)
 *   21      2     attributes            int16   bits 0-2 compression, 3 timestamp type (1 = log append),
 *                                               4 transactional, 5 control, 6 delete horizon
 *   23      4     lastOffsetDelta       int32
 *   27      8     baseTimestamp         int64
 *   35      8     maxTimestamp          int64
 *   43      8     producerId            int64
 *   51      2     producerEpoch         int16
 *   53      4     baseSequence          int32
 *   57      4     recordCount           int32
 *   61      …     records (compressed as a whole when attributes & 7 ≠ 0)
 */
import { CorruptRecordError } from '../errors.js';
import { crc32c } from './crc32c.js';
import { type BatchHeader, Compression, type DeflatedBatch } from './types.js';

export const BATCH_HEADER_SIZE = 61;
/** baseOffset + batchLength: the prefix that `batchLength` does not count. */
export const LOG_OVERHEAD = 12;
export const MAGIC = 2;
export const CRC_OFFSET = 17;
export const ATTRIBUTES_OFFSET = 21;
/** Smallest encoded record: length, attributes, timestamp delta, offset delta, key, value, header count. */
export const MIN_RECORD_SIZE = 7;

export const COMPRESSION_MASK = 0x07;
export const TIMESTAMP_TYPE_MASK = 0x08;
export const TRANSACTIONAL_MASK = 0x10;
export const CONTROL_MASK = 0x20;

/**
 * Parses the header of the batch at `offset` without checking its CRC or touching its records.
 * Bounds are checked: the whole batch must lie inside `bytes`, so the caller may slice it.
 *
 * @example
 * const { baseOffset, recordCount, batchLength } = readBatchHeader(bytes);
 * const next = 12 + batchLength; // start of the following batch
 */
export function readBatchHeader(bytes: Uint8Array, offset = 0): BatchHeader {
  const available = bytes.length - offset;
  if (!Number.isInteger(offset) || offset < 0 || available < BATCH_HEADER_SIZE) {
    throw new CorruptRecordError(
      `truncated batch: ${Math.max(0, available)} bytes, a header needs ${BATCH_HEADER_SIZE}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, available);
  const batchLength = view.getInt32(8);
  if (batchLength < BATCH_HEADER_SIZE - LOG_OVERHEAD)
    throw new CorruptRecordError(`batch length ${batchLength} is too small`);
  if (batchLength > available - LOG_OVERHEAD) {
    throw new CorruptRecordError(
      `truncated batch: length ${batchLength} but only ${available - LOG_OVERHEAD} bytes follow`,
    );
  }
  const magic = view.getInt8(16);
  if (magic !== MAGIC)
    throw new CorruptRecordError(`unsupported batch magic ${magic} (only RecordBatch v2 is)`);
  const attributes = view.getInt16(ATTRIBUTES_OFFSET);
  const compression = attributes & COMPRESSION_MASK;
  if (compression > Compression.Zstd)
    throw new CorruptRecordError(`unknown compression codec ${compression}`);
  const lastOffsetDelta = view.getInt32(23);
  const recordCount = view.getInt32(57);
  if (recordCount < 0) throw new CorruptRecordError(`negative record count ${recordCount}`);
  if (lastOffsetDelta < -1) throw new CorruptRecordError(`bad last offset delta ${lastOffsetDelta}`);
  if (
    compression === Compression.None &&
    recordCount * MIN_RECORD_SIZE > batchLength - (BATCH_HEADER_SIZE - LOG_OVERHEAD)
  ) {
    throw new CorruptRecordError(`record count ${recordCount} cannot fit in ${batchLength} bytes`);
  }
  return {
    baseOffset: readInt64(view, 0, 'baseOffset'),
    batchLength,
    partitionLeaderEpoch: view.getInt32(12),
    magic,
    crc: view.getUint32(CRC_OFFSET),
    attributes,
    compression,
    timestampType: (attributes & TIMESTAMP_TYPE_MASK) !== 0 ? 'logAppend' : 'create',
    isTransactional: (attributes & TRANSACTIONAL_MASK) !== 0,
    isControl: (attributes & CONTROL_MASK) !== 0,
    lastOffsetDelta,
    baseTimestamp: readInt64(view, 27, 'baseTimestamp'),
    maxTimestamp: readInt64(view, 35, 'maxTimestamp'),
    producerId: view.getBigInt64(43),
    producerEpoch: view.getInt16(51),
    baseSequence: view.getInt32(53),
    recordCount,
  };
}

/**
 * Checks that `bytes` is exactly one batch with a valid header and CRC. Does not decompress.
 * The returned `bytes` is the input itself.
 *
 * @example
 * const { header } = verifyBatch(body); // throws CorruptRecordError on a bad CRC
 */
export function verifyBatch(bytes: Uint8Array): DeflatedBatch {
  const header = readBatchHeader(bytes, 0);
  const size = header.batchLength + LOG_OVERHEAD;
  if (size !== bytes.length) {
    throw new CorruptRecordError(`batch is ${size} bytes but ${bytes.length} were given (trailing bytes)`);
  }
  checkCrc(bytes, header);
  return { header, bytes };
}

/**
 * Splits concatenated batches (a produce body, a ranged GET of a segment run) into verified
 * batches. Each `bytes` is a view of the input, not a copy.
 *
 * @example
 * for (const { header, bytes: batch } of splitBatches(run)) route(header, batch);
 */
export function splitBatches(bytes: Uint8Array): DeflatedBatch[] {
  const batches: DeflatedBatch[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const header = readBatchHeader(bytes, pos);
    const end = pos + LOG_OVERHEAD + header.batchLength;
    const batch = bytes.subarray(pos, end);
    checkCrc(batch, header);
    batches.push({ header, bytes: batch });
    pos = end;
  }
  return batches;
}

/**
 * A copy of the batch with its baseOffset set: the CRC does not cover the first 12 bytes,
 * so the batch stays valid. This is how the fetch path stamps offsets assigned at commit.
 *
 * @example
 * const stamped = withBaseOffset(stored, 4200);
 */
export function withBaseOffset(bytes: Uint8Array, baseOffset: number): Uint8Array {
  if (bytes.length < LOG_OVERHEAD) throw new CorruptRecordError('truncated batch: no baseOffset field');
  if (!Number.isSafeInteger(baseOffset) || baseOffset < 0) {
    throw new RangeError(`baseOffset must be a non-negative safe integer, got ${baseOffset}`);
  }
  const copy = new Uint8Array(bytes.length);
  copy.set(bytes);
  writeInt64(new DataView(copy.buffer, copy.byteOffset, copy.byteLength), 0, baseOffset);
  return copy;
}

export function checkCrc(batch: Uint8Array, header: BatchHeader): void {
  const actual = crc32c(batch.subarray(ATTRIBUTES_OFFSET));
  if (actual !== header.crc) {
    throw new CorruptRecordError(
      `batch CRC mismatch: stored ${header.crc.toString(16)}, computed ${actual.toString(16)}`,
    );
  }
}

/** Reads an int64 that must be a safe integer (offsets and timestamps stay below 2^53). */
export function readInt64(view: DataView, pos: number, field: string): number {
  const hi = view.getInt32(pos);
  const lo = view.getUint32(pos + 4);
  const value = hi * 0x1_0000_0000 + lo;
  if (!Number.isSafeInteger(value))
    throw new CorruptRecordError(`${field} is outside the safe integer range`);
  return value;
}

/** Writes a safe integer as a big-endian int64. */
export function writeInt64(view: DataView, pos: number, value: number): void {
  const hi = Math.floor(value / 0x1_0000_0000);
  view.setInt32(pos, hi);
  view.setUint32(pos + 4, value - hi * 0x1_0000_0000);
}
