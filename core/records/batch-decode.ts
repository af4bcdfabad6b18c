/**
 * RecordBatch v2 decoder. Layouts: batch-header.ts (header), batch-encode.ts (records).
 *
 * Every length, count and varint is checked against the bytes that actually remain, so
 * hostile input ends in CorruptRecordError before any allocation proportional to a claimed
 * size. Like the Java client, a record must consume exactly its declared length and the
 * records must consume exactly the batch.
 */
import { CorruptRecordError } from '../errors.js';
import { BATCH_HEADER_SIZE, MIN_RECORD_SIZE, verifyBatch } from './batch-header.js';
import { DEFAULT_MAX_DECOMPRESSED_BYTES, decompress } from './compression.js';
import type { BatchHeader, InflatedBatch, KafkaRecord, RecordHeader } from './types.js';
import { Reader } from './varint.js';

/** Smallest header: key length + value length. */
const MIN_HEADER_SIZE = 2;

/**
 * Verifies (CRC) and decodes one batch, decompressing its records with at most
 * `maxRecordsBytes` (default 64 MiB) of output.
 *
 * Keys, values and header values are views, not copies: of `bytes` when the batch is
 * uncompressed, of the decompressed buffer otherwise. They alias `bytes`, so do not reuse
 * that buffer while the records are alive.
 *
 * @example
 * const { header, records } = decodeBatch(batchBytes);
 * for (const r of records) console.log(r.offset, r.key && Buffer.from(r.key).toString());
 */
export function decodeBatch(bytes: Uint8Array, options: { maxRecordsBytes?: number } = {}): InflatedBatch {
  const { header } = verifyBatch(bytes);
  const maxBytes = options.maxRecordsBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
  let payload = bytes.subarray(BATCH_HEADER_SIZE);
  payload = decompress(header.compression, payload, maxBytes);
  return { header, records: decodeRecords(payload, header) };
}

function decodeRecords(payload: Uint8Array, header: BatchHeader): KafkaRecord[] {
  const count = header.recordCount;
  if (count > payload.length / MIN_RECORD_SIZE) {
    throw new CorruptRecordError(`record count ${count} cannot fit in ${payload.length} bytes of records`);
  }
  // Header keys need UTF-8 decoding; a Buffer view of the same memory gives the fast native path.
  const buf = Buffer.isBuffer(payload)
    ? payload
    : Buffer.from(payload.buffer, payload.byteOffset, payload.length);
  const reader = new Reader(buf, 0, buf.length);
  const records = new Array<KafkaRecord>(count);
  const logAppend = header.timestampType === 'logAppend';
  for (let i = 0; i < count; i++) records[i] = readRecord(reader, buf, header, logAppend);
  if (reader.pos !== buf.length) {
    throw new CorruptRecordError(`${buf.length - reader.pos} bytes left after the batch's ${count} records`);
  }
  return records;
}

function readRecord(r: Reader, buf: Buffer, header: BatchHeader, logAppend: boolean): KafkaRecord {
  const length = r.readVarint();
  if (length < MIN_RECORD_SIZE - 1 || length > r.remaining()) {
    throw new CorruptRecordError(`record length ${length} is invalid with ${r.remaining()} bytes left`);
  }
  const outerEnd = r.end;
  const end = r.pos + length;
  r.end = end;
  r.pos++; // record attributes: unused by every Kafka version so far
  const timestampDelta = r.readVarlong();
  const offsetDelta = r.readVarint();
  const key = r.readNullableBytes();
  const value = r.readNullableBytes();
  const headerCount = r.readVarint();
  if (headerCount < 0 || headerCount > r.remaining() / MIN_HEADER_SIZE) {
    throw new CorruptRecordError(`header count ${headerCount} is invalid`);
  }
  const headers = new Array<RecordHeader>(headerCount);
  for (let h = 0; h < headerCount; h++) {
    const keyLength = r.readVarint();
    if (keyLength < 0) throw new CorruptRecordError('header key must not be null');
    const keyStart = r.pos;
    r.readView(keyLength);
    headers[h] = { key: buf.toString('utf8', keyStart, keyStart + keyLength), value: r.readNullableBytes() };
  }
  if (r.pos !== end)
    throw new CorruptRecordError(
      `record declares ${length} bytes but its fields take ${length - (end - r.pos)}`,
    );
  r.end = outerEnd;
  return {
    offset: header.baseOffset + offsetDelta,
    timestamp: logAppend ? header.maxTimestamp : header.baseTimestamp + timestampDelta,
    key,
    value,
    headers,
  };
}
