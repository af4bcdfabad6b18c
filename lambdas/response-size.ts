/**
 * Lambda's invocation payload limit, measured the way Lambda measures it. A Function URL
 * hands the function's result to Lambda as one JSON document (`statusCode`, `headers`,
 * `body`); a buffered response whose document is above 6 MB is refused and the caller gets
 * a 502, for every retry of the same offset. Every handler's result is held under
 * {@link MAX_RESPONSE_BYTES}: the fetch function budgets its JSON as it builds it
 * ({@link ResponseBudget}), and `lambdaHandler` checks every result before it leaves.
 * Sources: AWS Lambda quotas ("Invocation payload (request and response): 6 MB each for
 * synchronous"); Function URL response format (payload 2.0, base64 for bytes).
 */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { LAMBDA_PAYLOAD_BYTES, REQUEST_EVENT_RESERVE } from '../core/lambda-payload.js';

export { LAMBDA_PAYLOAD_BYTES, REQUEST_EVENT_RESERVE };

/**
 * The largest result document a handler returns: Lambda's limit less room for the
 * response headers Lambda and the Function URL add.
 */
export const MAX_RESPONSE_BYTES = LAMBDA_PAYLOAD_BYTES - 16 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Bytes a value's JSON takes once it is itself the `body` string of a result document:
 * its UTF-8 JSON, plus one byte per `"` and `\` escaped again. (JSON.stringify leaves no
 * raw control characters, so nothing else grows.)
 */
export function bodyJsonBytes(value: unknown): number {
  return escapedBytes(JSON.stringify(value) ?? '');
}

/** Bytes a JSON string takes as the `body` of a result document (without its quotes). */
export function escapedBytes(json: string): number {
  let extra = 0;
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i);
    if (c === QUOTE || c === BACKSLASH) extra++;
  }
  return Buffer.byteLength(json, 'utf8') + extra;
}

/** Base64 length of `n` bytes. */
export function base64Bytes(n: number): number {
  return 4 * Math.ceil(n / 3);
}

/** Content types a Function URL hands the function as text; any other body is base64. */
const TEXT_TYPES = /^(text\/|application\/(json|javascript|xml|x-www-form-urlencoded)\b|[^;]*\+json\b)/i;

/**
 * Bytes a request body takes in the event a Function URL builds for it (payload 2.0): a
 * text body as an escaped JSON string, any other base64 — so a binary produce body of
 * 4.5 MB is already over the 6 MB Lambda passes to a function.
 */
export function requestBodyEventBytes(body: Uint8Array, contentType: string | undefined): number {
  if (TEXT_TYPES.test(contentType ?? '')) {
    return Buffer.byteLength(JSON.stringify(Buffer.from(body).toString('utf8')), 'utf8') - 2;
  }
  return base64Bytes(body.length);
}

/**
 * The most bytes a body of `n` bytes can take in the event, whatever its type: 6 per byte
 * (a JSON-escaped `\u00XX`), more than base64's 4 per 3. A body whose bound is within a
 * limit need not be measured exactly.
 */
export function requestBodyEventBytesBound(n: number): number {
  return n * 6;
}

/** Size of a result document as Lambda serialises it, in bytes (base64 bodies counted encoded). */
export function resultBytes(result: APIGatewayProxyStructuredResultV2, rawBodyBytes?: number): number {
  // Every field but `body`, listed without reading it: an in-process result's `body` is a
  // getter that base64-encodes the raw bytes (lambdas/http.ts), work for nothing when their
  // length is known (1 MiB per fetch response in sluice dev).
  const rest: Record<string, unknown> = {};
  for (const key of Object.keys(result)) if (key !== 'body') rest[key] = result[key as keyof typeof result];
  const envelope = Buffer.byteLength(JSON.stringify({ ...rest, body: '' }), 'utf8');
  if (rawBodyBytes !== undefined) return envelope + base64Bytes(rawBodyBytes);
  const body = result.body;
  if (body === undefined) return envelope;
  return envelope + (result.isBase64Encoded ? body.length : escapedBytes(body));
}

/**
 * What is left of a response's byte budget while a JSON body is built piece by piece.
 * `records` counts the records already taken, so the first one that cannot fit at all is
 * told apart from the ones that wait for the next fetch.
 */
export class ResponseBudget {
  records = 0;
  constructor(public left: number) {}

  /** Spends `bytes` if they fit; false (and nothing spent) otherwise. */
  take(bytes: number): boolean {
    if (bytes > this.left) return false;
    this.left -= bytes;
    return true;
  }
}
