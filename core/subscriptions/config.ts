/**
 * A subscription's definition: which topic, which function, and how records are batched,
 * retried and given up on. Names and defaults follow Lambda's event source mappings
 * (Kinesis / Kafka) where they exist, with durations in milliseconds as everywhere else in
 * Sluice: `batchSize` 100, `maxBatchingWindowMs` 0, `maxRetryAttempts` -1 (until the record
 * expires), `maxRecordAgeMs` -1 (never), `bisectBatchOnFunctionError` false,
 * `reportBatchItemFailures` false, `startingPosition` `latest`, `enabled` true, `filters` none.
 */
import { InvalidRequestError } from '../errors.js';
import { isValidTopicName } from '../topics.js';
import { type SubscriptionFilter, validateFilters } from './filters.js';

/** Where a new subscription starts reading: Lambda's `StartingPosition`. */
export type StartingPosition = 'latest' | 'earliest' | { timestamp: number };

/** A subscription as stored and as the API returns it. */
export interface SubscriptionConfig {
  /** `[a-zA-Z0-9._-]{1,200}`: unique in the cluster. */
  name: string;
  topic: string;
  /** The function invoked: a Lambda name or ARN in AWS, a module (`./handler.ts#main`) in `sluice dev`. */
  target: string;
  /** The consumer group whose committed offsets the subscription moves; default `sluice-subscription-<name>`. */
  groupId: string;
  /** Records per invocation, 1–10,000. @default 100 */
  batchSize: number;
  /** How long to gather records before invoking with less than a full batch (ms, 0–300,000). @default 0 */
  maxBatchingWindowMs: number;
  /** @default 'latest' */
  startingPosition: StartingPosition;
  /** Retries of a failing batch before it goes to `onFailure`; -1 = until `maxRecordAgeMs`. @default -1 */
  maxRetryAttempts: number;
  /** Records older than this (ms, from their timestamp) go to `onFailure` unprocessed; -1 = never. @default -1 */
  maxRecordAgeMs: number;
  /** Split a failing batch in two and retry each half. @default false */
  bisectBatchOnFunctionError: boolean;
  /** Honour `batchItemFailures` in the function's response. @default false */
  reportBatchItemFailures: boolean;
  /** Where records that exhausted retries or age go: an SQS queue URL/ARN (AWS) or a name (dev). */
  onFailure: string | null;
  /** Delivering when true; a paused subscription delivers nothing and keeps its offsets. @default true */
  enabled: boolean;
  /**
   * Lambda's event filtering (`FilterCriteria.Filters`): a record is delivered when it matches
   * one of these patterns; one matching none is skipped and committed past. Grammar:
   * `filters.ts`. @default [] (every record)
   */
  filters: SubscriptionFilter[];
  /** Milliseconds since the epoch. */
  createdAt: number;
}

/** What a caller gives to create a subscription: name, topic and target are required. */
export type SubscriptionInput = Partial<Omit<SubscriptionConfig, 'createdAt'>> &
  Pick<SubscriptionConfig, 'name' | 'topic' | 'target'>;

/** What may change after creation (PATCH): everything but name, topic, group and start. */
export const MUTABLE_FIELDS = [
  'target',
  'batchSize',
  'maxBatchingWindowMs',
  'maxRetryAttempts',
  'maxRecordAgeMs',
  'bisectBatchOnFunctionError',
  'reportBatchItemFailures',
  'onFailure',
  'enabled',
  'filters',
] as const;

export const SUBSCRIPTION_DEFAULTS = {
  batchSize: 100,
  maxBatchingWindowMs: 0,
  startingPosition: 'latest' as StartingPosition,
  maxRetryAttempts: -1,
  maxRecordAgeMs: -1,
  bisectBatchOnFunctionError: false,
  reportBatchItemFailures: false,
  onFailure: null,
  enabled: true,
  filters: [] as SubscriptionFilter[],
};

const NAME = /^[a-zA-Z0-9._-]{1,200}$/;

