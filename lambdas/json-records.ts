/**
 * Keys, values and header values travel in JSON as UTF-8 strings, or base64 when the
 * request asks for `"encoding": "base64"` (API.md). `null` stays null (a null value is a
 * tombstone).
 */
import { z } from 'zod';
import { InvalidRequestError, SluiceError } from '../core/errors.js';
import { encodeBatch, type KafkaRecord, type RecordHeader, type RecordInput } from '../core/records/index.js';

const MAX_SEQUENCE = 0x7fffffff;

export type Encoding = 'utf8' | 'base64';

/** A record of a JSON produce body (`POST /v1/produce`, `/v1/inbox`, transactional sends). */
export const jsonRecord = z.strictObject({
  key: z.string().nullable().optional(),
  value: z.string().nullable(),
  headers: z
    .union([
      z.record(z.string(), z.union([z.string().nullable(), z.array(z.string().nullable())])),
      z.array(z.strictObject({ key: z.string(), value: z.string().nullable() })),
    ])
    .optional(),
  partition: z.number().int().min(0).optional(),
  timestamp: z.number().int().min(0).max(8.64e15).optional(),
});

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const utf8 = new TextEncoder();

/** Bytes of a JSON string field; `field` names it in the error. */
export function toBytes(
  value: string | null | undefined,
  encoding: Encoding,
  field: string,
): Uint8Array | null {
  if (value === null || value === undefined) return null;
  if (encoding === 'utf8') return utf8.encode(value);
  if (!BASE64.test(value)) throw new InvalidRequestError(`${field}: not valid base64`, field);
  const buf = Buffer.from(value, 'base64');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

export function fromBytes(bytes: Uint8Array | null, encoding: Encoding): string | null {
  if (bytes === null) return null;
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString(
    encoding === 'utf8' ? 'utf8' : 'base64',
  );
}

/**
 * Headers as JSON: an object `{name: value}` (a value may be an array for a repeated header:
 * `{"dup": ["1", "2"]}`), or a list `[{"key", "value"}]` that keeps the order across keys.
 * A `null` value is a null header (not an empty one).
 */
export type JsonHeaders =
  | Record<string, string | null | (string | null)[]>
  | { key: string; value: string | null }[];

/** Record headers of a JSON request, in order, repeated keys kept; `field` names them in errors. */
export function headersFromJson(
  headers: JsonHeaders | undefined,
  encoding: Encoding,
  field: string,
): RecordHeader[] {
  if (!headers) return [];
  if (Array.isArray(headers)) {
    return headers.map((h, i) => ({ key: h.key, value: toBytes(h.value, encoding, `${field}.${i}.value`) }));
  }
  return Object.entries(headers).flatMap(([key, value]) =>
    (Array.isArray(value) ? value : [value]).map((one, i) => ({
      key,
      value: toBytes(one, encoding, Array.isArray(value) ? `${field}.${key}.${i}` : `${field}.${key}`),
    })),
  );
}

/** A fetched record as API.md's JSON. */
/**
 * A fetched record as API.md's JSON: `headers` is the object form (for a repeated key, its
 * last value, as Kafka's `lastHeader`); `headerList` is every header in order, exactly.
 */
export function recordToJson(r: KafkaRecord, encoding: Encoding) {
  const headers: Record<string, string | null> = {};
  const headerList = r.headers.map((h) => ({ key: h.key, value: fromBytes(h.value, encoding) }));
  for (const h of headerList) headers[h.key] = h.value;
  return {
    offset: r.offset,
    timestamp: r.timestamp,
    key: fromBytes(r.key, encoding),
    value: fromBytes(r.value, encoding),
    headers,
    headerList,
  };
}

/** Encodes records into batches no larger than `limit` bytes, keeping sequences contiguous. */
export function encodeSplit(
  items: { index: number; record: RecordInput }[],
  limit: number,
  producer: { producerId: bigint; producerEpoch: number; baseSequence: number } | undefined,
  now: number,
): Uint8Array[] {
  const encode = (part: RecordInput[], skip: number) =>
    encodeBatch(part, {
      now,
      ...(producer && { ...producer, baseSequence: (producer.baseSequence + skip) % (MAX_SEQUENCE + 1) }),
    });
  const records = items.map((i) => i.record);
  const out: Uint8Array[] = [];
  const split = (from: number, to: number) => {
    const batch = encode(records.slice(from, to), from);
    if (batch.length <= limit) {
      out.push(batch);
      return;
    }
    if (to - from === 1) {
      throw new SluiceError(
        'MESSAGE_TOO_LARGE',
        `records.${items[from]!.index}: ${batch.length} bytes as a batch, over the topic's max.message.bytes of ${limit}`,
      );
    }
    const mid = from + Math.ceil((to - from) / 2);
    split(from, mid);
    split(mid, to);
  };
  split(0, records.length);
  return out;
}
