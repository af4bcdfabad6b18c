/**
 * RecordBatch v2 encoder. Header layout: see batch-header.ts. Each record:
 *
 *   length           varint   bytes of the record after this field
 *   attributes       int8     unused, 0
 *   timestampDelta   varlong  timestamp - baseTimestamp
 *   offsetDelta      varint   index in the batch
 *   keyLength        varint   -1 = null key
 *   key              bytes
 *   valueLength      varint   -1 = null value (tombstone)
 *   value            bytes
 *   headerCount      varint
 *   headers          { keyLength varint, key UTF-8, valueLength varint (-1 = null), value bytes } ...
 *
 * Two passes: the first sizes every record, the second writes into one preallocated buffer,
 * so an uncompressed batch costs a single allocation and one copy of each key and value.
 */
import { InvalidRequestError } from '../errors.js';
import {
  ATTRIBUTES_OFFSET,
  BATCH_HEADER_SIZE,
  CRC_OFFSET,
  LOG_OVERHEAD,
  MAGIC,
  TIMESTAMP_TYPE_MASK,
  TRANSACTIONAL_MASK,
  writeInt64,
} from './batch-header.js';
import { compress } from './compression.js';
import { crc32c } from './crc32c.js';
import { Compression, type EncodeOptions, type RecordInput } from './types.js';
import {
  MAX_VARLONG,
  MIN_VARLONG,
  sizeOfVarint,
  sizeOfVarlong,
  writeVarint,
  writeVarlong,
} from './varint.js';

/**
 * Encodes `records` as one RecordBatch v2, compressed with `options.compression`.
 * Offsets inside the batch are 0…n-1 relative to `baseOffset`; the first record's timestamp
 * is the batch's base timestamp (as the Java client does).
 *
 * @example
 * const batch = encodeBatch(
 *   [{ key: utf8('user-1'), value: utf8('{"clicked":true}'), headers: [{ key: 'trace', value: null }] }],
 *   { compression: Compression.Zstd, now: clock.now() },
 * );
 */
export function encodeBatch(records: readonly RecordInput[], options: EncodeOptions = {}): Uint8Array {
  const n = records.length;
  if (n === 0) throw new InvalidRequestError('a batch needs at least one record', 'records');
  const compression = options.compression ?? Compression.None;
  if (!Number.isInteger(compression) || compression < Compression.None || compression > Compression.Zstd) {
    throw new InvalidRequestError(`unknown compression codec ${String(compression)}`, 'compression');
  }

  const timestamps = new Float64Array(n);
  const bodySizes = new Int32Array(n);
  let maxTimestamp = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const ts = records[i]!.timestamp ?? options.now;
    if (ts === undefined) {
      throw new InvalidRequestError(
        `records[${i}] has no timestamp and no 'now' was given`,
        `records[${i}].timestamp`,
      );
    }
    if (!Number.isSafeInteger(ts)) {
      throw new InvalidRequestError(
        `records[${i}].timestamp must be a safe integer`,
        `records[${i}].timestamp`,
      );
    }
    timestamps[i] = ts;
    if (ts > maxTimestamp) maxTimestamp = ts;
  }
  const baseTimestamp = timestamps[0]!;
  for (let i = 0; i < n; i++) {
    const delta = timestamps[i]! - baseTimestamp;
    if (delta < MIN_VARLONG || delta > MAX_VARLONG) {
      throw new InvalidRequestError(
        `records[${i}].timestamp is too far from the first record's`,
        `records[${i}].timestamp`,
      );
    }
  }

  let recordsSize = 0;
  for (let i = 0; i < n; i++) {
    const body = recordBodySize(records[i]!, timestamps[i]! - baseTimestamp, i);
    bodySizes[i] = body;
    recordsSize += sizeOfVarint(body) + body;
  }

  let out: Buffer;
  if (compression === Compression.None) {
    out = Buffer.allocUnsafe(BATCH_HEADER_SIZE + recordsSize);
    writeRecords(out, BATCH_HEADER_SIZE, records, timestamps, baseTimestamp, bodySizes);
  } else {
    const raw = Buffer.allocUnsafe(recordsSize);
    writeRecords(raw, 0, records, timestamps, baseTimestamp, bodySizes);
    const packed = compress(compression, raw);
    out = Buffer.allocUnsafe(BATCH_HEADER_SIZE + packed.length);
    out.set(packed, BATCH_HEADER_SIZE);
  }

  writeHeader(out, options, compression, n, baseTimestamp, maxTimestamp);
  return out;
}

/**
 * Bytes a record takes inside an uncompressed batch (its length prefix included), given
 * its timestamp's distance from the batch's first record's and its offset delta: what
 * {@link encodeBatch} will write for it, exactly.
 */
