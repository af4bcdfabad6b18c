/**
 * The Kinesis partition key of an inbox message (docs/design.md, "acks=1: the inbox"): an
 * idempotent producer's messages for one partition share `<producerId>:<topic>:<partition>`,
 * so they land in one shard in the order they were put (the SDK puts them one at a time);
 * other messages spread by their event id, else at random. Both paths into a Kinesis inbox
 * (the SDK, `POST /v1/inbox` through `storage/kinesis.ts`) use this. No dependencies: the
 * SDK bundles it.
 */
import type { Random } from '../clock.js';
import type { InboxMessage } from './message.js';

/** Kinesis caps a partition key at 256 Unicode characters. */
export const MAX_PARTITION_KEY_CHARS = 256;

/**
 * @example
 * inboxPartitionKey({ topic: 'events', partition: 3, producer: { id: '42', epoch: 0, seq: 7 } }) // '42:events:3'
 */
export function inboxPartitionKey(
  message: Pick<InboxMessage, 'topic' | 'partition' | 'producer' | 'eventId'>,
  random: Random = Math.random,
): string {
  const p = message.producer;
  if (p) {
    const head = `${p.id}:`;
    const tail = `:${message.partition}`;
    // Topic names run to 249 characters: cut to the cap (the key only chooses the shard;
    // any fixed function of producer, topic and partition keeps the order).
    return `${head}${message.topic.slice(0, MAX_PARTITION_KEY_CHARS - head.length - tail.length)}${tail}`;
  }
  if (message.eventId !== undefined) return message.eventId.slice(0, MAX_PARTITION_KEY_CHARS);
  return Math.floor(random() * 2 ** 48).toString(36);
}
