/**
 * The event a subscription's function receives, shaped like Lambda's self-managed Apache
 * Kafka event (https://docs.aws.amazon.com/lambda/latest/dg/with-kafka.html), so handlers
 * written for MSK / self-managed Kafka event source mappings — and
 * `@aws-lambda-powertools/kafka`'s `kafkaConsumer` — read it unchanged:
 *
 * ```json
 * { "eventSource": "SelfManagedKafka", "bootstrapServers": "sluice://<cluster>",
 *   "records": { "orders-0": [ { "topic": "orders", "partition": 0, "offset": 15,
 *     "timestamp": 1545084650987, "timestampType": "CREATE_TIME",
 *     "key": "<base64>", "value": "<base64>", "headers": [ { "h": [104, 105] } ] } ] } }
 * ```
 *
 * A null key or value is `null`. Sluice adds nothing Lambda does not send.
 */
import type { KafkaRecord } from '../records/index.js';

export interface SubscriptionEventRecord {
  topic: string;
  partition: number;
  offset: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
  timestampType: 'CREATE_TIME' | 'LOG_APPEND_TIME';
  /** Base64; null for a null key. */
  key: string | null;
  /** Base64; null for a null value (a tombstone). */
  value: string | null;
  /** One object per header, its value as the byte array Lambda sends. */
  headers: Record<string, number[]>[];
}

export interface SubscriptionEvent {
  eventSource: 'SelfManagedKafka';
  bootstrapServers: string;
  /** Keyed by `<topic>-<partition>`; a subscription's event holds one partition. */
  records: Record<string, SubscriptionEventRecord[]>;
}

const b64 = (bytes: Uint8Array | null): string | null =>
  bytes === null ? null : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

/** The event for `records` of one partition. */
export function buildEvent(
  cluster: string,
  topic: string,
  partition: number,
  records: readonly KafkaRecord[],
  timestampType: 'create' | 'logAppend' = 'create',
): SubscriptionEvent {
  return {
    eventSource: 'SelfManagedKafka',
    bootstrapServers: `sluice://${cluster}`,
    records: {
      [`${topic}-${partition}`]: records.map((r) => ({
        topic,
        partition,
        offset: r.offset,
        timestamp: r.timestamp,
        timestampType: timestampType === 'create' ? 'CREATE_TIME' : 'LOG_APPEND_TIME',
        key: b64(r.key),
        value: b64(r.value),
        headers: r.headers.map((h) => ({ [h.key]: h.value === null ? [] : [...h.value] })),
      })),
    },
  };
}

/** The `itemIdentifier` of a record in a partial batch response: `<topic>-<partition>@<offset>`. */
export function itemIdentifier(topic: string, partition: number, offset: number): string {
  return `${topic}-${partition}@${offset}`;
}

/**
 * The offset of the first failed record a function reported
 * (`{ batchItemFailures: [{ itemIdentifier }] }`, Lambda's and Powertools' batch-processor
 * shape), or `undefined` when it reported none. An identifier is `<topic>-<partition>@<offset>`
 * or a bare offset. An identifier that names no record of the batch counts as a failure of
 * the whole batch (Lambda does the same), so it returns the batch's first offset.
 */
export function firstFailedOffset(
  response: unknown,
  topic: string,
  partition: number,
  offsets: readonly number[],
): number | undefined {
  if (!response || typeof response !== 'object') return undefined;
  const failures = (response as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return undefined;
  if (!Array.isArray(failures)) return offsets[0];
  if (failures.length === 0) return undefined;
  const inBatch = new Set(offsets);
  const prefix = `${topic}-${partition}@`;
  let first: number | undefined;
  for (const f of failures) {
    const id = f && typeof f === 'object' ? (f as { itemIdentifier?: unknown }).itemIdentifier : undefined;
    const text = typeof id === 'number' ? String(id) : typeof id === 'string' ? id : '';
    const raw = text.startsWith(prefix) ? text.slice(prefix.length) : text;
    const offset = /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
    if (!inBatch.has(offset)) return offsets[0];
    if (first === undefined || offset < first) first = offset;
  }
  return first;
}
