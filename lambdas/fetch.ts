/**
 * The fetch function: `GET /v1/fetch` (one partition, JSON), `POST /v1/fetch` (many
 * partitions, JSON or binary frames), `GET /v1/offsets`. Read-only: its role cannot write.
 */
import * as z from 'zod';
import { SluiceError } from '../core/errors.js';
import { DEFAULT_MAX_BYTES, MAX_WAIT_MS, type PartitionBatches, type ReadHead } from '../core/fetch.js';
import { readHeads } from '../core/heads.js';
import type { DeflatedBatch } from '../core/records/index.js';
import type { TopicMeta } from '../core/topics.js';
import { BATCHES_CONTENT_TYPE, fetchFrameChunks } from '../core/wire.js';
import { ChunkedBody } from './chunked-body.js';
import { contextHooks, getContext, type SluiceContext } from './context.js';
import { asSluiceError, errorBody, lambdaHandler, parseJson, parseQuery, type Route } from './http.js';
import { type Encoding, recordToJson } from './json-records.js';
import { metadataRoute } from './metadata.js';
import { bodyJsonBytes, escapedBytes, MAX_RESPONSE_BYTES, ResponseBudget } from './response-size.js';

/**
 * The partitions whose requested offset is their high watermark, answered without data:
 * one BatchGetItem of their heads (strongly consistent) instead of a read per partition,
 * and each topic looked up once. An idle consumer's poll costs this and nothing more.
 * Anything else (data to read, an unknown topic, an offset out of range, a failed read,
 * a large transaction's pending commit on the head) is left to the full path, which answers it as before;
 * a partition with data to read hands the full path the head read here (`head`), so the
 * request reads it once, not twice.
 */
async function atHighWatermark(
  ctx: SluiceContext,
  partitions: readonly { topic: string; partition: number; offset: number; topicId?: string }[],
): Promise<{ empty?: PartitionBatches; head?: ReadHead }[]> {
  try {
    const topics = new Map<string, TopicMeta | undefined>();
    for (const p of partitions) {
      if (topics.has(p.topic)) continue;
      topics.set(p.topic, await ctx.topics.get(p.topic).catch(() => undefined));
    }
    const known = partitions.filter((p) => {
      const t = topics.get(p.topic);
      // Another incarnation than the one asked for is the full path's to answer.
      return t !== undefined && p.partition < t.partitions && (p.topicId ?? t.id) === t.id;
    });
    if (known.length === 0) return partitions.map(() => ({}));
    const heads = await readHeads(
      ctx.meta,
      known.map((p) => ({ topicId: topics.get(p.topic)!.id, partition: p.partition })),
    );
    const byPartition = new Map(known.map((p, i) => [p, heads[i]!]));
    return partitions.map((p) => {
      const head = byPartition.get(p);
      // A tombstone (a deleted topic, still cached) is the full path's to answer too, and so
      // is a head carrying a large transaction's pending-commit markers (DESIGN.md §13).
      if (!head || head.data.deleted || head.data.x) return {};
      const topicId = topics.get(p.topic)!.id;
      if (p.offset !== head.data.next) return { head: { topicId, head } };
      return {
        empty: {
          topic: p.topic,
          topicId,
          partition: p.partition,
          highWatermark: head.data.next,
          logStartOffset: head.data.start,
          batches: [],
        },
      };
    });
  } catch {
    return partitions.map(() => ({}));
  }
}

/** Fits a fetch response in Lambda's 6 MB response limit, base64 included. */
export const MAX_FETCH_BYTES = 4 * 1024 * 1024;

/** Room kept for the result document around the body: status, headers, quotes. */
const ENVELOPE_BYTES = 1024;

export interface FetchRouteOptions {
  /**
   * The largest result document (bytes): JSON fetches stop adding records before it,
   * binary ones stop adding batches. Default {@link MAX_RESPONSE_BYTES}; tests shrink it.
   */
  maxResponseBytes?: number;
  /** The longest a fetch waits for data (ms); a request's `maxWaitMs` is cut to it. Default MAX_WAIT_MS. */
  maxWaitMs?: number;
}

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
  topicId: z.string().min(1).max(64).optional(),
});

