/**
 * `POST /v1/inbox`: acks=1 over HTTP (docs/api.md, "acks=1: the inbox"). The records of
 * the request go to the inbox as one message per partition; the answer (202) comes once
 * the inbox holds them, with a receipt per message — offsets come later, when the batcher
 * commits. Clients that can reach the queue (the SDK with `acks: 1` in AWS) skip this
 * function and send to the queue themselves.
 */
import * as z from 'zod';
import { InvalidRequestError, SluiceError } from '../core/errors.js';
import { type InboxSenderState, inboxMessageOf } from '../core/inbox/build.js';
import { encodeInboxMessage } from '../core/inbox/message.js';
import { INBOX_RETRY_HORIZON_MS, INBOX_SKEW_MS } from '../core/inbox/queue.js';
import { defaultPartition, encodeBatch, type RecordInput } from '../core/records/index.js';
import { checkRecordRules } from '../core/topic-rules.js';
import type { SluiceContext } from './context.js';
import { parseJson, type Route } from './http.js';
import { headersFromJson, jsonRecord, toBytes } from './json-records.js';

const MAX_SEQUENCE = 0x7fffffff;

const inboxBody = z.strictObject({
  topic: z.string(),
  encoding: z.enum(['utf8', 'base64']).optional(),
  records: z.array(jsonRecord).min(1, 'at least one record is required'),
  producer: z
    .strictObject({
      id: z.string().regex(/^\d{1,18}$/, 'a producer id from POST /v1/producers'),
      epoch: z.number().int().min(0).max(32767),
      sequences: z.record(z.string().regex(/^\d+$/), z.number().int().min(0).max(MAX_SEQUENCE)),
      /** Per partition: when the inbox acknowledged this producer's previous message there (ms). */
      prevAt: z.record(z.string().regex(/^\d+$/), z.number().int().min(0)).optional(),
    })
    .optional(),
  eventId: z.string().min(1).max(128).optional(),
  /**
   * When the client first tried to send this request, ms since the epoch: the same on every
   * retry of it (docs/api.md, "A retry's first attempt"); by default now. One more than the
   * clock-skew margin ahead of the server's clock, or older than the sender retry horizon,
   * is taken as the horizon's start (the client's clock is off).
   */
  at: z.number().int().min(0).max(8.64e15).optional(),
});

export function inboxRoute(ctx: SluiceContext): Route {
  return {
    method: 'POST',
    path: '/v1/inbox',
    async handle(req) {
      const body = parseJson(req, inboxBody);
      const inbox = await ctx.inbox();
      if (!inbox) {
        throw new SluiceError('INVALID_REQUEST', 'this deployment has no inbox: acks=1 is not available');
      }
      const now = ctx.clock.now();
      // A client whose clock is off by more than the skew margin (an `at` ahead of ours, or
      // older than any retry can be): its first attempt was within the horizon all the same,
      // so the batcher reads the whole horizon for it — dearer for that message, never a
      // duplicate, and the send is not refused for a clock we cannot fix.
      const at =
        body.at === undefined
          ? now
          : body.at > now + INBOX_SKEW_MS || body.at < now - INBOX_RETRY_HORIZON_MS
            ? now - INBOX_RETRY_HORIZON_MS
            : body.at;
      const topic = await ctx.topics.get(body.topic);
      const encoding = body.encoding ?? 'utf8';
      const keyless = body.producer
        ? Number(Object.keys(body.producer.sequences)[0] ?? 0) % topic.partitions
        : Math.floor(ctx.random() * topic.partitions);
      const byPartition = new Map<number, RecordInput[]>();
      body.records.forEach((r, i) => {
        const key = toBytes(r.key, encoding, `records.${i}.key`);
        const partition = r.partition ?? (key ? defaultPartition(key, topic.partitions) : keyless);
        if (partition >= topic.partitions) {
          throw new SluiceError(
            'UNKNOWN_TOPIC_OR_PARTITION',
            `topic '${topic.name}' has no partition ${partition} (it has ${topic.partitions})`,
          );
        }
        // The rules of the topic's configuration, as at produce: the batcher must never
        // meet a record it cannot append.
        checkRecordRules(topic.name, topic.config, { key }, `records.${i}`);
        const value = toBytes(r.value, encoding, `records.${i}.value`);
        const headers = headersFromJson(r.headers, encoding, `records.${i}.headers`);
        const timestamp = r.timestamp ?? now;
        const alone = encodeBatch([{ key, value, headers, timestamp }], { now }).length;
        const limit = topic.config['max.message.bytes'];
        if (alone > limit) {
          throw new SluiceError(
            'MESSAGE_TOO_LARGE',
            `records.${i}: ${alone} bytes as a batch, over the topic's max.message.bytes of ${limit}`,
          );
        }
        const record: RecordInput = { key, value, headers, timestamp };
        const list = byPartition.get(partition);
        if (list) list.push(record);
        else byPartition.set(partition, [record]);
      });
      const partitions = [...byPartition.keys()];
      const bodies = partitions.map((partition) => {
        let producer: InboxSenderState | undefined;
        if (body.producer) {
          const seq = body.producer.sequences[String(partition)];
          if (seq === undefined) {
            throw new InvalidRequestError(
              `producer.sequences.${partition}: the request writes to partition ${partition}, so it needs its base sequence`,
              `producer.sequences.${partition}`,
            );
          }
          const prevAt = body.producer.prevAt?.[String(partition)];
          producer = { id: body.producer.id, epoch: body.producer.epoch, seq, prevAt };
        }
        return encodeInboxMessage(
          inboxMessageOf({
            topic: topic.name,
            partition,
            records: byPartition.get(partition)!,
            now,
            producer,
            eventId: body.eventId,
            at,
          }),
        );
      });
      const ids = await inbox.send(bodies);
      return {
        status: 202,
        body: {
          topic: topic.name,
          acks: 1,
          acceptedAt: ctx.clock.now(),
          messages: partitions.map((partition, i) => ({
            partition,
            messageId: ids[i],
            records: byPartition.get(partition)!.length,
            ...(body.producer && { firstSequence: body.producer.sequences[String(partition)] }),
          })),
        },
      };
    },
  };
}
