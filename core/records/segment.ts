/**
 * Segment object: the one S3 object a produce request writes, holding the batches of every
 * topic-partition of the request, readable and verifiable on its own.
 *
 *   header    magic "SLCE" (4) | version uint16 (1) | flags uint16 (0)           8 bytes
 *   batches   RecordBatch v2 bytes back to back; each topic-partition's batches form one
 *             contiguous run, runs in the order given
 *   footer    entryCount uint32, then per run:
 *               topicLength uint16 | topic UTF-8 | partition int32 | position int64 |
 *               length uint32 | recordCount uint32 | batchCount uint32 | offsetCount int64 |
 *               maxTimestamp int64
 *   trailer   footerPosition int64 | crc32c uint32 over every byte before it      12 bytes
 *
 * All integers big-endian. `position` is absolute in the object, so the read path fetches a
 * run with one ranged GET of [position, position + length) and hands it to splitBatches.
 * `offsetCount` sums `lastOffsetDelta + 1` over the run's batches: the offsets the run takes.
 */
import { CorruptRecordError, InvalidRequestError } from '../errors.js';
import { LOG_OVERHEAD, readBatchHeader, readInt64, writeInt64 } from './batch-header.js';
import { crc32c } from './crc32c.js';

export const SEGMENT_MAGIC = 'SLCE';
export const SEGMENT_VERSION = 1;
export const SEGMENT_HEADER_SIZE = 8;
export const SEGMENT_TRAILER_SIZE = 12;
/** An entry with a one-byte topic. */
const MIN_ENTRY_SIZE = 2 + 1 + 4 + 8 + 4 + 4 + 4 + 8 + 8;
const MAGIC_BYTES = Buffer.from(SEGMENT_MAGIC, 'latin1');

/** The batches of one topic-partition to put in a segment. */
export interface SegmentRun {
  topic: string;
  partition: number;
  /** Each element is one batch (or several concatenated), already verified by the caller. */
  batches: readonly Uint8Array[];
}

/** Where a run lives in a segment and what it holds. */
export interface SegmentIndexEntry {
  topic: string;
  partition: number;
  /** Absolute byte offset of the run's first batch in the object. */
  position: number;
  length: number;
  recordCount: number;
  batchCount: number;
  /** Σ (lastOffsetDelta + 1): how many offsets the run's batches take. */
  offsetCount: number;
  /** Largest maxTimestamp of the run's batches, -1 if none has one. */
  maxTimestamp: number;
}

/**
 * Lays `runs` out as one segment object. Batch headers are parsed (bounds-checked, not
 * CRC-checked: the produce path has verified them) to fill the index.
 *
 * @example
 * const { bytes, index } = encodeSegment([{ topic: 'orders', partition: 3, batches: [batch] }]);
 * await objects.put(key, bytes);
 */
export function encodeSegment(runs: readonly SegmentRun[]): {
  bytes: Uint8Array;
  index: SegmentIndexEntry[];
} {
  const index: SegmentIndexEntry[] = [];
  const topicBytes: Buffer[] = [];
  let position = SEGMENT_HEADER_SIZE;
  let footerSize = 4;
  for (const [i, run] of runs.entries()) {
    const topic = Buffer.from(run.topic, 'utf8');
    if (topic.length === 0 || topic.length > 0xffff) {
      throw new InvalidRequestError(`runs[${i}].topic must be 1–65535 UTF-8 bytes`, `runs[${i}].topic`);
    }
    if (!Number.isInteger(run.partition) || run.partition < 0 || run.partition > 0x7fffffff) {
      throw new InvalidRequestError(
        `runs[${i}].partition must be a non-negative int32`,
        `runs[${i}].partition`,
      );
    }
    if (run.batches.length === 0)
      throw new InvalidRequestError(`runs[${i}] has no batches`, `runs[${i}].batches`);
    const entry: SegmentIndexEntry = {
      topic: run.topic,
      partition: run.partition,
      position,
      length: 0,
      recordCount: 0,
      batchCount: 0,
      offsetCount: 0,
      maxTimestamp: -1,
    };
    for (const chunk of run.batches) {
      let pos = 0;
      while (pos < chunk.length) {
        const header = readBatchHeader(chunk, pos);
        entry.recordCount += header.recordCount;
        entry.batchCount++;
        entry.offsetCount += header.lastOffsetDelta + 1;
        if (header.maxTimestamp > entry.maxTimestamp) entry.maxTimestamp = header.maxTimestamp;
        pos += LOG_OVERHEAD + header.batchLength;
      }
      entry.length += chunk.length;
    }
    if (entry.length > 0xffffffff || entry.recordCount > 0xffffffff || entry.batchCount > 0xffffffff) {
      throw new InvalidRequestError(`runs[${i}] is too large for one segment`, `runs[${i}].batches`);
    }
    position += entry.length;
    footerSize += MIN_ENTRY_SIZE - 1 + topic.length;
    topicBytes.push(topic);
    index.push(entry);
  }

  const footerPosition = position;
  const out = Buffer.allocUnsafe(footerPosition + footerSize + SEGMENT_TRAILER_SIZE);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  out.set(MAGIC_BYTES, 0);
  view.setUint16(4, SEGMENT_VERSION);
  view.setUint16(6, 0);
  let pos = SEGMENT_HEADER_SIZE;
  for (const run of runs) {
    for (const chunk of run.batches) {
      out.set(chunk, pos);
      pos += chunk.length;
    }
  }
  view.setUint32(pos, index.length);
  pos += 4;
  for (const [i, e] of index.entries()) {
    const topic = topicBytes[i]!;
    view.setUint16(pos, topic.length);
    out.set(topic, pos + 2);
    pos += 2 + topic.length;
    view.setInt32(pos, e.partition);
    writeInt64(view, pos + 4, e.position);
    view.setUint32(pos + 12, e.length);
    view.setUint32(pos + 16, e.recordCount);
    view.setUint32(pos + 20, e.batchCount);
    writeInt64(view, pos + 24, e.offsetCount);
    writeInt64(view, pos + 32, e.maxTimestamp);
    pos += 40;
  }
  writeInt64(view, pos, footerPosition);
  view.setUint32(pos + 8, crc32c(out.subarray(0, pos + 8)));
  return { bytes: out, index };
}

