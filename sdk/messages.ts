/** kafkajs' message shapes and their conversion to and from the record layer's. */
import type { KafkaRecord, RecordHeader, RecordInput } from '../core/records/index.js';
import { SluiceArgumentError } from './errors.js';
import type { Deserializer, Serializer } from './serializers.js';

/** Header values as in kafkajs: a repeated header is an array. */
export interface IHeaders {
  [key: string]: Buffer | Uint8Array | string | null | (Buffer | Uint8Array | string | null)[] | undefined;
}

/** Bytes as the SDK accepts them. */
export type Bytes = string | Buffer | Uint8Array;

/** A message to produce. Without serializers keys and values are strings, Buffers or Uint8Arrays. */
export interface Message<K = Bytes, V = Bytes> {
  key?: K | null;
  value: V | null;
  /** Pins the partition; otherwise the producer's partitioner picks (murmur2 of the key by default). */
  partition?: number;
  headers?: IHeaders;
  /** Milliseconds since the epoch, as a string (kafkajs) or number; defaults to now. */
  timestamp?: string | number;
}

/** A consumed message, as kafkajs' `KafkaMessage` (offsets and timestamps are strings). */
export interface KafkaMessage<K = Buffer, V = Buffer> {
  /** Null when the record has no key; never passed to a deserializer. */
  key: K | null;
  /** Null for a tombstone; never passed to a deserializer. */
  value: V | null;
  timestamp: string;
  attributes: number;
  offset: string;
  /**
   * As kafkajs: one Buffer per header key, an array for a repeated key (in record order), and
   * `null` for a header whose value is null (an empty value is an empty Buffer).
   */
  headers: { [key: string]: Buffer | null | (Buffer | null)[] | undefined };
  /** Bytes of key + value as stored. */
  size: number;
}

const utf8 = new TextEncoder();

export function toBytes(value: unknown, field: string): Uint8Array {
  if (typeof value === 'string') return utf8.encode(value);
  if (value instanceof Uint8Array) return value;
  throw new SluiceArgumentError(
    `${field} must be a string, Buffer, Uint8Array or null (got ${value === undefined ? 'undefined' : typeof value}); ` +
      'pass a serializer to the producer to send other values',
  );
}

function toHeaders(headers: IHeaders | undefined, field: string): RecordHeader[] | undefined {
  if (!headers) return undefined;
  const out: RecordHeader[] = [];
  for (const [key, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    for (const one of Array.isArray(v) ? v : [v]) {
      out.push({ key, value: one === null ? null : toBytes(one, `${field}.headers.${key}`) });
    }
  }
  return out;
}

export interface Serializers<K, V> {
  keySerializer?: Serializer<K>;
  valueSerializer?: Serializer<V>;
}

/** Converts one message to a record; `where` names it in errors. */
export function toRecord<K, V>(
  m: Message<K, V>,
  topic: string,
  serializers: Serializers<K, V>,
  now: number,
  where: string,
): RecordInput {
  if (!m || typeof m !== 'object') throw new SluiceArgumentError(`${where} must be an object`);
  if (m.value === undefined)
    throw new SluiceArgumentError(`${where}.value is required (null for a tombstone)`);
  const ser = (v: unknown, s: Serializer<never> | undefined, field: string) =>
    v === null || v === undefined ? null : toBytes(s ? s(v as never, { topic }) : v, field);
  let timestamp = now;
  if (m.timestamp !== undefined) {
    timestamp = Number(m.timestamp);
    if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
      throw new SluiceArgumentError(
        `${where}.timestamp must be milliseconds since the epoch, got '${m.timestamp}'`,
      );
    }
  }
  return {
    key: ser(m.key, serializers.keySerializer as Serializer<never> | undefined, `${where}.key`),
    value: ser(m.value, serializers.valueSerializer as Serializer<never> | undefined, `${where}.value`),
    headers: toHeaders(m.headers, where),
    timestamp,
  };
}

const asBuffer = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

export interface Deserializers<K, V> {
  keyDeserializer?: Deserializer<K>;
  valueDeserializer?: Deserializer<V>;
}

/** Converts a decoded record to kafkajs' message shape, deserializing when asked. */
export function toMessage<K, V>(
  r: KafkaRecord,
  ctx: { topic: string; partition: number },
  d: Deserializers<K, V>,
): KafkaMessage<K, V> {
  const headers: KafkaMessage['headers'] = {};
  for (const h of r.headers) {
    const v = h.value === null ? null : Buffer.from(h.value);
    const prev = headers[h.key];
    headers[h.key] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  // Copies: decoded records alias the fetched buffer, which must not be pinned by the application.
  const key = r.key === null ? null : Buffer.from(r.key);
  const value = r.value === null ? null : Buffer.from(r.value);
  return {
    key: (key !== null && d.keyDeserializer ? d.keyDeserializer(key, ctx) : key) as K | null,
    value: (value !== null && d.valueDeserializer ? d.valueDeserializer(value, ctx) : value) as V | null,
    timestamp: String(r.timestamp),
    attributes: 0,
    offset: String(r.offset),
    headers,
    size: (r.key?.length ?? 0) + (r.value?.length ?? 0),
  };
}

export { asBuffer };
