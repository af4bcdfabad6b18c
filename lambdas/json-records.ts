/**
 * Keys, values and header values travel in JSON as UTF-8 strings, or base64 when the
 * request asks for `"encoding": "base64"` (API.md). `null` stays null (a null value is a
 * tombstone).
 */
import { InvalidRequestError } from '../core/errors.js';
import type { KafkaRecord, RecordHeader } from '../core/records/index.js';

export type Encoding = 'utf8' | 'base64';

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

export function headersFromJson(
  headers: Record<string, string | null> | undefined,
  encoding: Encoding,
  field: string,
): RecordHeader[] {
  if (!headers) return [];
  return Object.entries(headers).map(([key, value]) => ({
    key,
    value: toBytes(value, encoding, `${field}.${key}`),
  }));
}

/** A fetched record as API.md's JSON. */
export function recordToJson(r: KafkaRecord, encoding: Encoding) {
  const headers: Record<string, string | null> = {};
  for (const h of r.headers) headers[h.key] = fromBytes(h.value, encoding);
  return {
    offset: r.offset,
    timestamp: r.timestamp,
    key: fromBytes(r.key, encoding),
    value: fromBytes(r.value, encoding),
    headers,
  };
}