const fetchBody = z.strictObject({
  partitions: z
    .array(
      z.strictObject({
        topic: z.string().min(1),
        partition: z.number().int().min(0).max(9_999),
        offset: z.number().int().min(-Number.MAX_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER),
        topicId: z.string().min(1).max(64).optional(),
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
  topicId: z.string().min(1).max(64).optional(),
});

export function fetchRoutes(ctx: SluiceContext, options: FetchRouteOptions = {}): Route[] {
  const limit = (options.maxResponseBytes ?? MAX_RESPONSE_BYTES) - ENVELOPE_BYTES;
  const waitCap = options.maxWaitMs ?? MAX_WAIT_MS;
  return [
    metadataRoute(ctx),
    {
      method: 'GET',
      path: '/v1/fetch',
      async handle(req) {
        const q = parseQuery(req, fetchQuery);
        const result = await ctx.reader.fetchRecords(q.topic, q.partition, q.offset, {
          ...q,
          maxWaitMs: Math.min(q.maxWaitMs ?? 0, waitCap),
        });
        const budget = new ResponseBudget(limit - envelopeBytes(result));
        return { status: 200, body: recordsJson(ctx, result, q.offset, q.encoding ?? 'utf8', budget) };
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
        const deadline = ctx.clock.now() + Math.min(body.maxWaitMs ?? 0, waitCap);
        for (;;) {
          const idle = await atHighWatermark(ctx, body.partitions);
          const results = await Promise.all(
            body.partitions.map(async (p, i) => {
              const { empty, head } = idle[i]!;
              if (empty) return empty;
              try {
                return await ctx.reader.fetchBatches(p.topic, p.partition, p.offset, {
                  maxBytes: perPartition,
                  ...(p.topicId !== undefined && { topicId: p.topicId }),
                  ...(head && { head }),
                });
              } catch (err) {
                const error = asSluiceError(err);
                // A fault of the deployment fails the request (a 5xx that alarms), not one partition.
                if (!error || error.code === 'STORAGE_MISCONFIGURED') throw err;
                return { topic: p.topic, partition: p.partition, error };
              }
            }),
          );
          const ok = results.filter((r): r is PartitionBatches => !('error' in r));
          const empty = ok.every((r) => r.batches.length === 0) && ok.length === results.length;
          if (!empty || ctx.clock.now() >= deadline) {
            if (binary) {
              const errors: { topic: string; partition: number; error: SluiceError }[] = results.filter(
                (r) => 'error' in r,
              );
              const kept = trimToBudget(ok, maxBytes, binaryRoom(limit, ok, errors));
              for (const r of ok.filter((r) => !kept.includes(r))) {
                errors.push({
                  topic: r.topic,
                  partition: r.partition,
                  error: tooLargeForResponse(r.batches[0]!),
                });
              }
              return {
                status: 200,
                headers: {
                  'content-type': BATCHES_CONTENT_TYPE,
                  ...(errors.length > 0 && {
                    'x-sluice-partition-errors': JSON.stringify(errors.map(errorJson)),
                  }),
                  ...(ok.length > 0 && { 'x-sluice-topic-ids': JSON.stringify(topicIds(ok)) }),
                },
                // The batches' bytes as read (views), not copied into one buffer (DESIGN.md §20).
                body: new ChunkedBody(fetchFrameChunks(kept)),
              };
            }
            trimToBudget(ok, maxBytes, Number.POSITIVE_INFINITY);
            // Every partition's envelope (or error) is reserved first; records share the rest.
            const envelopes = results.reduce(
              (n, r) => n + 1 + ('error' in r ? bodyJsonBytes(errorJson(r)) : envelopeBytes(r)),
              bodyJsonBytes({ partitions: [] }),
            );
            const budget = new ResponseBudget(limit - envelopes);
            const partitions = results.map((r, i) => {
              if ('error' in r) return errorJson(r);
              const offset = body.partitions[i]!.offset;
              try {
                return recordsJson(
                  ctx,
                  ctx.reader.toRecords(r, offset, { maxRecords: body.maxRecords }),
                  offset,
                  body.encoding ?? 'utf8',
                  budget,
                );
              } catch (err) {
                if (!(err instanceof SluiceError)) throw err;
                return errorJson({ topic: r.topic, partition: r.partition, error: err });
              }
            });
            return { status: 200, body: { partitions } };
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
        const found = await ctx.reader.listOffset(
          q.topic,
          q.partition,
          q.at,
          q.topicId !== undefined ? { topicId: q.topicId } : {},
        );
        return { status: 200, body: { topic: q.topic, partition: q.partition, ...found } };
      },
    },
  ];
}

/** The topic id of each topic answered: `{ [topic]: id }`, for a binary response's header. */
function topicIds(results: readonly PartitionBatches[]): Record<string, string> {
  return Object.fromEntries(results.map((r) => [r.topic, r.topicId]));
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

/**
 * Drops batches past `maxBytes` (the first partition with data keeps one however large)
 * and past `room` (a hard limit: what a response can carry). Answers the partitions kept;
 * a partition left out still has its batches, the first of which is too large for any
 * response.
 */
function trimToBudget(results: PartitionBatches[], maxBytes: number, room: number): PartitionBatches[] {
  let used = 0;
  const fitting: PartitionBatches[] = [];
  for (const r of results) {
    const kept = [];
    for (const b of r.batches) {
      if (used + b.bytes.length > room || (used > 0 && used + b.bytes.length > maxBytes)) break;
      kept.push(b);
      used += b.bytes.length;
    }
    if (kept.length === 0 && r.batches.length > 0 && used === 0) continue;
    r.batches = kept;
    fitting.push(r);
  }
  return fitting;
}

/** Raw batch bytes a binary response can carry once base64-encoded, beside its frame headers. */
function binaryRoom(
  limit: number,
  ok: readonly PartitionBatches[],
  errors: readonly { topic: string; partition: number; error: SluiceError }[],
): number {
  const frames = ok.reduce((n, r) => n + 2 + Buffer.byteLength(r.topic) + 24, 0);
  // Partitions moved to the errors header (at most all of them) stay within this allowance.
  const header = escapedBytes(
    JSON.stringify(
      [
        ...errors,
        ...ok.map((r) => ({ topic: r.topic, partition: r.partition, error: TOO_LARGE_SAMPLE })),
      ].map(errorJson),
    ),
  );
  const ids = ok.length > 0 ? escapedBytes(JSON.stringify(topicIds(ok))) : 0;
  const room = Math.floor(((limit - header - ids) * 3) / 4) - frames;
  return Math.max(0, room);
}

const TOO_LARGE_SAMPLE = new SluiceError(
  'MESSAGE_TOO_LARGE',
  tooLargeMessage(Number.MAX_SAFE_INTEGER, 99_999_999),
);

function tooLargeMessage(offset: number, bytes: number): string {
  return `the batch at offset ${offset} is ${bytes} bytes: more than a Lambda response can carry`;
}

function tooLargeForResponse(batch: DeflatedBatch): SluiceError {
  return new SluiceError('MESSAGE_TOO_LARGE', tooLargeMessage(batch.header.baseOffset, batch.bytes.length));
}

/**
 * Bytes reserved for a partition's JSON without its records: the envelope with the
 * longest `nextOffset`, or the MESSAGE_TOO_LARGE error that may replace it.
 */
function envelopeBytes(r: {
  topic: string;
  topicId: string;
  partition: number;
  highWatermark: number;
  logStartOffset: number;
}) {
  const envelope = bodyJsonBytes({
    topic: r.topic,
    topicId: r.topicId,
    partition: r.partition,
    highWatermark: r.highWatermark,
    logStartOffset: r.logStartOffset,
    nextOffset: Number.MIN_SAFE_INTEGER,
    records: [],
  });
  const error = bodyJsonBytes(errorJson({ ...r, error: TOO_LARGE_JSON_SAMPLE }));
  return Math.max(envelope, error);
}

const TOO_LARGE_JSON_SAMPLE = new SluiceError(
  'MESSAGE_TOO_LARGE',
  tooLargeJsonMessage(Number.MAX_SAFE_INTEGER, 99_999_999),
);

function tooLargeJsonMessage(offset: number, bytes: number): string {
  return `the record at offset ${offset} is ${bytes} bytes in JSON: more than a Lambda response can carry; read it with a binary POST /v1/fetch`;
}

/**
 * One partition's JSON, with as many records as the response budget holds. A partition
 * cut short answers `nextOffset` just past its last record; when not even the first
 * record of a response fits, MESSAGE_TOO_LARGE (a binary fetch reads it).
 */
function recordsJson(
  ctx: SluiceContext,
  r: Awaited<ReturnType<SluiceContext['reader']['fetchRecords']>>,
  requested: number,
  encoding: Encoding,
  budget: ResponseBudget,
) {
  const envelope = {
    topic: r.topic,
    topicId: r.topicId,
    partition: r.partition,
    highWatermark: r.highWatermark,
    logStartOffset: r.logStartOffset,
    nextOffset: r.nextOffset,
    records: [] as ReturnType<typeof recordToJson>[],
  };
  let bytes = 0;
  for (const rec of r.records) {
    const json = recordToJson(rec, encoding);
    if (!budget.take(bodyJsonBytes(json) + 1)) {
      if (budget.records === 0) {
        throw new SluiceError('MESSAGE_TOO_LARGE', tooLargeJsonMessage(rec.offset, bodyJsonBytes(json)));
      }
      envelope.nextOffset = envelope.records.length > 0 ? envelope.records.at(-1)!.offset + 1 : requested;
      break;
    }
    budget.records++;
    envelope.records.push(json);
    bytes += (rec.key?.length ?? 0) + (rec.value?.length ?? 0);
  }
  ctx.telemetry.count(r.topic, 'BytesOut', bytes);
  ctx.telemetry.count(r.topic, 'RecordsOut', envelope.records.length);
  return envelope;
}

/** The Lambda entry point. */
export const handler = lambdaHandler(
  async () => fetchRoutes(await getContext(), { maxWaitMs: maxWaitFromEnv(process.env) }),
  contextHooks,
);

/** SLUICE_FETCH_MAX_WAIT_MS (the construct sets 0); unset or invalid: MAX_WAIT_MS. */
export function maxWaitFromEnv(env: NodeJS.ProcessEnv): number {
  const ms = Number(env.SLUICE_FETCH_MAX_WAIT_MS ?? Number.NaN);
  return Number.isInteger(ms) && ms >= 0 ? Math.min(ms, MAX_WAIT_MS) : MAX_WAIT_MS;
}