/**
 * Verifies a whole segment object (magic, version, checksum, index consistency) and returns
 * its index. Does not decode the batches: a run's batches are verified when split.
 *
 * @example
 * const { index } = decodeSegment(objectBytes);
 * const entry = index.find((e) => e.topic === 'orders' && e.partition === 3)!;
 * const batches = splitBatches(objectBytes.subarray(entry.position, entry.position + entry.length));
 */
export function decodeSegment(bytes: Uint8Array): { version: number; index: SegmentIndexEntry[] } {
  const size = bytes.length;
  if (size < SEGMENT_HEADER_SIZE + 4 + SEGMENT_TRAILER_SIZE)
    throw new CorruptRecordError(`segment of ${size} bytes is truncated`);
  for (let i = 0; i < 4; i++) {
    if (bytes[i] !== MAGIC_BYTES[i]) throw new CorruptRecordError('not a segment object (bad magic)');
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(4);
  if (version !== SEGMENT_VERSION) throw new CorruptRecordError(`unsupported segment version ${version}`);
  const trailer = size - SEGMENT_TRAILER_SIZE;
  const stored = view.getUint32(trailer + 8);
  const actual = crc32c(bytes.subarray(0, trailer + 8));
  if (stored !== actual) {
    throw new CorruptRecordError(
      `segment checksum mismatch: stored ${stored.toString(16)}, computed ${actual.toString(16)}`,
    );
  }
  const footerPosition = readInt64(view, trailer, 'footerPosition');
  if (footerPosition < SEGMENT_HEADER_SIZE || footerPosition > trailer - 4) {
    throw new CorruptRecordError(`segment footer position ${footerPosition} is out of bounds`);
  }
  const count = view.getUint32(footerPosition);
  let pos = footerPosition + 4;
  if (count > (trailer - pos) / MIN_ENTRY_SIZE)
    throw new CorruptRecordError(`segment index count ${count} is too large`);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const index: SegmentIndexEntry[] = [];
  let expected = SEGMENT_HEADER_SIZE;
  for (let i = 0; i < count; i++) {
    if (pos + MIN_ENTRY_SIZE - 1 > trailer) throw new CorruptRecordError('segment index is truncated');
    const topicLength = view.getUint16(pos);
    if (topicLength === 0 || pos + MIN_ENTRY_SIZE - 1 + topicLength > trailer) {
      throw new CorruptRecordError('segment index entry is truncated');
    }
    const topic = buf.toString('utf8', pos + 2, pos + 2 + topicLength);
    pos += 2 + topicLength;
    const entry: SegmentIndexEntry = {
      topic,
      partition: view.getInt32(pos),
      position: readInt64(view, pos + 4, 'position'),
      length: view.getUint32(pos + 12),
      recordCount: view.getUint32(pos + 16),
      batchCount: view.getUint32(pos + 20),
      offsetCount: readInt64(view, pos + 24, 'offsetCount'),
      maxTimestamp: readInt64(view, pos + 32, 'maxTimestamp'),
    };
    pos += 40;
    // Runs are written back to back, so anything but exact contiguity means a forged index.
    if (entry.partition < 0 || entry.position !== expected || entry.length === 0 || entry.batchCount === 0) {
      throw new CorruptRecordError(`segment index entry ${i} is inconsistent`);
    }
    if (entry.offsetCount < 0 || entry.position + entry.length > footerPosition) {
      throw new CorruptRecordError(`segment index entry ${i} is inconsistent`);
    }
    expected = entry.position + entry.length;
    index.push(entry);
  }
  if (expected !== footerPosition || pos !== trailer) {
    throw new CorruptRecordError('segment index does not cover the object exactly');
  }
  return { version, index };
}
