/**
 * Topics a stack creates at deploy time, checked at synth time with the server's own rules
 * (core/topics.ts) so that a typo fails `cdk synth` instead of a deployment.
 */
import {
  resolveConfig,
  type TopicConfig,
  validatePartitionCount,
  validateTopicName,
} from '../core/topics.js';

/** A topic the stack creates when it deploys. */
export interface TopicSpec {
  /** 1–249 characters of `[a-zA-Z0-9._-]`, not `.` or `..` (Kafka's rule). */
  readonly name: string;
  /**
   * Number of partitions. A later deployment may raise it (partitions are added) but not
   * lower it.
   * @default 1
   */
  readonly partitions?: number;
  /**
   * Kafka topic configuration (`retention.ms`, `retention.bytes`, `cleanup.policy`,
   * `max.message.bytes`, …), applied when the topic is created; a later change is not
   * applied to an existing topic.
   * @default the server's defaults
   */
  readonly config?: Readonly<Partial<TopicConfig>>;
}

/** A topic spec that `POST /v1/topics` would refuse. */
export class InvalidTopicSpecError extends Error {
  override name = 'InvalidTopicSpecError';
}

/**
 * Throws {@link InvalidTopicSpecError} naming the first topic that is wrong and why.
 *
 * @example
 * validateTopicSpecs([{ name: 'orders', partitions: 6 }]); // ok
 * validateTopicSpecs([{ name: 'a b' }]); // throws InvalidTopicSpecError
 */
export function validateTopicSpecs(specs: readonly TopicSpec[]): void {
  const seen = new Set<string>();
  for (const spec of specs) {
    const label = JSON.stringify(spec.name);
    try {
      validateTopicName(spec.name);
      validatePartitionCount(spec.partitions ?? 1);
      resolveConfig(spec.config);
    } catch (cause) {
      throw new InvalidTopicSpecError(`topic ${label}: ${(cause as Error).message}`, { cause });
    }
    if (seen.has(spec.name)) throw new InvalidTopicSpecError(`topic ${label} is listed twice`);
    seen.add(spec.name);
  }
}
