import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CorruptRecordError, InvalidRequestError } from '../errors.js';
import { decodeBatch } from './batch-decode.js';
import { encodeBatch } from './batch-encode.js';
import {
  BATCH_HEADER_SIZE,
  readBatchHeader,
  splitBatches,
  verifyBatch,
  withBaseOffset,
} from './batch-header.js';
import { forgeCrc, withInt32 } from './testing/forge.js';
import { kafkajsEncode } from './testing/kafkajs-oracle.js';
import { Compression, type KafkaRecord, type RecordInput } from './types.js';

const utf8 = (s: string) => new TextEncoder().encode(s);
const T0 = 1_700_000_000_000;
/** Decoded bytes are Buffer views; compare them as plain Uint8Arrays. */
const plain = (b: Uint8Array | null) => (b === null ? null : Uint8Array.from(b));
const plainRecord = (r: KafkaRecord) => ({
  ...r,
  key: plain(r.key),
  value: plain(r.value),
  headers: r.headers.map((h) => ({ key: h.key, value: plain(h.value) })),
});

const recordArb: fc.Arbitrary<RecordInput> = fc.record({
  key: fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null }),
  value: fc.option(fc.uint8Array({ maxLength: 300 }), { nil: null }),
  headers: fc.array(
    fc.record({
      key: fc.string({ unit: 'grapheme', maxLength: 12 }),
      value: fc.option(fc.uint8Array({ maxLength: 20 }), { nil: null }),
    }),
    { maxLength: 4 },
  ),
  timestamp: fc.integer({ min: 0, max: 2 ** 44 }),
});

