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
import type { BatchHeader, DeflatedBatch, InflatedBatch, KafkaRecord, RecordHeader } from './types.js';
import { Reader } from './varint.js';

/** Smallest header: key length + value length. */
const MIN_HEADER_SIZE = 2;

/**
 * Verifies (CRC) and decodes one batch, decompressing its records with at most
 * `maxRecordsBytes` (default 64 MiB) of output.
 *
 * Keys, values and header values are views, not copies: of `bytes` when the batch is
 * uncompressed, of the decompressed buffer otherwise. An uncompressed batch's records alias
 * `bytes`: do not reuse or overwrite that buffer while they are alive.
 *
 * @example
 * const { header, records } = decodeBatch(batchBytes);
 * for (const r of records) console.log(r.offset, r.key && Buffer.from(r.key).toString());
 */
export function decodeBatch(
  bytes: Uint8Array | DeflatedBatch,
  options: { maxRecordsBytes?: number } = {},
): InflatedBatch {
  // A DeflatedBatch was verified when it was made: its CRC is not computed twice.
  const { header } = bytes instanceof Uint8Array ? verifyBatch(bytes) : bytes;
  if (!(bytes instanceof Uint8Array)) bytes = bytes.bytes;
  const maxBytes = options.maxRecordsBytes ?? DEFAULT_MAX_DECOMPRESSED_BYTES;
  const payload = decompress(header.compression, bytes.subarray(BATCH_HEADER_SIZE), maxBytes);
  return { header, records: decodeRecords(payload, header) };
}

function decodeRecords(payload: Uint8Array, header: BatchHeader): KafkaRecord[] {
  const count = header.recordCount;
  if (count > payload.length / MIN_RECORD_SIZE) {
    throw new CorruptRecordError(`record count ${count} cannot fit in ${payload.length} bytes of records`);
  }
  // Views are cut from a plain Uint8Array (Buffer's subarray is markedly slower per call);
  // header keys are decoded through a Buffer over the same memory (native UTF-8).
  const bytes = new Uint8Array(payload.buffer, payload.byteOffset, payload.length);
  const keys = new KeyDecoder(Buffer.from(payload.buffer, payload.byteOffset, payload.length));
  const reader = new Reader(bytes, 0, bytes.length);
  const records = new Array<KafkaRecord>(count);
  const logAppend = header.timestampType === 'logAppend';
  for (let i = 0; i < count; i++) records[i] = readRecord(reader, keys, header, logAppend);
  if (reader.pos !== bytes.length) {
    throw new CorruptRecordError(
      `${bytes.length - reader.pos} bytes left after the batch's ${count} records`,
    );
  }
  return records;
}

function readRecord(r: Reader, keys: KeyDecoder, header: BatchHeader, logAppend: boolean): KafkaRecord {
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
    r.skip(keyLength);
    headers[h] = { key: keys.decode(keyStart, keyLength), value: r.readNullableBytes() };
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

/**
 * UTF-8 header keys with a one-entry memo: the records of a batch usually carry the same
 * header names, and comparing a few bytes is cheaper than decoding them again.
 */
class KeyDecoder {
  private lastStart = -1;
  private lastLength = -1;
  private last = '';

  constructor(private readonly buf: Buffer) {}

  decode(start: number, length: number): string {
    const buf = this.buf;
    if (length === this.lastLength) {
      const prev = this.lastStart;
      let same = true;
      for (let i = 0; i < length; i++) {
        if (buf[start + i] !== buf[prev + i]) {
          same = false;
          break;
        }
      }
      if (same) return this.last;
    }
    this.lastStart = start;
    this.lastLength = length;
    this.last = buf.toString('utf8', start, start + length);
    return this.last;
  }
}