export function defaultGroupId(name: string): string {
  return `sluice-subscription-${name}`;
}

function int(raw: unknown, field: string, min: number, max: number): number {
  if (!Number.isSafeInteger(raw) || (raw as number) < min || (raw as number) > max) {
    throw new InvalidRequestError(`${field} must be an integer in [${min}, ${max}]`, field);
  }
  return raw as number;
}

function bool(raw: unknown, field: string): boolean {
  if (typeof raw !== 'boolean') throw new InvalidRequestError(`${field} must be a boolean`, field);
  return raw;
}

function str(raw: unknown, field: string, max = 2048): string {
  if (typeof raw !== 'string' || raw.length === 0 || raw.length > max) {
    throw new InvalidRequestError(`${field} must be a non-empty string of at most ${max} characters`, field);
  }
  return raw;
}

function startingPosition(raw: unknown): StartingPosition {
  if (raw === 'latest' || raw === 'earliest') return raw;
  if (raw && typeof raw === 'object' && !Array.isArray(raw)) {
    const ts = (raw as { timestamp?: unknown }).timestamp;
    if (Number.isSafeInteger(ts) && (ts as number) >= 0 && Object.keys(raw).length === 1)
      return { timestamp: ts as number };
  }
  throw new InvalidRequestError(
    "startingPosition must be 'latest', 'earliest' or { timestamp: <ms since the epoch> }",
    'startingPosition',
  );
}

/** Checks the mutable fields present in `raw`; returns them typed. */
export function validateChanges(raw: unknown): Partial<SubscriptionConfig> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new InvalidRequestError('the body must be a JSON object');
  const input = raw as Record<string, unknown>;
  const out: Partial<SubscriptionConfig> = {};
  for (const field of Object.keys(input)) {
    const v = input[field];
    if (v === undefined) continue;
    switch (field) {
      case 'target':
        out.target = str(v, field);
        break;
      case 'batchSize':
        out.batchSize = int(v, field, 1, 10_000);
        break;
      case 'maxBatchingWindowMs':
        out.maxBatchingWindowMs = int(v, field, 0, 300_000);
        break;
      case 'maxRetryAttempts':
        out.maxRetryAttempts = int(v, field, -1, 10_000);
        break;
      case 'maxRecordAgeMs':
        out.maxRecordAgeMs = v === -1 ? -1 : int(v, field, 1_000, 7 * 24 * 3600 * 1000);
        break;
      case 'bisectBatchOnFunctionError':
      case 'reportBatchItemFailures':
      case 'enabled':
        out[field] = bool(v, field);
        break;
      case 'onFailure':
        out.onFailure = v === null ? null : str(v, field);
        break;
      case 'filters':
        out.filters = validateFilters(v);
        break;
      default:
        throw new InvalidRequestError(`unknown or immutable field ${field}`, field);
    }
  }
  return out;
}

/**
 * Validates a creation request and fills in the defaults.
 * @throws {@link InvalidRequestError} naming the first bad field; nothing is created.
 */
export function resolveSubscription(raw: unknown, now: number): SubscriptionConfig {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw))
    throw new InvalidRequestError('the body must be a JSON object');
  const { name, topic, groupId, startingPosition: start, ...rest } = raw as Record<string, unknown>;
  if (typeof name !== 'string' || !NAME.test(name))
    throw new InvalidRequestError('name must match [a-zA-Z0-9._-]{1,200}', 'name');
  if (!isValidTopicName(topic)) throw new InvalidRequestError('topic must be a valid topic name', 'topic');
  if (rest.target === undefined) throw new InvalidRequestError('target is required', 'target');
  const changes = validateChanges(rest);
  return {
    ...SUBSCRIPTION_DEFAULTS,
    ...changes,
    name,
    topic,
    target: changes.target!,
    groupId: groupId === undefined ? defaultGroupId(name) : str(groupId, 'groupId', 249),
    startingPosition: start === undefined ? 'latest' : startingPosition(start),
    createdAt: now,
  };
}
