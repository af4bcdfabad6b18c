/**
 * The rules a topic's configuration imposes on every record produced to it, checked by the
 * Appender for every produce path (JSON, binary batches, the SDK) before anything is
 * written, so a refused request appends nothing:
 *
 * - `cleanup.policy=compact`: every record needs a key (Kafka refuses a keyless record on a
 *   compacted topic with INVALID_RECORD: compaction keeps the latest record per key, and a
 *   record without one has no meaning there). Tombstones (null value) with a key are fine.
 * - `max.message.bytes`: checked per batch by the Appender (the unit Kafka limits).
 */
import { SluiceError } from './errors.js';
import type { TopicConfig } from './topics.js';

/** True when records of a topic with this config must be decoded to check the rules. */
export function hasRecordRules(config: TopicConfig): boolean {
  return config['cleanup.policy'] === 'compact';
}

/**
 * Throws INVALID_RECORD when `record` breaks a rule of the topic's config. `where` names the
 * record in the request's own words (`records.3`, `orders/0 batch 0 record 2`).
 */
export function checkRecordRules(
  topic: string,
  config: TopicConfig,
  record: { key: Uint8Array | null },
  where: string,
): void {
  if (config['cleanup.policy'] === 'compact' && record.key === null) {
    throw new SluiceError(
      'INVALID_RECORD',
      `${where}: topic '${topic}' is compacted (cleanup.policy=compact), so every record needs a key; this one has none`,
    );
  }
}
