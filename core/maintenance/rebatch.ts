/**
 * Dropping records from a RecordBatch v2 while keeping everything Kafka's log cleaner
 * keeps: the base offset, `lastOffsetDelta` (the batch still spans its original offsets,
 * so offsets never move and gaps are legal), timestamps, producer fields, compression.
 * Each kept record's bytes are copied as they are — its offset delta and timestamp delta
 * stay relative to the unchanged header — so nothing is re-encoded but the header's
 * length, record count, leader epoch and CRC.
 *
 * Record layout (see records/batch-encode.ts): length varint, attributes int8,
 * timestampDelta varlong, offsetDelta varint, keyLength varint, key, valueLength varint, …
 */
import { CorruptRecordError } from '../errors.js';
import {
  BATCH_HEADER_SIZE,
  Compression,
  compress,
  crc32c,
  DEFAULT_MAX_DECOMPRESSED_BYTES,
  type DeflatedBatch,
  decompress,
  LOG_OVERHEAD,
} from '../records/index.js';
import { Reader } from '../records/varint.js';
import { stampBatch } from './batches.js';

/** What compaction needs of a record, plus where its bytes are in the decompressed payload. */
export interface RecordSpan {
  offset: number;
  key: Uint8Array | null;
  /** A null value: a tombstone. */
  tombstone: boolean;
  start: number;
  end: number;
}

/** The decompressed records of a batch (header with its real base offset) and their spans. */
export function recordSpans(batch: DeflatedBatch): { payload: Uint8Array; records: RecordSpan[] } {
  const { header } = batch;
  const payload = decompress(
    header.compression,
    batch.bytes.subarray(BATCH_HEADER_SIZE),
    DEFAULT_MAX_DECOMPRESSED_BYTES,
  );
  const r = new Reader(payload, 0, payload.length);
  const records: RecordSpan[] = [];
  for (let i = 0; i < header.recordCount; i++) {
    const start = r.pos;
    const length = r.readVarint();
    if (length < 0 || length > r.remaining()) throw new CorruptRecordError(`record ${i} has a bad length`);
    const end = r.pos + length;
    const outer = r.end;
    r.end = end;
    r.readInt8();
    r.readVarlong();
    const offsetDelta = r.readVarint();
    const keyLength = r.readVarint();
    let key: Uint8Array | null = null;
    if (keyLength >= 0) {
      if (keyLength > r.remaining()) throw new CorruptRecordError(`record ${i} key overruns it`);
      key = payload.subarray(r.pos, r.pos + keyLength);
      r.pos += keyLength;
    }
    const tombstone = r.readVarint() < 0;
    r.end = outer;
    r.pos = end;
    records.push({ offset: header.baseOffset + offsetDelta, key, tombstone, start, end });
  }
  if (r.pos !== payload.length) throw new CorruptRecordError('bytes left after the last record of a batch');
  return { payload, records };
}

/**
 * The batch with only the records `keep` selects (by index), stamped with its real base
 * offset and `leaderEpoch`; `undefined` when none is kept.
 *
 * @example
 * const { payload, records } = recordSpans(batch);
 * const kept = retainRecords(batch, payload, records.map((r) => !r.tombstone), epoch);
 */
export function retainRecords(
  batch: DeflatedBatch,
  payload: Uint8Array,
  spans: readonly RecordSpan[],
  keep: readonly boolean[],
  leaderEpoch: number,
): Uint8Array | undefined {
  const kept = spans.filter((_, i) => keep[i]);
  if (kept.length === 0) return undefined;
  if (kept.length === spans.length) return stampBatch(batch, leaderEpoch);
  const raw = Buffer.allocUnsafe(kept.reduce((s, x) => s + x.end - x.start, 0));
  let pos = 0;
  for (const s of kept) {
    raw.set(payload.subarray(s.start, s.end), pos);
    pos += s.end - s.start;
  }
  const body = batch.header.compression === Compression.None ? raw : compress(batch.header.compression, raw);
  const out = Buffer.allocUnsafe(BATCH_HEADER_SIZE + body.length);
  out.set(batch.bytes.subarray(0, BATCH_HEADER_SIZE), 0);
  out.set(body, BATCH_HEADER_SIZE);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  view.setInt32(8, out.length - LOG_OVERHEAD);
  view.setInt32(57, kept.length);
  view.setUint32(17, crc32c(out.subarray(21)));
  // Base offset and leader epoch lie outside the CRC.
  return stampBatch({ header: batch.header, bytes: out }, leaderEpoch);
}
