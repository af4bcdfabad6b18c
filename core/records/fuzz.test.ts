/**
 * Hostile bytes must end in CorruptRecordError: never another exception, a crash, a hang or
 * a giant allocation. Seed batches are mutated (bit flips, truncations, splices, length and
 * count fields rewritten), and most mutants get a recomputed CRC and batch length so that
 * they reach the record parser and the decompressors instead of dying at the checksum.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CorruptRecordError } from '../errors.js';
import { decodeBatch } from './batch-decode.js';
import { encodeBatch } from './batch-encode.js';
import { readBatchHeader, splitBatches, verifyBatch } from './batch-header.js';
import { crc32c } from './crc32c.js';
import { decodeSegment, encodeSegment } from './segment.js';
import { forgeCrc } from './testing/forge.js';
import { Compression } from './types.js';

const utf8 = (s: string) => new TextEncoder().encode(s);

const seeds: Uint8Array[] = [
  Compression.None,
  Compression.Gzip,
  Compression.Snappy,
  Compression.Lz4,
  Compression.Zstd,
].flatMap((compression) => [
  encodeBatch(
    [
      {
        key: utf8('k1'),
        value: utf8('v'.repeat(40)),
        headers: [{ key: 'h1', value: utf8('x') }],
        timestamp: 1000,
      },
      { key: null, value: null, headers: [{ key: 'h2', value: null }], timestamp: 999 },
      { key: utf8(''), value: utf8('é'), timestamp: 2 ** 41 },
    ],
    { compression, baseOffset: 77, producerId: 9n, producerEpoch: 1, baseSequence: 3 },
  ),
  encodeBatch([{ value: new Uint8Array(300).fill(7), timestamp: 5 }], { compression }),
]);

/** Field offsets worth rewriting: batchLength, lastOffsetDelta, recordCount, first record's length. */
const FIELDS = [8, 23, 57, 61] as const;
const INT32S = [0, 1, -1, 2, 7, 61, 0x7f, 0x80, 0xffff, 0x7fffffff, -0x80000000, 1 << 24];
const VARINTS = [
  [0xff, 0xff, 0xff, 0xff, 0x0f],
  [0x80, 0x80, 0x80, 0x80, 0x80, 0x80],
  [0x01],
  [0xfe, 0xff, 0xff, 0xff, 0x07],
  [0x81],
];

type Mutation =
  | { kind: 'flip'; at: number; bit: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'field'; field: number; value: number }
  | { kind: 'int32'; at: number; value: number }
  | { kind: 'splice'; at: number; bytes: number[] }
  | { kind: 'delete'; at: number; count: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({
    kind: fc.constant('field' as const),
    field: fc.constantFrom(...FIELDS),
    value: fc.oneof(fc.constantFrom(...INT32S), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
  }),
  fc.record({ kind: fc.constant('int32' as const), at: fc.nat(), value: fc.constantFrom(...INT32S) }),
  fc.record({
    kind: fc.constant('splice' as const),
    at: fc.nat(),
    bytes: fc.oneof(fc.constantFrom(...VARINTS), fc.array(fc.nat({ max: 255 }), { maxLength: 8 })),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
);

function mutate(seed: Uint8Array, mutations: Mutation[]): Uint8Array {
  let bytes = Buffer.from(seed);
  for (const m of mutations) {
    const at =
      bytes.length === 0 ? 0 : m.kind === 'field' ? m.field : (m as { at: number }).at % bytes.length;
    switch (m.kind) {
      case 'flip':
        if (bytes.length > 0) bytes[at]! ^= 1 << m.bit;
        break;
      case 'truncate':
        bytes = bytes.subarray(0, at);
        break;
      case 'field':
      case 'int32':
        if (at + 4 <= bytes.length) bytes.writeInt32BE(m.value, at);
        break;
      case 'splice':
        bytes = Buffer.concat([bytes.subarray(0, at), Buffer.from(m.bytes), bytes.subarray(at)]);
        break;
      case 'delete':
        bytes = Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + m.count)]);
        break;
    }
  }
  return bytes;
}

/** Makes the header agree with the mutant's size, so parsing goes past the length check. */
function fixLength(bytes: Uint8Array): Uint8Array {
  const copy = Uint8Array.from(bytes);
  if (copy.length >= 12) new DataView(copy.buffer).setInt32(8, copy.length - 12);
  return copy;
}

function expectOnlyCorruptErrors(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if (!(e instanceof CorruptRecordError)) throw e;
    return false;
  }
}

describe('fuzzing the decoders with hostile bytes', () => {
  it('10,000 mutated batches: only CorruptRecordError, and what decodes is self-consistent', () => {
    let decoded = 0;
    let reachedParser = 0;
    fc.assert(
      fc.property(
        fc.nat({ max: seeds.length - 1 }),
        fc.array(mutationArb, { minLength: 1, maxLength: 4 }),
        fc.constantFrom('forge', 'forge+length', 'forge+length', 'raw'),
        (seedIndex, mutations, finish) => {
          let bytes = mutate(seeds[seedIndex]!, mutations);
          if (finish === 'forge+length') bytes = fixLength(bytes);
          if (finish !== 'raw') bytes = forgeCrc(bytes);
          expectOnlyCorruptErrors(() => readBatchHeader(bytes));
          expectOnlyCorruptErrors(() => splitBatches(bytes));
          if (expectOnlyCorruptErrors(() => verifyBatch(bytes))) reachedParser++;
          expectOnlyCorruptErrors(() => {
            const batch = decodeBatch(bytes, { maxRecordsBytes: 1024 * 1024 });
            expect(batch.records.length).toBe(batch.header.recordCount);
            decoded++;
          });
        },
      ),
      { numRuns: 10_000, seed: 20240601 },
    );
    // The fuzzer is only meaningful if many mutants get past the CRC into the parser.
    expect(reachedParser).toBeGreaterThan(2000);
    expect(decoded).toBeGreaterThan(100);
  });

  it('random bytes and random CRC-valid garbage never escape as other errors', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (garbage, forge) => {
        const bytes = forge ? forgeCrc(fixLength(garbage)) : garbage;
        expectOnlyCorruptErrors(() => decodeBatch(bytes));
        expectOnlyCorruptErrors(() => splitBatches(bytes));
        expectOnlyCorruptErrors(() => decodeSegment(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  it('2,000 mutated (and resealed) segments: only CorruptRecordError', () => {
    const { bytes: segment } = encodeSegment([
      { topic: 'a', partition: 0, batches: [seeds[0]!, seeds[1]!] },
      { topic: 'bb', partition: 3, batches: [seeds[4]!] },
    ]);
    fc.assert(
      fc.property(
        fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
        fc.boolean(),
        (mutations, reseal) => {
          const bytes = Uint8Array.from(mutate(segment, mutations));
          if (reseal && bytes.length >= 4) {
            new DataView(bytes.buffer).setUint32(
              bytes.length - 4,
              crc32c(bytes.subarray(0, bytes.length - 4)),
            );
          }
          expectOnlyCorruptErrors(() => {
            for (const e of decodeSegment(bytes).index) {
              expect(e.position + e.length).toBeLessThanOrEqual(bytes.length);
              splitBatches(bytes.subarray(e.position, e.position + e.length));
            }
          });
        },
      ),
      { numRuns: 2000, seed: 7 },
    );
  });
});