export function recordSizeInBatch(record: RecordInput, timestampDelta: number, offsetDelta: number): number {
  const body = recordBodySize(record, timestampDelta, offsetDelta);
  return sizeOfVarint(body) + body;
}

function recordBodySize(record: RecordInput, timestampDelta: number, offsetDelta: number): number {
  let size = 1 + sizeOfVarlong(timestampDelta) + sizeOfVarint(offsetDelta);
  size += bytesFieldSize(record.key ?? null) + bytesFieldSize(record.value ?? null);
  const headers = record.headers;
  if (headers === undefined) return size + 1;
  size += sizeOfVarint(headers.length);
  for (const h of headers) {
    const keyLength = Buffer.byteLength(h.key, 'utf8');
    size += sizeOfVarint(keyLength) + keyLength + bytesFieldSize(h.value ?? null);
  }
  return size;
}

function bytesFieldSize(bytes: Uint8Array | null): number {
  return bytes === null ? 1 : sizeOfVarint(bytes.length) + bytes.length;
}

function writeRecords(
  buf: Buffer,
  pos: number,
  records: readonly RecordInput[],
  timestamps: Float64Array,
  baseTimestamp: number,
  bodySizes: Int32Array,
): void {
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    pos = writeVarint(buf, pos, bodySizes[i]!);
    buf[pos++] = 0;
    pos = writeVarlong(buf, pos, timestamps[i]! - baseTimestamp);
    pos = writeVarint(buf, pos, i);
    pos = writeBytesField(buf, pos, record.key ?? null);
    pos = writeBytesField(buf, pos, record.value ?? null);
    const headers = record.headers;
    if (headers === undefined) {
      buf[pos++] = 0;
      continue;
    }
    pos = writeVarint(buf, pos, headers.length);
    for (const h of headers) {
      const keyLength = Buffer.byteLength(h.key, 'utf8');
      pos = writeVarint(buf, pos, keyLength);
      pos += buf.write(h.key, pos, keyLength, 'utf8');
      pos = writeBytesField(buf, pos, h.value ?? null);
    }
  }
}

function writeBytesField(buf: Buffer, pos: number, bytes: Uint8Array | null): number {
  if (bytes === null) {
    buf[pos] = 1; // zigzag(-1)
    return pos + 1;
  }
  pos = writeVarint(buf, pos, bytes.length);
  buf.set(bytes, pos);
  return pos + bytes.length;
}

function writeHeader(
  out: Buffer,
  options: EncodeOptions,
  compression: Compression,
  count: number,
  baseTimestamp: number,
  maxTimestamp: number,
): void {
  const baseOffset = options.baseOffset ?? 0;
  checkInt(baseOffset, 0, Number.MAX_SAFE_INTEGER, 'baseOffset');
  const producerId = options.producerId ?? -1n;
  if (producerId < -(2n ** 63n) || producerId >= 2n ** 63n) {
    throw new InvalidRequestError('producerId must fit in an int64', 'producerId');
  }
  const producerEpoch = options.producerEpoch ?? -1;
  checkInt(producerEpoch, -0x8000, 0x7fff, 'producerEpoch');
  const baseSequence = options.baseSequence ?? -1;
  checkInt(baseSequence, -0x8000_0000, 0x7fff_ffff, 'baseSequence');
  const leaderEpoch = options.partitionLeaderEpoch ?? -1;
  checkInt(leaderEpoch, -0x8000_0000, 0x7fff_ffff, 'partitionLeaderEpoch');

  let attributes = compression;
  if (options.timestampType === 'logAppend') attributes |= TIMESTAMP_TYPE_MASK;
  if (options.isTransactional) attributes |= TRANSACTIONAL_MASK;

  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  writeInt64(view, 0, baseOffset);
  view.setInt32(8, out.length - LOG_OVERHEAD);
  view.setInt32(12, leaderEpoch);
  view.setInt8(16, MAGIC);
  view.setInt16(ATTRIBUTES_OFFSET, attributes);
  view.setInt32(23, count - 1);
  writeInt64(view, 27, baseTimestamp);
  writeInt64(view, 35, maxTimestamp);
  view.setBigInt64(43, producerId);
  view.setInt16(51, producerEpoch);
  view.setInt32(53, baseSequence);
  view.setInt32(57, count);
  view.setUint32(CRC_OFFSET, crc32c(out.subarray(ATTRIBUTES_OFFSET)));
}

function checkInt(value: number, min: number, max: number, field: string): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new InvalidRequestError(`${field} must be an integer in [${min}, ${max}], got ${value}`, field);
  }
}
