/**
 * The produce function: `POST /v1/produce` (JSON or binary batches), `POST /v1/producers`.
 * Binary batches are stored as the client encoded and compressed them; JSON records are
 * encoded here into one uncompressed batch per partition (more when a partition's records
 * exceed the topic's max.message.bytes).
 */
import { z } from 'zod';
import type { AppendRun } from '../core/append.js';
import { InvalidRequestError } from '../core/errors.js';
import { initProducer } from '../core/producers.js';
import { decodeBatch, defaultPartition, type RecordInput, verifyBatch } from '../core/records/index.js';
import { SchemaValidator } from '../core/schemas/validation.js';
import { checkRecordRules } from '../core/topic-rules.js';
import { BATCHES_CONTENT_TYPE, parseProduceFrames } from '../core/wire.js';
import { contextHooks, getContext, type SluiceContext } from './context.js';
import { type HttpRequest, lambdaHandler, parseJson, type Route } from './http.js';
import { inboxRoute } from './inbox.js';
import { encodeSplit, headersFromJson, jsonRecord, toBytes } from './json-records.js';
import { metadataRoute } from './metadata.js';
import { transactionRoutes } from './transactions.js';

const MAX_SEQUENCE = 0x7fffffff;

const produceBody = z.strictObject({
  topic: z.string(),
  encoding: z.enum(['utf8', 'base64']).optional(),
  records: z.array(jsonRecord).min(1, 'at least one record is required'),
  producer: z
    .strictObject({
      id: z.string().regex(/^\d{1,18}$/, 'a producer id from POST /v1/producers'),
      epoch: z.number().int().min(0).max(32767),
      sequences: z.record(z.string().regex(/^\d+$/), z.number().int().min(0).max(MAX_SEQUENCE)),
    })
    .optional(),
});

type ProduceBody = z.infer<typeof produceBody>;

export function produceRoutes(ctx: SluiceContext): Route[] {
  return [
    metadataRoute(ctx),
    inboxRoute(ctx),
    {
      method: 'POST',
      path: '/v1/producers',
      async handle() {
        return { status: 200, body: await initProducer(ctx.meta, ctx) };
      },
    },
    {
      method: 'POST',
      path: '/v1/produce',
      async handle(req) {
        const binary = (req.headers['content-type'] ?? '').split(';')[0]!.trim() === BATCHES_CONTENT_TYPE;
        return binary ? produceBinary(ctx, req) : produceJson(ctx, req);
      },
    },
    ...transactionRoutes(ctx),
  ];
}

async function produceBinary(ctx: SluiceContext, req: HttpRequest) {
  const frames = parseProduceFrames(req.body);
  // Topics that validate schema ids: every record is checked before anything is appended.
  for (const [i, f] of frames.entries()) {
    const topic = await ctx.topics.get(f.topic);
    if (!SchemaValidator.enabled(topic)) continue;
    const records = decodeBatch(f.batch).records;
    await ctx.schemaValidator.check(
      topic,
      records,
      (r) => `batch ${i} (topic '${f.topic}', partition ${f.partition}) record ${records[r]?.offset ?? r}`,
    );
  }
  const runs: AppendRun[] = frames.map((f) => ({
    topic: f.topic,
    partition: f.partition,
    batches: [f.batch],
  }));
  const results = await ctx.appender.append(runs);
  for (const f of frames) {
    ctx.telemetry.count(f.topic, 'BytesIn', f.batch.bytes.length);
    ctx.telemetry.count(f.topic, 'RecordsIn', f.batch.header.recordCount);
  }
  return {
    status: 200,
    body: {
      partitions: results.map((r) => ({
        topic: r.topic,
        partition: r.partition,
        baseOffset: r.baseOffset,
        count: r.count,
        logAppendTime: r.logAppendTime,
      })),
    },
  };
}

