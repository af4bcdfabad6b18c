/**
 * Compatibility against a real peer: kafkajs's own RecordBatch v2 encoder and decoder.
 * (a) batches we encode decode with kafkajs to the same records; (b) batches kafkajs encodes
 * decode with ours. Every codec is covered on both sides: gzip is built into kafkajs, snappy /
 * lz4 / zstd are registered through its CompressionCodecs map (see testing/kafkajs-oracle.ts).
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeBatch } from './batch-decode.js';
import { encodeBatch } from './batch-encode.js';
import {
  type KafkajsRecordIn,
  kafkajsDecode,
  kafkajsEncode,
  registerKafkajsCodecs,
} from './testing/kafkajs-oracle.js';
import { Compression, type RecordHeader, type RecordInput } from './types.js';

const CODECS = [Compression.None, Compression.Gzip, Compression.Snappy, Compression.Lz4, Compression.Zstd];
const bytesArb = (maxLength: number) => fc.uint8Array({ maxLength }).map((b) => Buffer.from(b));
const headerKeyArb = fc.string({ unit: 'grapheme', maxLength: 10 });
const timestampArb = fc.integer({ min: 0, max: 2 ** 43 });
const batchOptionsArb = fc.record({
  baseOffset: fc.integer({ min: 0, max: 2 ** 50 }),
  producerId: fc.bigInt({ min: -1n, max: 2n ** 63n - 1n }),
  producerEpoch: fc.integer({ min: -1, max: 0x7fff }),
  baseSequence: fc.integer({ min: -1, max: 0x7fffffff }),
  partitionLeaderEpoch: fc.integer({ min: -1, max: 0x7fffffff }),
  transactional: fc.boolean(),
});

/** kafkajs folds headers into an object, repeated keys into arrays in arrival order. */
function foldHeaders(headers: readonly RecordHeader[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of headers) {
    const v = value === null ? null : Buffer.from(value);
    const prev = out[key];
    out[key] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  return out;
}

const asBuffer = (b: Uint8Array | null) => (b === null ? null : Buffer.from(b));

beforeAll(() => registerKafkajsCodecs());

describe('kafkajs compatibility', () => {
  it('(a) kafkajs decodes what we encode, with every codec', async () => {
    const recordArb: fc.Arbitrary<RecordInput> = fc.record({
      key: fc.option(bytesArb(30), { nil: null }),
      value: fc.option(bytesArb(400), { nil: null }),
      // kafkajs folds decoded headers into a plain object, where '__proto__' cannot be a key.
      headers: fc.array(
        fc.record({
          key: headerKeyArb.filter((k) => k !== '__proto__'),
          value: fc.option(bytesArb(16), { nil: null }),
        }),
        { maxLength: 4 },
      ),
      timestamp: timestampArb,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(recordArb, { minLength: 1, maxLength: 25 }),
        fc.constantFrom(...CODECS),
        batchOptionsArb,
        async (records, compression, o) => {
          const bytes = encodeBatch(records, { ...o, isTransactional: o.transactional, compression });
          const theirs = await kafkajsDecode(bytes);
          expect(theirs).toMatchObject({
            firstOffset: String(o.baseOffset),
            firstTimestamp: String(records[0]!.timestamp),
            maxTimestamp: String(Math.max(...records.map((r) => r.timestamp!))),
            partitionLeaderEpoch: o.partitionLeaderEpoch,
            inTransaction: o.transactional,
            isControlBatch: false,
            lastOffsetDelta: records.length - 1,
            producerId: o.producerId.toString(),
            producerEpoch: o.producerEpoch,
            firstSequence: o.baseSequence,
          });
          expect(
            theirs.records.map((r) => ({
              offset: r.offset,
              timestamp: r.timestamp,
              key: r.key,
              value: r.value,
              headers: r.headers,
            })),
          ).toEqual(
            records.map((r, i) => ({
              offset: String(o.baseOffset + i),
              timestamp: String(r.timestamp),
              key: asBuffer(r.key ?? null),
              value: asBuffer(r.value),
              headers: foldHeaders(r.headers ?? []),
            })),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it('(b) we decode what kafkajs encodes, with every codec', async () => {
    // kafkajs cannot encode a null header value (it sizes it with Buffer.byteLength).
    const recordArb: fc.Arbitrary<KafkajsRecordIn> = fc.record({
      key: fc.option(bytesArb(30), { nil: null }),
      value: fc.option(bytesArb(400), { nil: null }),
      headers: fc.dictionary(
        headerKeyArb,
        fc.oneof(bytesArb(16), fc.array(bytesArb(8), { minLength: 1, maxLength: 3 })),
        {
          maxKeys: 4,
        },
      ),
      timestamp: timestampArb,
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(recordArb, { minLength: 1, maxLength: 25 }),
        fc.constantFrom(...CODECS),
        batchOptionsArb,
        async (records, compression, o) => {
          const bytes = await kafkajsEncode({ ...o, compression, records });
          const { header, records: ours } = decodeBatch(bytes);
          expect(header).toMatchObject({
            baseOffset: o.baseOffset,
            partitionLeaderEpoch: o.partitionLeaderEpoch,
            compression,
            isTransactional: o.transactional,
            lastOffsetDelta: records.length - 1,
            recordCount: records.length,
            producerId: o.producerId,
            producerEpoch: o.producerEpoch,
            baseSequence: o.baseSequence,
            baseTimestamp: records[0]!.timestamp,
          });
          expect(
            ours.map((r) => ({
              ...r,
              key: asBuffer(r.key),
              value: asBuffer(r.value),
              headers: r.headers.map((h) => ({ key: h.key, value: asBuffer(h.value) })),
            })),
          ).toEqual(
            records.map((r, i) => ({
              offset: o.baseOffset + i,
              timestamp: r.timestamp,
              key: r.key,
              value: r.value,
              headers: Object.keys(r.headers).flatMap((key) => {
                const v = r.headers[key]!;
                return (Array.isArray(v) ? v : [v]).map((value) => ({ key, value }));
              }),
            })),
          );
        },
      ),
      { numRuns: 300 },
    );
  });
});
