/**
 * Every fetch result fits Lambda's response limit (the whole result document, base64 and
 * JSON escaping included), whatever the records: property tests over record sizes, counts,
 * characters that escape, codecs and encodings, with a shrunken limit so that they run fast;
 * then the real limit against the case that broke it (many small compressed records).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../core/clock.js';
import { Compression, decodeBatch, encodeBatch, splitBatches } from '../core/records/index.js';
import { parseFetchFrames } from '../core/wire.js';
import { MemoryMetaStore, MemoryObjectStore } from '../storage/memory.js';
import { createContext } from './context.js';
import { fetchRoutes } from './fetch.js';
import { lambdaHandler, rawBody, toEvent, toResult } from './http.js';
import {
  bodyJsonBytes,
  LAMBDA_PAYLOAD_BYTES,
  MAX_RESPONSE_BYTES,
  requestBodyEventBytes,
  requestBodyEventBytesBound,
  resultBytes,
} from './response-size.js';

const enc = new TextEncoder();
const endpoints = { produce: 'p', fetch: 'f', admin: 'a', groups: 'g' };

function setup(maxResponseBytes?: number) {
  const stores = { meta: new MemoryMetaStore(), objects: new MemoryObjectStore() };
  const ctx = createContext(stores, {
    clock: new ManualClock(1_700_000_000_000, { autoAdvance: true }),
    endpoints,
    env: {},
  });
  const handler = lambdaHandler(fetchRoutes(ctx, { maxResponseBytes }), { maxResponseBytes });
  return { ctx, handler };
}

/** What Lambda measures: the result document as JSON. */
const documentBytes = (result: unknown) => Buffer.byteLength(JSON.stringify(result), 'utf8');

const valueChars = fc.constantFrom('a', '"', '\\', '\n', 'é', '😀', '\u2028', '<');
const record = fc.record({
  key: fc.option(fc.string({ unit: valueChars, maxLength: 40 }), { nil: null }),
  value: fc.option(fc.string({ unit: valueChars, maxLength: 3_000 }), { nil: null }),
  header: fc.option(fc.string({ unit: valueChars, maxLength: 50 }), { nil: undefined }),
});
type RecordSpec = typeof record extends fc.Arbitrary<infer T> ? T : never;
const batch = fc.record({
  records: fc.array(record, { minLength: 1, maxLength: 60 }),
  compression: fc.constantFrom(Compression.None, Compression.Gzip, Compression.Zstd),
});

type BatchSpec = typeof batch extends fc.Arbitrary<infer T> ? T : never;

async function append(
  ctx: ReturnType<typeof setup>['ctx'],
  topic: string,
  partition: number,
  batches: BatchSpec[],
) {
  for (const b of batches) {
    const bytes = encodeBatch(
      b.records.map((r) => ({
        key: r.key === null ? null : enc.encode(r.key),
        value: r.value === null ? null : enc.encode(r.value),
        headers: r.header === undefined ? [] : [{ key: 'h', value: enc.encode(r.header) }],
      })),
      { compression: b.compression, now: 1 },
    );
    await ctx.appender.append([{ topic, partition, batches: splitBatches(bytes) }]);
  }
}

/** The JSON a record is answered as, to tell whether it could fit a response on its own. */
function jsonOf(r: RecordSpec, offset: number, encoding: 'utf8' | 'base64') {
  const e = (x: string | null | undefined) =>
    x === null || x === undefined ? x : encoding === 'utf8' ? x : Buffer.from(x).toString('base64');
  return {
    offset,
    timestamp: 1,
    key: e(r.key),
    value: e(r.value),
    headers: r.header === undefined ? {} : { h: e(r.header) },
  };
}

const decoded = (v: string | null, encoding: string) =>
  v === null || encoding === 'utf8' ? v : Buffer.from(v, 'base64').toString();