describe('encodeBatch / decodeBatch', () => {
  it('writes the same bytes as kafkajs for the same batch (uncompressed)', async () => {
    const records = [
      { key: utf8('k1'), value: utf8('v1'), timestamp: T0, headers: [{ key: 'h', value: utf8('x') }] },
      { key: null, value: null, timestamp: T0 + 1000 },
      { key: utf8(''), value: utf8('é'), timestamp: T0 - 5 },
    ];
    const ours = encodeBatch(records, {
      baseOffset: 42,
      partitionLeaderEpoch: 7,
      producerId: 1234567890123n,
      producerEpoch: 3,
      baseSequence: 99,
      isTransactional: true,
    });
    const theirs = await kafkajsEncode({
      compression: 0,
      baseOffset: 42,
      partitionLeaderEpoch: 7,
      transactional: true,
      producerId: 1234567890123n,
      producerEpoch: 3,
      baseSequence: 99,
      records: records.map((r) => ({
        key: r.key === null ? null : Buffer.from(r.key),
        value: r.value === null ? null : Buffer.from(r.value),
        headers: Object.fromEntries((r.headers ?? []).map((h) => [h.key, Buffer.from(h.value)])),
        timestamp: r.timestamp,
      })),
    });
    expect(Buffer.from(ours).toString('hex')).toBe(theirs.toString('hex'));
  });

  it('round-trips random records and header fields with every codec', () => {
    fc.assert(
      fc.property(
        fc.array(recordArb, { minLength: 1, maxLength: 30 }),
        fc.constantFrom(
          Compression.None,
          Compression.Gzip,
          Compression.Snappy,
          Compression.Lz4,
          Compression.Zstd,
        ),
        fc.record({
          baseOffset: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER - 100 }),
          producerId: fc.bigInt({ min: -1n, max: 2n ** 63n - 1n }),
          producerEpoch: fc.integer({ min: -1, max: 0x7fff }),
          baseSequence: fc.integer({ min: -1, max: 0x7fffffff }),
          partitionLeaderEpoch: fc.integer({ min: -1, max: 0x7fffffff }),
          isTransactional: fc.boolean(),
        }),
        (records, compression, options) => {
          const bytes = encodeBatch(records, { ...options, compression });
          const { header, records: decoded } = decodeBatch(bytes);
          expect(header).toMatchObject({ ...options, compression, magic: 2, recordCount: records.length });
          expect(header.lastOffsetDelta).toBe(records.length - 1);
          expect(header.batchLength).toBe(bytes.length - 12);
          expect(header.baseTimestamp).toBe(records[0]!.timestamp);
          expect(header.maxTimestamp).toBe(Math.max(...records.map((r) => r.timestamp!)));
          expect(header.timestampType).toBe('create');
          expect(header.isControl).toBe(false);
          expect(decoded.map(plainRecord)).toEqual(
            records.map((r, i) => ({
              offset: options.baseOffset + i,
              timestamp: r.timestamp,
              key: r.key,
              value: r.value,
              headers: r.headers,
            })),
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('uses `now` for records without a timestamp, and requires it then', () => {
    const { records } = decodeBatch(
      encodeBatch([{ value: utf8('a') }, { value: utf8('b'), timestamp: 5 }], { now: T0 }),
    );
    expect(records.map((r) => r.timestamp)).toEqual([T0, 5]);
    expect(() => encodeBatch([{ value: utf8('a') }])).toThrow(InvalidRequestError);
  });

  it('gives every record the batch max timestamp when the timestamp type is log-append', () => {
    const bytes = encodeBatch(
      [
        { value: null, timestamp: 10 },
        { value: null, timestamp: 30 },
      ],
      { timestampType: 'logAppend' },
    );
    const { header, records } = decodeBatch(bytes);
    expect(header.timestampType).toBe('logAppend');
    expect(header.attributes & 0x08).toBe(0x08);
    expect(records.map((r) => r.timestamp)).toEqual([30, 30]);
  });

  it('returns views that alias the input instead of copies (uncompressed)', () => {
    const bytes = encodeBatch([{ key: utf8('key'), value: utf8('value'), timestamp: 1 }]);
    const [record] = decodeBatch(bytes).records;
    expect(record!.value!.buffer).toBe((bytes as Buffer).buffer);
    bytes[bytes.length - 2] = 'V'.charCodeAt(0); // inside the value (the last byte is the header count)
    expect(Buffer.from(record!.value!).toString()).toBe('valuV');
  });

  it('rejects bad input to the encoder with InvalidRequestError naming the field', () => {
    const one = [{ value: null, timestamp: 1 }];
    const cases: [() => unknown, string][] = [
      [() => encodeBatch([]), 'records'],
      [() => encodeBatch(one, { baseOffset: -1 }), 'baseOffset'],
      [() => encodeBatch(one, { producerEpoch: 0x8000 }), 'producerEpoch'],
      [() => encodeBatch(one, { baseSequence: 2 ** 31 }), 'baseSequence'],
      [() => encodeBatch(one, { producerId: 2n ** 63n }), 'producerId'],
      [() => encodeBatch(one, { compression: 5 as Compression }), 'compression'],
      [() => encodeBatch([{ value: null, timestamp: 1.5 }]), 'records[0].timestamp'],
      [
        () =>
          encodeBatch([
            { value: null, timestamp: 0 },
            { value: null, timestamp: 2 ** 53 - 1 },
          ]),
        'records[1].timestamp',
      ],
    ];
    for (const [fn, field] of cases) {
      expect(fn).toThrow(InvalidRequestError);
      try {
        fn();
      } catch (e) {
        expect((e as InvalidRequestError).field).toBe(field);
      }
    }
  });

  it('bounds the decompressed size with maxRecordsBytes', () => {
    const bytes = encodeBatch([{ value: new Uint8Array(100_000), timestamp: 1 }], {
      compression: Compression.Zstd,
    });
    expect(bytes.length).toBeLessThan(1000);
    expect(() => decodeBatch(bytes, { maxRecordsBytes: 50_000 })).toThrow(CorruptRecordError);
    expect(decodeBatch(bytes, { maxRecordsBytes: 200_000 }).records[0]!.value!.length).toBe(100_000);
  });
});

describe('header view, verification, splitting', () => {
  const batch = encodeBatch(
    [
      { key: utf8('a'), value: utf8('1'), timestamp: T0 },
      { key: utf8('b'), value: utf8('2'), timestamp: T0 + 9 },
    ],
    { compression: Compression.Gzip, baseOffset: 100, producerId: 5n, producerEpoch: 1, baseSequence: 10 },
  );

  it('reads the header of a compressed batch without decompressing it', () => {
    const header = readBatchHeader(batch);
    expect(header).toMatchObject({
      baseOffset: 100,
      compression: Compression.Gzip,
      recordCount: 2,
      lastOffsetDelta: 1,
      baseTimestamp: T0,
      maxTimestamp: T0 + 9,
      producerId: 5n,
      producerEpoch: 1,
      baseSequence: 10,
      isTransactional: false,
    });
    // Corrupting the compressed payload does not matter to the header view (no CRC check)…
    const damaged = Uint8Array.from(batch);
    damaged[BATCH_HEADER_SIZE + 3]! ^= 0xff;
    expect(readBatchHeader(damaged).recordCount).toBe(2);
    // …but verifyBatch catches it.
    expect(() => verifyBatch(damaged)).toThrow(/CRC mismatch/);
  });

  it('reads a header at an offset and checks that the whole batch is there', () => {
    const padded = new Uint8Array(batch.length + 3);
    padded.set(batch, 3);
    expect(readBatchHeader(padded, 3).baseOffset).toBe(100);
    expect(() => readBatchHeader(padded.subarray(0, padded.length - 1), 3)).toThrow(/truncated/);
    expect(() => readBatchHeader(batch.subarray(0, 60))).toThrow(CorruptRecordError);
    expect(() => readBatchHeader(withInt32(batch, 8, 10))).toThrow(/too small/);
  });

  it('rejects other magics and unknown codecs', () => {
    const v1 = Uint8Array.from(batch);
    v1[16] = 1;
    expect(() => readBatchHeader(v1)).toThrow(/magic 1/);
    const codec7 = Uint8Array.from(batch);
    codec7[22] = (codec7[22]! & ~7) | 7;
    expect(() => readBatchHeader(codec7)).toThrow(/codec 7/);
  });

  it('verifyBatch refuses trailing bytes; splitBatches walks concatenated batches as views', () => {
    const other = encodeBatch([{ value: utf8('x'), timestamp: 1 }]);
    const both = Buffer.concat([batch, other]);
    expect(() => verifyBatch(both)).toThrow(/trailing/);
    const parts = splitBatches(both);
    expect(parts.map((p) => p.header.recordCount)).toEqual([2, 1]);
    expect(parts[1]!.bytes.buffer).toBe(both.buffer);
    expect(Buffer.from(parts[1]!.bytes)).toEqual(Buffer.from(other));
    expect(splitBatches(new Uint8Array(0))).toEqual([]);
    const bad = Uint8Array.from(both);
    bad[both.length - 1]! ^= 1;
    expect(() => splitBatches(bad)).toThrow(CorruptRecordError);
    expect(() => splitBatches(both.subarray(0, both.length - 1))).toThrow(/truncated/);
  });

  it('withBaseOffset patches offsets without breaking the CRC or touching the input', () => {
    const moved = withBaseOffset(batch, 2 ** 40);
    expect(readBatchHeader(batch).baseOffset).toBe(100);
    expect(decodeBatch(moved).records.map((r) => r.offset)).toEqual([2 ** 40, 2 ** 40 + 1]);
    expect(() => withBaseOffset(batch, -1)).toThrow(RangeError);
  });
});

describe('hostile batches (forged CRC, so the parser itself is tested)', () => {
  const batch = encodeBatch([
    { key: utf8('k'), value: utf8('value'), headers: [{ key: 'h', value: utf8('v') }], timestamp: 1 },
    { key: null, value: utf8('second'), timestamp: 2 },
  ]);

  it('rejects a huge record count before allocating anything', () => {
    const forged = forgeCrc(withInt32(batch, 57, 0x7fffffff));
    expect(() => readBatchHeader(forged)).toThrow(/cannot fit/);
    const compressed = encodeBatch([{ value: null, timestamp: 1 }], { compression: Compression.Gzip });
    expect(() => decodeBatch(forgeCrc(withInt32(compressed, 57, 0x7fffffff)))).toThrow(/cannot fit/);
  });

  it('rejects record counts that disagree with the records', () => {
    expect(() => decodeBatch(forgeCrc(withInt32(batch, 57, 1)))).toThrow(/bytes left after/);
    expect(() => decodeBatch(forgeCrc(withInt32(batch, 57, 3)))).toThrow(CorruptRecordError);
    expect(() => decodeBatch(forgeCrc(withInt32(batch, 57, -1)))).toThrow(/negative record count/);
  });

  it('rejects a record whose fields do not fill its declared length', () => {
    const bad = Uint8Array.from(batch);
    bad[BATCH_HEADER_SIZE]! += 2; // first record's length varint: one more byte (zigzag)
    expect(() => decodeBatch(forgeCrc(bad))).toThrow(CorruptRecordError);
  });
});
