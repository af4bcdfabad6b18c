/**
 * What one inbox message holds: the records of one `send` for one partition, and who
 * sent them — an idempotent producer's (id, epoch, first sequence), or an event id. The
 * partition is chosen by the sender, so a producer's sequences are per partition as in
 * Kafka. Bodies are JSON (SQS carries text), byte fields base64.
 *
 * Format version 1 (`v`). Fields are only ever added, optional, to version 1: a message
 * without a later field decodes as before (`at`, added with the sender retry horizon, is
 * read as absent), and a batcher that does not know a field ignores it (zod drops unknown
 * keys). A change old batchers could not read safely would be `v: 2`.
 */
import * as z from 'zod';
import { InvalidRequestError, SluiceError } from '../errors.js';
import type { RecordInput } from '../records/index.js';
import { inboxBodyOf } from './build.js';
import { MAX_INBOX_MESSAGE_BYTES } from './queue.js';

const MAX_SEQUENCE = 0x7fffffff;
const b64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'base64');

export const inboxMessageSchema = z.object({
  v: z.literal(1),
  topic: z.string().min(1).max(249),
  partition: z.number().int().min(0),
  records: z
    .array(
      z.object({
        k: b64.nullable().optional(),
        v: b64.nullable(),
        h: z.array(z.tuple([z.string(), b64.nullable()])).optional(),
        ts: z.number().int().min(0).max(8.64e15),
      }),
    )
    .min(1, 'at least one record is required'),
  producer: z
    .object({
      id: z.string().regex(/^\d{1,18}$/, 'a producer id from POST /v1/producers'),
      epoch: z.number().int().min(0).max(32767),
      /** Sequence of the first record. */
      seq: z.number().int().min(0).max(MAX_SEQUENCE),
      /**
       * When the inbox acknowledged this producer's previous message for the partition
       * (ms, sender's clock); absent for its first.
       */
      prevAt: z.number().int().min(0).optional(),
    })
    .optional(),
  /** For senders without a producer: the same id on every retry of one event. */
  eventId: z.string().min(1).max(128).optional(),
  /**
   * When the sender first tried to send this message, ms since the epoch (sender's clock):
   * set once when the message is built, the same in every retry of it, so that a retry
   * landing as a second inbox message is looked for in the ledger from then on
   * (`ledger-reach.ts`). Absent on messages of older senders: taken as their first receive.
   */
  at: z.number().int().min(0).max(8.64e15).optional(),
});

export type InboxMessage = z.infer<typeof inboxMessageSchema>;

/** Encodes a message; throws MESSAGE_TOO_LARGE over the queue's limit. */
export function encodeInboxMessage(message: InboxMessage): string {
  const { body, bytes, tooLarge } = inboxBodyOf(message);
  if (tooLarge) {
    throw new SluiceError(
      'MESSAGE_TOO_LARGE',
      `an inbox message is at most ${MAX_INBOX_MESSAGE_BYTES} bytes; this one is ${bytes}: send fewer records at once, or use acks=all`,
    );
  }
  return body;
}

/** Parses a body; throws {@link InvalidRequestError} when it is not an inbox message. */
export function decodeInboxMessage(body: string): InboxMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new InvalidRequestError('an inbox message is JSON');
  }
  const parsed = inboxMessageSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidRequestError(`inbox message: ${issue.message}`, issue.path.join('.'));
  }
  return parsed.data;
}

/** The last sequence a producer's message covers. */
export function lastSequence(message: InboxMessage): number | undefined {
  const p = message.producer;
  return p && (p.seq + message.records.length - 1) % (MAX_SEQUENCE + 1);
}

/**
 * The id under which the batcher's ledger remembers a committed message: the producer's
 * (id, epoch, last sequence), or the event id, or — for a sender with neither — the
 * queue's message id (which only dedups the queue's own redeliveries).
 */
export function dedupKey(message: InboxMessage, messageId: string): string {
  const p = message.producer;
  if (p) return `${message.topic}/${message.partition}/${p.id}.${p.epoch}.${lastSequence(message)}`;
  if (message.eventId !== undefined) return `${message.topic}/e.${message.eventId}`;
  return `${message.topic}/m.${messageId}`;
}

/** The key of the message that must be committed before this one (same producer and partition). */
export function predecessorKey(message: InboxMessage): string | undefined {
  const p = message.producer;
  if (!p || p.seq === 0) return undefined;
  return `${message.topic}/${message.partition}/${p.id}.${p.epoch}.${p.seq - 1}`;
}

export function recordsOf(message: InboxMessage): RecordInput[] {
  const bytes = (s: string | null | undefined) =>
    s === null || s === undefined ? null : Buffer.from(s, 'base64');
  return message.records.map((r) => ({
    key: bytes(r.k),
    value: bytes(r.v),
    headers: (r.h ?? []).map(([key, value]) => ({ key, value: bytes(value) })),
    timestamp: r.ts,
  }));
}