describe('fetch responses fit the Lambda response limit', () => {
  it('GET /v1/fetch (JSON): every page fits, every record is read once, in order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(batch, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 6_000, max: 40_000 }),
        fc.constantFrom('utf8' as const, 'base64' as const),
        async (batches, limit, encoding) => {
          const { ctx, handler } = setup(limit);
          await ctx.topics.create('t', 1);
          await append(ctx, 't', 0, batches);
          const inputs = batches.flatMap((b) => b.records);
          const seen: (string | null)[] = [];
          let offset = 0;
          while (offset < inputs.length) {
            const res = await handler(
              toEvent({
                method: 'GET',
                url: `/v1/fetch?topic=t&partition=0&offset=${offset}&encoding=${encoding}`,
              }),
            );
            expect(documentBytes(res)).toBeLessThanOrEqual(limit);
            const body = JSON.parse(res.body!);
            if (res.statusCode === 413) {
              // Only a record too large for any response is refused, and it is named.
              expect(body.error.code).toBe('MESSAGE_TOO_LARGE');
              expect(body.error.message).toContain(`offset ${offset} `);
              expect(bodyJsonBytes(jsonOf(inputs[offset]!, offset, encoding))).toBeGreaterThan(limit - 2048);
              seen.push(inputs[offset]!.value);
              offset++;
              continue;
            }
            expect(res.statusCode).toBe(200);
            expect(body.nextOffset).toBeGreaterThan(offset);
            for (const r of body.records) {
              expect(r.offset).toBe(seen.length);
              seen.push(decoded(r.value, encoding));
            }
            expect(body.records.length).toBe(body.nextOffset - offset);
            offset = body.nextOffset;
          }
          expect(seen).toEqual(inputs.map((r) => r.value));
        },
      ),
      { numRuns: 40 },
    );
  });

  it('POST /v1/fetch (JSON and binary): every answer fits, partitions share the budget', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(batch, { maxLength: 3 }), { minLength: 1, maxLength: 4 }),
        fc.integer({ min: 6_000, max: 40_000 }),
        fc.boolean(),
        async (partitions, limit, binary) => {
          const { ctx, handler } = setup(limit);
          await ctx.topics.create('t', partitions.length);
          const inputs: (string | null)[][] = [];
          for (const [p, batches] of partitions.entries()) {
            await append(ctx, 't', p, batches);
            inputs.push(batches.flatMap((b) => b.records.map((r) => r.value)));
          }
          const seen: (string | null)[][] = partitions.map(() => []);
          const offsets = partitions.map(() => 0);
          for (let round = 0; offsets.some((o, p) => o < inputs[p]!.length); round++) {
            expect(round).toBeLessThan(1000);
            const res = await handler(
              toEvent({
                method: 'POST',
                url: '/v1/fetch',
                headers: {
                  'content-type': 'application/json',
                  ...(binary ? { accept: 'application/vnd.sluice.batches' } : {}),
                },
                body: enc.encode(
                  JSON.stringify({
                    partitions: offsets.map((offset, partition) => ({ topic: 't', partition, offset })),
                  }),
                ),
              }),
            );
            expect(res.statusCode).toBe(200);
            expect(documentBytes(res)).toBeLessThanOrEqual(limit);
            const before = [...offsets];
            if (binary) {
              const errors = JSON.parse(String(res.headers?.['x-sluice-partition-errors'] ?? '[]'));
              for (const e of errors) {
                expect(e.error.code).toBe('MESSAGE_TOO_LARGE');
                // Skip what cannot be carried: a batch larger than a response.
                offsets[e.partition] = inputs[e.partition]!.length;
                seen[e.partition] = inputs[e.partition]!;
              }
              for (const frame of parseFetchFrames(Buffer.from(res.body!, 'base64'))) {
                for (const b of frame.batches) {
                  for (const r of decodeBatch(b.bytes).records) {
                    if (r.offset < offsets[frame.partition]!) continue;
                    seen[frame.partition]!.push(r.value === null ? null : Buffer.from(r.value).toString());
                    offsets[frame.partition] = r.offset + 1;
                  }
                }
              }
            } else {
              for (const part of JSON.parse(res.body!).partitions) {
                if (part.error) {
                  expect(part.error.code).toBe('MESSAGE_TOO_LARGE');
                  seen[part.partition]!.push(inputs[part.partition]![offsets[part.partition]!]!);
                  offsets[part.partition]!++;
                  continue;
                }
                for (const r of part.records) seen[part.partition]!.push(r.value);
                offsets[part.partition] = part.nextOffset;
              }
            }
            // Progress on every round, or the consumer would be stuck on this offset.
            expect(
              offsets.some((o, p) => o > before[p]!) || offsets.every((o, p) => o >= inputs[p]!.length),
            ).toBe(true);
          }
          expect(seen).toEqual(inputs);
        },
      ),
      { numRuns: 40 },
    );
  });

  it('many small compressed records read as JSON fit the real limit (they made 27.5 MB)', async () => {
    const { ctx, handler } = setup();
    await ctx.topics.create('small', 1);
    const n = 50_000;
    for (let b = 0; b < 2; b++) {
      const bytes = encodeBatch(
        Array.from({ length: n }, (_, i) => ({ key: enc.encode(`k${i}`), value: enc.encode(`"v${i}"`) })),
        { compression: Compression.Zstd, now: 1 },
      );
      await ctx.appender.append([{ topic: 'small', partition: 0, batches: splitBatches(bytes) }]);
    }
    let offset = 0;
    let pages = 0;
    while (offset < 2 * n) {
      const res = await handler(
        toEvent({ method: 'GET', url: `/v1/fetch?topic=small&partition=0&offset=${offset}` }),
      );
      expect(res.statusCode).toBe(200);
      const size = documentBytes(res);
      expect(size).toBeLessThanOrEqual(LAMBDA_PAYLOAD_BYTES);
      const body = JSON.parse(res.body!);
      expect(body.records[0].offset).toBe(offset);
      offset = body.nextOffset;
      pages++;
    }
    expect(pages).toBeGreaterThan(1);
  });

  it('a result too large for Lambda becomes RESPONSE_TOO_LARGE, not a 502', async () => {
    const errors: unknown[] = [];
    const handler = lambdaHandler(
      [
        {
          method: 'GET',
          path: '/big',
          handle: async () => ({ status: 200, body: { x: 'y'.repeat(MAX_RESPONSE_BYTES) } }),
        },
      ],
      { onError: (err) => errors.push(err) },
    );
    const res = await handler(toEvent({ method: 'GET', url: '/big' }));
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body!).error).toMatchObject({ code: 'RESPONSE_TOO_LARGE', retriable: false });
    expect(errors).toHaveLength(1);
    const bytes = lambdaHandler([
      { method: 'GET', path: '/big', handle: async () => ({ status: 200, body: new Uint8Array(4_800_000) }) },
    ]);
    // 4.8 MB of bytes is 6.4 MB once base64-encoded.
    expect((await bytes(toEvent({ method: 'GET', url: '/big' }))).statusCode).toBe(500);
  });
});

