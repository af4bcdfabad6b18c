import { describe, expect, it } from 'vitest';
import { Compression, decodeBatch, encodeBatch, verifyBatch, withBaseOffset } from '../records/index.js';
import { recordSpans, retainRecords } from './rebatch.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

function batch(compression: Compression) {
  const bytes = encodeBatch(
    Array.from({ length: 6 }, (_, i) => ({
      key: i === 5 ? null : enc.encode(`k${i % 3}`),
      value: i === 4 ? null : enc.encode(`v${i}`),
      timestamp: 1000 + 10 * i,
      headers: i === 1 ? [{ key: 'h', value: enc.encode('x') }] : [],
    })),
    { compression, producerId: 7n, producerEpoch: 2, baseSequence: 40 },
  );
  const stored = verifyBatch(withBaseOffset(bytes, 100));
  return stored;
}

describe('retainRecords', () => {
  for (const compression of [Compression.None, Compression.Gzip, Compression.Zstd, Compression.Lz4]) {
    it(`keeps offsets, timestamps, headers and producer fields (${Compression[compression]})`, () => {
      const original = batch(compression);
      const { payload, records } = recordSpans(original);
      expect(records.map((r) => [r.offset, r.key && dec.decode(r.key), r.tombstone])).toEqual([
        [100, 'k0', false],
        [101, 'k1', false],
        [102, 'k2', false],
        [103, 'k0', false],
        [104, 'k1', true],
        [105, null, false],
      ]);
      const keep = [false, true, false, true, false, true];
      const out = retainRecords(original, payload, records, keep, 9)!;
      const decoded = decodeBatch(out);
      expect(decoded.header).toMatchObject({
        baseOffset: 100,
        lastOffsetDelta: 5,
        recordCount: 3,
        partitionLeaderEpoch: 9,
        compression,
        baseTimestamp: 1000,
        maxTimestamp: 1050,
        producerId: 7n,
        producerEpoch: 2,
        baseSequence: 40,
      });
      expect(decoded.records.map((r) => [r.offset, r.timestamp, r.value && dec.decode(r.value)])).toEqual([
        [101, 1010, 'v1'],
        [103, 1030, 'v3'],
        [105, 1050, 'v5'],
      ]);
      expect(decoded.records[0]!.headers.map((h) => [h.key, dec.decode(h.value!)])).toEqual([['h', 'x']]);
    });
  }

  it('returns nothing when no record is kept, and a stamped copy when all are', () => {
    const original = batch(Compression.None);
    const { payload, records } = recordSpans(original);
    expect(
      retainRecords(
        original,
        payload,
        records,
        records.map(() => false),
        1,
      ),
    ).toBeUndefined();
    const all = retainRecords(
      original,
      payload,
      records,
      records.map(() => true),
      3,
    )!;
    expect(decodeBatch(all).header.partitionLeaderEpoch).toBe(3);
    expect(all.subarray(16)).toEqual(original.bytes.subarray(16));
  });
});
