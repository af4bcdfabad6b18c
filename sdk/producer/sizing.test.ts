/**
 * Batch and request sizing (issue 12 §3), as properties over record sizes, counts, codecs
 * and limits: every batch fits its topic's `max.message.bytes` once compressed, records
 * keep their order, idempotent sequences stay contiguous across the batches of a
 * partition, estimates never fall below what is sent, and a record too large alone is
 * named.
 */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Compression, decodeBatch, encodeBatch, type RecordInput } from '../../core/records/index.js';
import { parseProduceFrames } from '../../core/wire.js';
import { RecordTooLargeError } from '../errors.js';
import { buildRequest, type Job, type QueuedRecord, recordTooLarge, tpKey } from './request.js';
import { aloneBytes, BATCH_OVERHEAD, cutBatches, RequestEstimate, recordBound } from './sizing.js';

const NOW = 1_700_000_000_000;
const codecs = [Compression.None, Compression.Gzip, Compression.Snappy, Compression.Lz4, Compression.Zstd];

/** Bytes that compress well, or not at all (random), so codecs may shrink or grow a batch. */
const bytesArb = (max: number) =>
  fc
    .tuple(fc.nat({ max }), fc.boolean(), fc.integer({ min: 0, max: 255 }))
    .map(([n, random, fill]) => (random ? new Uint8Array(randomBytes(n)) : new Uint8Array(n).fill(fill)));

const recordArb = (maxValue: number): fc.Arbitrary<RecordInput> =>
  fc.record({
    key: fc.option(bytesArb(40), { nil: null }),
    value: fc.option(bytesArb(maxValue), { nil: null }),
    headers: fc.array(
      fc.record({ key: fc.string({ maxLength: 8 }), value: fc.option(bytesArb(20), { nil: null }) }),
      { maxLength: 3 },
    ),
    timestamp: fc.integer({ min: NOW - 1_000_000, max: NOW + 1_000_000 }),
  });

const text = (b: Uint8Array | null | undefined) => (b ? Buffer.from(b).toString('hex') : b);
const pair = (r: { key?: Uint8Array | null; value?: Uint8Array | null }) => [
  text(r.key ?? null),
  text(r.value ?? null),
];

describe('recordBound', () => {
  it('is never below what records take in an uncompressed batch', () => {
    fc.assert(
      fc.property(fc.array(recordArb(3000), { minLength: 1, maxLength: 20 }), (records) => {
        const bytes = encodeBatch(records, { now: NOW }).length;
        expect(bytes).toBeLessThanOrEqual(BATCH_OVERHEAD + records.reduce((n, r) => n + recordBound(r), 0));
      }),
    );
  });

  it('aloneBytes, when it does not encode, is never below the record compressed alone', () => {
    fc.assert(
      fc.property(recordArb(20_000), fc.constantFrom(...codecs), (record, compression) => {
        const most = aloneBytes(record, compression, Number.MAX_SAFE_INTEGER, NOW);
        expect(encodeBatch([record], { compression, now: NOW }).length).toBeLessThanOrEqual(most);
      }),
      { numRuns: 60 },
    );
  });
});

describe('cutBatches', () => {
  it('cuts any records into batches under the limit, in order, with contiguous sequences', () => {
    fc.assert(
      fc.property(
        fc.array(recordArb(1500), { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1024, max: 6000 }),
        fc.constantFrom(...codecs),
        fc.integer({ min: 0, max: 0x7fffffff }),
        (records, limit, compression, firstSequence) => {
          let encodes = 0;
          const encode = (from: number, to: number) => {
            encodes++;
            return encodeBatch(records.slice(from, to), {
              compression,
              now: NOW,
              producerId: 7n,
              producerEpoch: 1,
              baseSequence: (firstSequence + from) % 0x80000000,
            });
          };
          const tooLarge: number[] = [];
          let batches: Uint8Array[] = [];
          try {
            batches = cutBatches(records, NOW, limit, encode, (i, bytes) => {
              tooLarge.push(i);
              return new Error(`record ${i} is ${bytes} bytes`);
            });
          } catch {
            // Only a record that does not fit alone stops the cut, and it is the one named.
            const i = tooLarge[0]!;
            expect(encodeBatch([records[i]!], { compression, now: NOW }).length).toBeGreaterThan(limit);
            return;
          }
          let seq = firstSequence;
          const out = batches.flatMap((b) => {
            expect(b.length).toBeLessThanOrEqual(limit);
            const { header, records: got } = decodeBatch(b);
            expect(header.baseSequence).toBe(seq);
            expect(header.compression).toBe(compression);
            seq = (seq + got.length) % 0x80000000;
            return got;
          });
          expect(out).toHaveLength(records.length);
          // Uncompressed, sizes are exact: each batch is encoded once, and filled (the next
          // record would not have fit).
          if (compression === Compression.None) {
            expect(encodes).toBe(batches.length);
            let first = 0;
            for (const b of batches.slice(0, -1)) {
              const n = decodeBatch(b).records.length;
              expect(encodeBatch(records.slice(first, first + n + 1), { now: NOW }).length).toBeGreaterThan(
                limit,
              );
              first += n;
            }
          }
          expect(out.map(pair)).toEqual(records.map(pair));
        },
      ),
      { numRuns: 150 },
    );
  });

  it('packs small records greedily: the issue case, 8 records of 300 bytes at 1024, is 3 batches', () => {
    const records = Array.from({ length: 8 }, () => ({ value: new Uint8Array(300).fill(120) }));
    const batches = cutBatches(
      records,
      NOW,
      1024,
      (from, to) => encodeBatch(records.slice(from, to), { now: NOW }),
      () => new Error('unexpected'),
    );
    expect(batches.map((b) => decodeBatch(b).records.length)).toEqual([3, 3, 2]);
    for (const b of batches) expect(b.length).toBeLessThanOrEqual(1024);
  });
});

