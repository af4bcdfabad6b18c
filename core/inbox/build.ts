/**
 * Building inbox messages: the one place that turns a send's records for one partition into
 * the message the batcher reads (`message.ts`). Both paths into the inbox use it — the
 * produce function's `POST /v1/inbox` and the SDK sending to SQS directly — so a message
 * is the same whichever way it came. No dependencies beyond the types: the SDK bundles it.
 */
import type { RecordInput } from '../records/index.js';
import type { InboxMessage } from './message.js';
import { MAX_INBOX_MESSAGE_BYTES } from './queue.js';

/** Who sends a partition's message: an idempotent producer's state for that partition. */
export interface InboxSenderState {
  /** Producer id (decimal string, from `POST /v1/producers`). */
  id: string;
  epoch: number;
  /** Sequence of the message's first record (per partition, the inbox's own numbering). */
  seq: number;
  /** When the inbox acknowledged this producer's previous message for the partition (ms); absent for the first. */
  prevAt?: number;
}

export interface InboxMessageInput {
  topic: string;
  partition: number;
  records: readonly RecordInput[];
  /** Timestamp of records that carry none (ms). */
  now: number;
  producer?: InboxSenderState;
  /** For senders without a producer: the same on every retry of one send; suffixed with the partition (dedup is by producer when both are given). */
  eventId?: string;
  /**
   * When the sender first tried to send the message (ms): taken once, before the first
   * attempt, and the same in every retry (the message's `at`). Absent: the message has none.
   */
  at?: number;
}

const b64 = (bytes: Uint8Array | null | undefined) =>
  bytes === null || bytes === undefined ? null : Buffer.from(bytes).toString('base64');

/**
 * The message for one partition's records of one send.
 *
 * @example
 * const now = Date.now();
 * const m = inboxMessageOf({ topic: 'events', partition: 0, records: [{ value }], now, at: now,
 *   producer: { id: '42', epoch: 0, seq: 7, prevAt: 1700000000000 } });
 */
export function inboxMessageOf(input: InboxMessageInput): InboxMessage {
  return {
    v: 1,
    topic: input.topic,
    partition: input.partition,
    records: input.records.map((r) => ({
      k: b64(r.key),
      v: b64(r.value),
      h: (r.headers ?? []).map((h) => [h.key, b64(h.value)] as [string, string | null]),
      ts: r.timestamp ?? input.now,
    })),
    ...(input.producer && {
      producer: {
        id: input.producer.id,
        epoch: input.producer.epoch,
        seq: input.producer.seq,
        ...(input.producer.prevAt !== undefined && { prevAt: input.producer.prevAt }),
      },
    }),
    ...(input.eventId !== undefined && { eventId: `${input.eventId}/${input.partition}` }),
    ...(input.at !== undefined && { at: input.at }),
  };
}

/** A message's body, or the size it would have when over SQS's limit of {@link MAX_INBOX_MESSAGE_BYTES}. */
export function inboxBodyOf(message: InboxMessage): { body: string; bytes: number; tooLarge: boolean } {
  const body = JSON.stringify(message);
  const bytes = Buffer.byteLength(body);
  return { body, bytes, tooLarge: bytes > MAX_INBOX_MESSAGE_BYTES };
}