describe('sizes without encoding', () => {
  it('a binary result is sized from its raw length, never base64-encoding the body', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), fc.string(), (bytes, etag) => {
        const result = toResult({ status: 200, headers: { etag }, body: bytes });
        const encoded = JSON.stringify({ ...result, body: '' });
        let reads = 0;
        const body = Object.getOwnPropertyDescriptor(result, 'body')!;
        Object.defineProperty(result, 'body', {
          enumerable: true,
          get: () => {
            reads++;
            return body.get!();
          },
        });
        const size = resultBytes(result, bytes.length);
        expect(reads).toBe(0);
        expect(rawBody(result)).toBe(bytes);
        // What Lambda would serialise: the same document with the base64 body.
        expect(size).toBe(Buffer.byteLength(encoded, 'utf8') + Buffer.from(bytes).toString('base64').length);
      }),
    );
  });

  it('the bound on a request body in the event is never below its exact size', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 512 }),
          fc.string({ unit: 'binary', maxLength: 256 }).map((t) => enc.encode(t)),
        ),
        fc.constantFrom('application/json', 'text/plain', 'application/octet-stream', undefined),
        (body, type) => {
          expect(requestBodyEventBytesBound(body.length)).toBeGreaterThanOrEqual(
            requestBodyEventBytes(body, type),
          );
        },
      ),
    );
  });
});
