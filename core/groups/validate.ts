/**
 * Checks of the values the group API accepts, done in the core so that every caller (HTTP
 * handler, in-process SDK transport) gets the same typed errors naming the field.
 */
import { InvalidRequestError, SluiceError } from '../errors.js';
import type { GroupConfig } from './config.js';

/** Group ids are free text as in Kafka, within what a DynamoDB key can hold. */
const MAX_GROUP_CHARS = 255;
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
/** Kafka's `offset.metadata.max.bytes`. */
export const MAX_METADATA_CHARS = 4096;
/** More topics than this in one subscription would not fit the group item anyway. */
export const MAX_SUBSCRIBED_TOPICS = 1000;

export function validateGroupId(group: unknown): asserts group is string {
  if (
    typeof group !== 'string' ||
    group.length === 0 ||
    group.length > MAX_GROUP_CHARS ||
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
    /[\u0000-\u001f\u007f]/.test(group)
  ) {
    throw new InvalidRequestError(
      `invalid group id ${JSON.stringify(group)}: use 1-${MAX_GROUP_CHARS} characters, no control characters`,
      'group',
    );
  }
}

/** Kafka's rule: 1–249 of `[a-zA-Z0-9._-]`, not `.` or `..`. */
export function validateTopic(topic: unknown, field: string): asserts topic is string {
  if (typeof topic !== 'string' || !TOPIC_NAME.test(topic) || topic === '.' || topic === '..') {
    throw new SluiceError(
      'INVALID_TOPIC_EXCEPTION',
      `${field}: invalid topic name ${JSON.stringify(topic)}: use 1-249 characters of [a-zA-Z0-9._-], not '.' or '..'`,
    );
  }
}

export function validatePartition(partition: unknown, field: string): asserts partition is number {
  if (typeof partition !== 'number' || !Number.isSafeInteger(partition) || partition < 0) {
    throw new InvalidRequestError(`${field}: a partition is an integer ≥ 0`, field);
  }
}

export function validateOffset(offset: unknown, field: string): asserts offset is number {
  if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) {
    throw new InvalidRequestError(`${field}: an offset is an integer ≥ 0`, field);
  }
}

export function validateSessionTimeout(config: GroupConfig, ms: unknown): asserts ms is number {
  if (
    typeof ms !== 'number' ||
    !Number.isSafeInteger(ms) ||
    ms < config.minSessionTimeoutMs ||
    ms > config.maxSessionTimeoutMs
  ) {
    throw new InvalidRequestError(
      `sessionTimeoutMs: must be an integer from ${config.minSessionTimeoutMs} to ${config.maxSessionTimeoutMs}`,
      'sessionTimeoutMs',
    );
  }
}

export function validateMetadata(metadata: unknown, field: string): asserts metadata is string | undefined {
  if (metadata === undefined) return;
  if (typeof metadata !== 'string' || metadata.length > MAX_METADATA_CHARS) {
    throw new InvalidRequestError(
      `${field}: metadata is a string of at most ${MAX_METADATA_CHARS} characters`,
      field,
    );
  }
}