async function produceJson(ctx: SluiceContext, req: HttpRequest) {
  const body = parseJson(req, produceBody);
  const topic = await ctx.topics.get(body.topic);
  const encoding = body.encoding ?? 'utf8';
  const now = ctx.clock.now();
  // Keyless records without a partition all go to one partition for the whole request.
  const keyless = keylessPartition(body, topic.partitions, ctx.random);
  const byPartition = new Map<number, { index: number; record: RecordInput }[]>();
  body.records.forEach((r, index) => {
    const field = `records.${index}`;
    const key = toBytes(r.key, encoding, `${field}.key`);
    checkRecordRules(topic.name, topic.config, { key }, field);
    const record: RecordInput = {
      key,
      value: toBytes(r.value, encoding, `${field}.value`),
      headers: headersFromJson(r.headers, encoding, `${field}.headers`),
      timestamp: r.timestamp ?? now,
    };
    const partition = r.partition ?? (key ? defaultPartition(key, topic.partitions) : keyless);
    const list = byPartition.get(partition);
    if (list) list.push({ index, record });
    else byPartition.set(partition, [{ index, record }]);
  });
  if (SchemaValidator.enabled(topic)) {
    const all = [...byPartition.values()].flat().sort((a, b) => a.index - b.index);
    await ctx.schemaValidator.check(
      topic,
      all.map((i) => i.record),
      (r) => `records.${all[r]!.index}`,
    );
  }
  const runs: AppendRun[] = [];
  for (const [partition, items] of byPartition) {
    const producer = producerFields(body, partition);
    const batches = encodeSplit(items, topic.config['max.message.bytes'], producer, now);
    runs.push({ topic: topic.name, partition, batches: batches.map((b) => verifyBatch(b)), trusted: true });
  }
  const results = await ctx.appender.append(runs);
  const base = new Map(results.map((r) => [r.partition, r]));
  const records = new Array<{ partition: number; offset: number }>(body.records.length);
  let bytesIn = 0;
  for (const [partition, items] of byPartition) {
    const r = base.get(partition)!;
    items.forEach((item, i) => {
      records[item.index] = { partition, offset: r.baseOffset + i };
      bytesIn += (item.record.key?.length ?? 0) + (item.record.value?.length ?? 0);
    });
  }
  ctx.telemetry.count(topic.name, 'BytesIn', bytesIn);
  ctx.telemetry.count(topic.name, 'RecordsIn', body.records.length);
  return {
    status: 200,
    body: {
      topic: topic.name,
      records,
      partitions: results.map((r) => ({
        partition: r.partition,
        baseOffset: r.baseOffset,
        count: r.count,
        logAppendTime: r.logAppendTime,
      })),
    },
  };
}

/**
 * Where keyless records without a partition go: one partition for the whole request. For
 * an idempotent request it must not change on retry, or the retry would land elsewhere and
 * append again: the one partition its sequences name, else a hash of what identifies it.
 */
function keylessPartition(body: ProduceBody, partitions: number, random: () => number): number {
  if (!body.producer) return Math.floor(random() * partitions);
  const named = Object.keys(body.producer.sequences).map(Number);
  if (named.length === 1 && named[0]! < partitions) return named[0]!;
  const seqs = Object.entries(body.producer.sequences).sort(([a], [b]) => Number(a) - Number(b));
  const id = new TextEncoder().encode(`${body.producer.id}/${body.producer.epoch}/${JSON.stringify(seqs)}`);
  return defaultPartition(id, partitions);
}

function producerFields(body: ProduceBody, partition: number) {
  if (!body.producer) return undefined;
  const sequence = body.producer.sequences[String(partition)];
  if (sequence === undefined) {
    throw new InvalidRequestError(
      `producer.sequences.${partition}: the request writes to partition ${partition}, so it needs its base sequence`,
      `producer.sequences.${partition}`,
    );
  }
  return { producerId: BigInt(body.producer.id), producerEpoch: body.producer.epoch, baseSequence: sequence };
}

/** The Lambda entry point. */
export const handler = lambdaHandler(async () => produceRoutes(await getContext()), contextHooks);
