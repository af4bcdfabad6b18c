/**
 * The fetch function: `GET /v1/fetch` (one partition, JSON), `POST /v1/fetch` (many
 * partitions, JSON or binary frames), `GET /v1/offsets`. Read-only: its role cannot write.
 */
import { z } from 'zod';
import { DEFAULT_MAX_BYTES, MAX_WAIT_MS, type PartitionBatches } from '../core/fetch.js';
import { BATCHES_CONTENT_TYPE, encodeFetchFrames } from '../core/wire.js';
import { contextHooks, getContext, type SluiceContext } from './context.js';
import { asSluiceError, errorBody, lambdaHandler, parseJson, parseQuery, type Route } from './http.js';
import { type Encoding, recordToJson } from './json-records.js';
import { metadataRoute } from './metadata.js';

/** Fits a fetch response in Lambda's 6 MB response limit, base64 included. */
export const MAX_FETCH_BYTES = 4 * 1024 * 1024;

const int = (name: string, min: number, max: number) =>
  z
    .string()
    .regex(/^-?\d+$/, `${name} must be an integer`)
    .transform(Number)
    .refine((n) => Number.isSafeInteger(n) && n >= min && n <= max, `${name} must be from ${min} to ${max}`);

const fetchQuery = z.object({
  topic: z.string().min(1),
  partition: int('partition', 0, 9_999),
  offset: int('offset', -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER),
  maxBytes: int('maxBytes', 1, MAX_FETCH_BYTES).optional(),
  maxRecords: int('maxRecords', 1, 1_000_000).optional(),
  maxWaitMs: int('maxWaitMs', 0, MAX_WAIT_MS).optional(),
  encoding: z.enum(['utf8', 'base64']).optional(),
});

const fetchBody = z.object({
  partitions: z
    .array(
      z.object({
        topic: z.string().min(1),
        partition: z.number().int().min(0).max(9_999),
        offset: z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER),
      }),
    )
    .min(1)
    .max(1000),
  maxBytes: z.number().int().min(1).max(MAX_FETCH_BYTES).optional(),
  maxRecords: z.number().int().min(1).max(1_000_000).optional(),
  maxWaitMs: z.number().int().min(0).max(MAX_WAIT_MS).optional(),
  encoding: z.enum(['utf8', 'base64']).optional(),
});

const offsetsQuery = z.object({
  topic: z.string().min(1),
  partition: int('partition', 0, 9_999),
  at: z.union([z.enum(['earliest', 'latest']), int('at', 0, 8.64e15)]),
});

export function fetchRoutes(ctx: SluiceContext): Route[] {
  return [
    metadataRoute(ctx),
    {
      method: 'GET',
      path: '/v1/fetch',
      async handle(req) {
        const q = parseQuery(req, fetchQuery);
        const result = await ctx.reader.fetchRecords(q.topic, q.partition, q.offset, q);
        return { status: 200, body: recordsJson(ctx, result, q.encoding ?? 'utf8') };
      },
    },
    {
      method: 'POST',
      path: '/v1/fetch',
      async handle(req) {
        const body = parseJson(req, fetchBody);
        const binary = (req.headers.accept ?? '').includes(BATCHES_CONTENT_TYPE);
        const maxBytes = body.maxBytes ?? DEFAULT_MAX_BYTES;
        const perPartition = Math.max(1, Math.ceil(maxBytes / body.partitions.length));
        const deadline = ctx.clock.now() + (body.maxWaitMs ?? 0);
        for (;;) {
          const results = await Promise.all(
            body.partitions.map(async (p) => {
              try {
                return await ctx.reader.fetchBatches(p.topic, p.partition, p.offset, {
                  maxBytes: perPartition,
                });
              } catch (err) {
                const error = asSluiceError(err);
                if (!error) throw err;
                return { topic: p.topic, partition: p.partition, error };
              }
            }),
          );
          const ok = results.filter((r): r is PartitionBatches => !('error' in r));
          const empty = ok.every((r) => r.batches.length === 0) && ok.length === results.length;
          if (!empty || ctx.clock.now() >= deadline) {
            trimToBudget(ok, maxBytes);
            if (binary) {
              const errors = results.filter((r) => 'error' in r);
              return {
                status: 200,
                headers: {
                  'content-type': BATCHES_CONTENT_TYPE,
                  ...(errors.length > 0 && {
                    'x-sluice-partition-errors': JSON.stringify(errors.map(errorJson)),
                  }),
                },
                body: encodeFetchFrames(ok),
              };
            }
            return {
              status: 200,
              body: {
                partitions: results.map((r, i) =>
                  'error' in r
                    ? errorJson(r)
                    : recordsJson(
                        ctx,
                        ctx.reader.toRecords(r, body.partitions[i]!.offset, { maxRecords: body.maxRecords }),
                        body.encoding ?? 'utf8',
                      ),
                ),
              },
            };
          }
          await ctx.clock.sleep(Math.min(200, Math.max(0, deadline - ctx.clock.now())));
        }
      },
    },
    {
      method: 'GET',
      path: '/v1/offsets',
      async handle(req) {
        const q = parseQuery(req, offsetsQuery);
        const found = await ctx.reader.listOffset(q.topic, q.partition, q.at);
        return { status: 200, body: { topic: q.topic, partition: q.partition, ...found } };
      },
    },
  ];
}

function errorJson(r: {
  topic: string;
  partition: number;
  error: { code: string; message: string; retriable: boolean };
}) {
  return {
    topic: r.topic,
    partition: r.partition,
    ...errorBody(r.error.code, r.error.message, r.error.retriable),
  };
}

/** Drops batches past the response budget; the first partition with data keeps one. */
function trimToBudget(results: PartitionBatches[], maxBytes: number): void {
  let used = 0;
  for (const r of results) {
    const kept = [];
    for (const b of r.batches) {
      if (used > 0 && used + b.bytes.length > maxBytes) break;
      kept.push(b);
      used += b.bytes.length;
    }
    r.batches = kept;
  }
}

function recordsJson(
  ctx: SluiceContext,
  r: Awaited<ReturnType<SluiceContext['reader']['fetchRecords']>>,
  encoding: Encoding,
) {
  let bytes = 0;
  const records = r.records.map((rec) => {
    bytes += (rec.key?.length ?? 0) + (rec.value?.length ?? 0);
    return recordToJson(rec, encoding);
  });
  ctx.telemetry.count(r.topic, 'BytesOut', bytes);
  ctx.telemetry.count(r.topic, 'RecordsOut', records.length);
  return {
    topic: r.topic,
    partition: r.partition,
    highWatermark: r.highWatermark,
    logStartOffset: r.logStartOffset,
    nextOffset: r.nextOffset,
    records,
  };
}

/** The Lambda entry point. */
export const handler = lambdaHandler(async () => fetchRoutes(await getContext()), contextHooks);
