/**
 * Transactional producers over HTTP (API.md "Transactions"), served by the produce function:
 *
 * - `POST /v1/transactions/{id}/init` → `{producerId, epoch, transaction}`
 * - `POST /v1/transactions/{id}/send` — binary frames (`?producerId&epoch&transaction&sequence`)
 *   or JSON records → `{duplicate}`
 * - `POST /v1/transactions/{id}/offsets` → `{duplicate}`
 * - `POST /v1/transactions/{id}/commit` → `{partitions}`
 * - `POST /v1/transactions/{id}/abort` → `{}`
 */
import { z } from 'zod';
import type { AppendRun } from '../core/append.js';
import { defaultPartition, type RecordInput, verifyBatch } from '../core/records/index.js';
import { checkRecordRules } from '../core/topic-rules.js';
import { BATCHES_CONTENT_TYPE, parseProduceFrames } from '../core/wire.js';
import type { SluiceContext } from './context.js';
import { parseJson, parseQuery, type Route } from './http.js';
import { encodeSplit, headersFromJson, jsonRecord, toBytes } from './json-records.js';

const int = () => z.number().int();
const producerFields = {
  producerId: z.string().regex(/^\d{1,18}$/, 'the producer id init returned'),
  epoch: int().min(0).max(32767),
  transaction: int().min(0),
};
const sequenced = { ...producerFields, sequence: int().min(0) };

const initBody = z.strictObject({ transactionTimeoutMs: int().nullish() }).nullish();
const endBody = z.strictObject(producerFields);
const offsetsBody = z.strictObject({
  ...sequenced,
  groupId: z.string(),
  memberId: z.string().nullish(),
  memberEpoch: int().nullish(),
  offsets: z.array(
    z.strictObject({ topic: z.string(), partition: int(), offset: int(), metadata: z.string().nullish() }),
  ),
});
const numeric = z.string().regex(/^\d{1,18}$/, 'a non-negative integer');
const sendQuery = z.object({
  producerId: numeric,
  epoch: numeric.transform(Number),
  transaction: numeric.transform(Number),
  sequence: numeric.transform(Number),
});
const sendJson = z.strictObject({
  ...sequenced,
  topic: z.string(),
  encoding: z.enum(['utf8', 'base64']).optional(),
  records: z.array(jsonRecord).min(1, 'at least one record is required'),
});

export function transactionRoutes(ctx: SluiceContext): Route[] {
  const tx = ctx.transactions;
  const ok = (body: unknown) => ({ status: 200, body });
  return [
    {
      method: 'POST',
      path: '/v1/transactions/{id}/init',
      async handle(req) {
        const body = req.body ? parseJson(req, initBody) : undefined;
        const timeoutMs = body?.transactionTimeoutMs ?? undefined;
        return ok(await tx.init(req.params.id!, timeoutMs === undefined ? {} : { timeoutMs }));
      },
    },
    {
      method: 'POST',
      path: '/v1/transactions/{id}/send',
      async handle(req) {
        const binary = (req.headers['content-type'] ?? '').split(';')[0]!.trim() === BATCHES_CONTENT_TYPE;
        if (binary) {
          const q = parseQuery(req, sendQuery);
          const runs: AppendRun[] = parseProduceFrames(req.body).map((f) => ({
            topic: f.topic,
            partition: f.partition,
            batches: [f.batch],
          }));
          return ok(await tx.send(req.params.id!, q, q.transaction, q.sequence, runs));
        }
        const body = parseJson(req, sendJson);
        return ok(
          await tx.send(req.params.id!, body, body.transaction, body.sequence, await jsonRuns(ctx, body)),
        );
      },
    },
    {
      method: 'POST',
      path: '/v1/transactions/{id}/offsets',
      async handle(req) {
        const b = parseJson(req, offsetsBody);
        return ok(await tx.sendOffsets(req.params.id!, b, b.transaction, b.sequence, b));
      },
    },
    {
      method: 'POST',
      path: '/v1/transactions/{id}/commit',
      async handle(req) {
        const b = parseJson(req, endBody);
        return ok(await tx.commit(req.params.id!, b, b.transaction));
      },
    },
    {
      method: 'POST',
      path: '/v1/transactions/{id}/abort',
      async handle(req) {
        const b = parseJson(req, endBody);
        await tx.abort(req.params.id!, b, b.transaction);
        return ok({});
      },
    },
  ];
}

/** JSON records as one uncompressed batch per partition (key hash, or one random partition for keyless records). */
async function jsonRuns(ctx: SluiceContext, body: z.infer<typeof sendJson>): Promise<AppendRun[]> {
  const topic = await ctx.topics.get(body.topic);
  const encoding = body.encoding ?? 'utf8';
  const now = ctx.clock.now();
  const keyless = Math.floor(ctx.random() * topic.partitions);
  const byPartition = new Map<number, { index: number; record: RecordInput }[]>();
  body.records.forEach((r, i) => {
    const key = toBytes(r.key, encoding, `records.${i}.key`);
    checkRecordRules(topic.name, topic.config, { key }, `records.${i}`);
    const record: RecordInput = {
      key,
      value: toBytes(r.value, encoding, `records.${i}.value`),
      headers: headersFromJson(r.headers, encoding, `records.${i}.headers`),
      timestamp: r.timestamp ?? now,
    };
    const partition = r.partition ?? (key ? defaultPartition(key, topic.partitions) : keyless);
    const list = byPartition.get(partition) ?? [];
    list.push({ index: i, record });
    byPartition.set(partition, list);
  });
  // As at produce: batches under the topic's max.message.bytes, a record too large alone named.
  return [...byPartition].map(([partition, items]) => ({
    topic: topic.name,
    partition,
    batches: encodeSplit(items, topic.config['max.message.bytes'], undefined, now).map((b) => verifyBatch(b)),
    trusted: true,
  }));
}
