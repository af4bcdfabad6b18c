import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CorruptRecordError, InvalidRequestError } from '../errors.js';
import { decodeBatch } from './batch-decode.js';
import { encodeBatch } from './batch-encode.js';
import { splitBatches } from './batch-header.js';
import { crc32c } from './crc32c.js';
import { decodeSegment, encodeSegment, SEGMENT_HEADER_SIZE } from './segment.js';
import { Compression } from './types.js';

const utf8 = (s: string) => new TextEncoder().encode(s);
const batchOf = (n: number, t0: number, compression = Compression.None) =>
  encodeBatch(
    Array.from({ length: n }, (_, i) => ({ key: utf8(`k${i}`), value: utf8(`v${i}`), timestamp: t0 + i })),
    { compression },
  );

/** A copy of a segment with its trailing checksum recomputed, so the index checks are reached. */
function reseal(bytes: Uint8Array): Uint8Array {
  const copy = Uint8Array.from(bytes);
  new DataView(copy.buffer).setUint32(copy.length - 4, crc32c(copy.subarray(0, copy.length - 4)));
  return copy;
}

describe('segment objects', () => {
  const runs = [
    { topic: 'orders', partition: 0, batches: [batchOf(3, 1000), batchOf(2, 5000, Compression.Zstd)] },
    { topic: 'événements', partition: 7, batches: [batchOf(1, 20)] },
    { topic: 'orders', partition: 1, batches: [Buffer.concat([batchOf(2, 7), batchOf(4, 9)])] },
  ];

  it('indexes each run with absolute positions and counts, and reads back its own index', () => {
    const { bytes, index } = encodeSegment(runs);
    expect(Buffer.from(bytes.subarray(0, 4)).toString()).toBe('SLCE');
    expect(index).toEqual([
      expect.objectContaining({
        topic: 'orders',
        partition: 0,
        position: SEGMENT_HEADER_SIZE,
        recordCount: 5,
        batchCount: 2,
        offsetCount: 5,
        maxTimestamp: 5001,
      }),
      expect.objectContaining({
        topic: 'événements',
        partition: 7,
        recordCount: 1,
        batchCount: 1,
        offsetCount: 1,
        maxTimestamp: 20,
      }),
      expect.objectContaining({
        topic: 'orders',
        partition: 1,
        recordCount: 6,
        batchCount: 2,
        offsetCount: 6,
        maxTimestamp: 12,
      }),
    ]);
    expect(decodeSegment(bytes)).toEqual({ version: 1, index });
  });

  it('serves a run from a ranged read of [position, position + length)', () => {
    const { bytes, index } = encodeSegment(runs);
    for (const [i, entry] of index.entries()) {
      const range = bytes.subarray(entry.position, entry.position + entry.length);
      const batches = splitBatches(range);
      expect(batches.length).toBe(entry.batchCount);
      expect(Buffer.from(range)).toEqual(Buffer.concat(runs[i]!.batches));
      const records = batches.flatMap((b) => decodeBatch(b.bytes).records);
      expect(records.length).toBe(entry.recordCount);
    }
  });

  it('round-trips random layouts', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            topic: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }),
            partition: fc.integer({ min: 0, max: 10_000 }),
            sizes: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 }),
          }),
          { maxLength: 6 },
        ),
        (layout) => {
          const { bytes, index } = encodeSegment(
            layout.map((r) => ({
              topic: r.topic,
              partition: r.partition,
              batches: r.sizes.map((n) => batchOf(n, 1)),
            })),
          );
          expect(decodeSegment(bytes).index).toEqual(index);
          expect(index.map((e) => e.recordCount)).toEqual(
            layout.map((r) => r.sizes.reduce((a, b) => a + b, 0)),
          );
        },
      ),
      { numRuns: 100 },
    );
  });

  it('accepts an empty segment', () => {
    const { bytes, index } = encodeSegment([]);
    expect(index).toEqual([]);
    expect(decodeSegment(bytes).index).toEqual([]);
  });

  it('refuses bad runs with InvalidRequestError and bad batches with CorruptRecordError', () => {
    expect(() => encodeSegment([{ topic: '', partition: 0, batches: [batchOf(1, 1)] }])).toThrow(
      InvalidRequestError,
    );
    expect(() => encodeSegment([{ topic: 't', partition: -1, batches: [batchOf(1, 1)] }])).toThrow(
      InvalidRequestError,
    );
    expect(() => encodeSegment([{ topic: 't', partition: 0, batches: [] }])).toThrow(InvalidRequestError);
    expect(() =>
      encodeSegment([{ topic: 't', partition: 0, batches: [batchOf(1, 1).subarray(0, 70)] }]),
    ).toThrow(CorruptRecordError);
  });

  it('detects any flipped bit through the checksum', () => {
    const { bytes } = encodeSegment(runs);
    for (let i = 0; i < bytes.length; i += 13) {
      const bad = Uint8Array.from(bytes);
      bad[i]! ^= 1 << (i % 8);
      expect(() => decodeSegment(bad)).toThrow(CorruptRecordError);
    }
  });

  it('rejects truncation, foreign objects and a forged (resealed) index', () => {
    const { bytes, index } = encodeSegment(runs);
    expect(() => decodeSegment(bytes.subarray(0, bytes.length - 1))).toThrow(CorruptRecordError);
    expect(() => decodeSegment(new Uint8Array(10))).toThrow(/truncated/);
    expect(() => decodeSegment(reseal(Uint8Array.from(bytes).fill(0x41, 0, 4)))).toThrow(/magic/);
    const version2 = Uint8Array.from(bytes);
    version2[5] = 2;
    expect(() => decodeSegment(reseal(version2))).toThrow(/version 2/);
    // Shift the first entry's position by one: the runs no longer tile the object.
    const footer = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigInt64(bytes.length - 12));
    const shifted = Uint8Array.from(bytes);
    const posField = footer + 4 + 2 + Buffer.byteLength(index[0]!.topic) + 4;
    new DataView(shifted.buffer).setBigInt64(posField, BigInt(index[0]!.position + 1));
    expect(() => decodeSegment(reseal(shifted))).toThrow(/inconsistent/);
    // An entry count far beyond what the footer can hold.
    const counted = Uint8Array.from(bytes);
    new DataView(counted.buffer).setUint32(footer, 0xffffffff);
    expect(() => decodeSegment(reseal(counted))).toThrow(/count/);
  });
});