describe('buildRequest', () => {
  const topics = [
    { topic: 'a', partitions: 2, limit: 1024 },
    { topic: 'bb', partitions: 1, limit: 3000 },
  ];
  const queued = (t: number, partition: number, record: RecordInput, index: number): QueuedRecord => ({
    topic: topics[t]!.topic,
    partition,
    record,
    size: recordBound(record),
    limit: topics[t]!.limit,
    index,
    topicIndex: 0,
  });
  const jobArb = fc.tuple(
    fc.array(fc.tuple(fc.integer({ min: 0, max: 1 }), fc.integer({ min: 0, max: 1 }), recordArb(800)), {
      minLength: 1,
      maxLength: 15,
    }),
    fc.constantFrom(...codecs),
  );

  it('frames every job in order per partition, batches under each topic limit, sequences from the identity on', () => {
    fc.assert(
      fc.property(fc.array(jobArb, { minLength: 1, maxLength: 5 }), (specs) => {
        const jobs: Job[] = specs.map(([rs, compression]) => {
          const records = rs.map(([t, p, r], i) => queued(t, p % topics[t]!.partitions, r, i));
          return {
            records,
            partitions: new Set(records.map((r) => tpKey(r.topic, r.partition))),
            bytes: 0,
            compression,
            at: 0,
            alone: false,
            resolve: () => {},
            reject: () => {},
          };
        });
        const identity = { producerId: 9n, epoch: 2, sequences: new Map([[tpKey('a', 1), 0x7ffffffe]]) };
        const estimate = new RequestEstimate();
        for (const j of jobs) for (const r of j.records) estimate.add(r.topic, r.partition, r.limit, r.size);
        const { body, runs } = buildRequest(jobs, identity, NOW);
        const uncompressed = jobs.every((j) => j.compression === Compression.None);
        if (uncompressed) expect(body.length).toBeLessThanOrEqual(estimate.bytes);
        // What each partition should receive, in job order.
        const expected = new Map<string, RecordInput[]>();
        for (const j of jobs)
          for (const r of j.records) {
            const k = tpKey(r.topic, r.partition);
            expected.set(k, [...(expected.get(k) ?? []), r.record]);
          }
        const got = new Map<string, { key: Uint8Array | null; value: Uint8Array | null }[]>();
        const next = new Map<string, number>();
        for (const f of parseProduceFrames(body)) {
          const k = tpKey(f.topic, f.partition);
          const limit = topics.find((t) => t.topic === f.topic)!.limit;
          expect(f.batch.bytes.length).toBeLessThanOrEqual(limit);
          const { header, records } = decodeBatch(f.batch);
          expect(header.producerId).toBe(9n);
          expect(header.baseSequence).toBe(next.get(k) ?? identity.sequences.get(k) ?? 0);
          next.set(k, (header.baseSequence + records.length) % 0x80000000);
          got.set(k, [...(got.get(k) ?? []), ...records]);
        }
        expect([...got.keys()].sort()).toEqual([...expected.keys()].sort());
        for (const [k, want] of expected) {
          const have = got.get(k)!;
          expect(have).toHaveLength(want.length);
          expect(have.map(pair)).toEqual(want.map(pair));
          expect(runs.find((r) => r.key === k)!.count).toBe(want.length);
        }
      }),
      { numRuns: 80 },
    );
  });

  it('names a record over its limit alone with a RecordTooLargeError', () => {
    const r = queued(0, 0, { value: new Uint8Array(2000) }, 4);
    const err = recordTooLarge({ ...r, batch: true, topicIndex: 1 }, 2070);
    expect(err).toBeInstanceOf(RecordTooLargeError);
    expect(err.message).toContain('topicMessages[1].messages[4]');
    expect(err).toMatchObject({
      topic: 'a',
      partition: 0,
      index: 4,
      topicIndex: 1,
      bytes: 2070,
      limit: 1024,
    });
  });
});
