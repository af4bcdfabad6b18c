/**
 * What the SDK's own inbox clients share (`sqs.ts`, `kinesis.ts`): one signed request over an
 * AWS JSON protocol (`X-Amz-Target: <prefix>.<action>`), its errors typed as the SDK's
 * (throttling → THROTTLED, 5xx → UNAVAILABLE, both retriable; denied → AUTHORIZATION_FAILED),
 * and the retry loop of a batch send, in which entries the service took are done, entries it
 * refused for good fail alone, and the rest go again together (kafkajs' backoff, `retry.ts`).
 */
import { protocolError, type SluiceClientError, SluiceNumberOfRetriesExceededError } from '../errors.js';
import type { Logger } from '../logger.js';
import { backoff, isRetriable, type RetryOptions, sleep } from '../retry.js';
import { createHttpTransport } from './http.js';
import { type Credentials, createSigner, type Signer } from './sigv4.js';
import type { Transport } from './types.js';

/** One message's outcome: the service's id for it, or why it was not taken. */
export type InboxSendResult = { messageId: string } | { error: SluiceClientError };

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();
const THROTTLED_TYPES = /throttl|OverLimit|ProvisionedThroughputExceeded|LimitExceeded/i;
const UNAVAILABLE_TYPES = /ServiceUnavailable|InternalError|InternalFailure|RequestTimeout/i;
const DENIED_TYPES =
  /AccessDenied|InvalidClientTokenId|SignatureDoesNotMatch|UnrecognizedClient|ExpiredToken|InvalidSecurity|MissingAuthenticationToken|KmsAccessDenied/i;

export interface AwsJsonClientOptions {
  /** Where requests go, e.g. `https://kinesis.eu-west-1.amazonaws.com/`. */
  endpoint: string;
  region: string;
  /** The signing name (`sqs`, `kinesis`). */
  service: string;
  /** The X-Amz-Target prefix (`AmazonSQS`, `Kinesis_20131202`). */
  targetPrefix: string;
  /** `application/x-amz-json-1.0` (SQS) or `-1.1` (Kinesis). */
  contentType: string;
  /** Names the target in errors: `SQS (<queue URL>)`. */
  label: string;
  credentials?: Credentials;
  transport?: Transport;
  requestTimeout?: number;
}

/** The error an AWS JSON answer stands for: its code, and whether to retry. */
export function awsErrorCode(type: string, status: number): { code: string; retriable: boolean } {
  const throttled = status === 429 || THROTTLED_TYPES.test(type);
  const retriable = throttled || status >= 500 || UNAVAILABLE_TYPES.test(type);
  const code = throttled
    ? 'THROTTLED'
    : retriable
      ? 'UNAVAILABLE'
      : DENIED_TYPES.test(type) || status === 403
        ? 'AUTHORIZATION_FAILED'
        : 'INVALID_REQUEST';
  return { code, retriable };
}

export class AwsJsonClient {
  private readonly signer: Signer;
  private readonly transport: Transport;

  constructor(private readonly options: AwsJsonClientOptions) {
    this.signer = createSigner({
      endpoint: options.endpoint,
      region: options.region,
      credentials: options.credentials,
      service: options.service,
    });
    this.transport =
      options.transport ??
      createHttpTransport({
        endpoint: options.endpoint,
        sign: false,
        requestTimeout: options.requestTimeout,
      });
  }

  /** One signed request; non-2xx answers throw typed errors (retriable when the service says so). */
  async call(action: string, body: unknown): Promise<unknown> {
    const signed = await this.signer.sign({
      method: 'POST',
      url: this.options.endpoint,
      headers: {
        'content-type': this.options.contentType,
        'x-amz-target': `${this.options.targetPrefix}.${action}`,
      },
      body: utf8.encode(JSON.stringify(body)),
    });
    const res = await this.transport(signed);
    const text = utf8d.decode(res.body);
    if (res.status >= 200 && res.status < 300) return text ? JSON.parse(text) : {};
    let parsed: { __type?: string; message?: string; Message?: string } = {};
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = { message: text.slice(0, 300) };
    }
    const type = (parsed.__type ?? res.headers['x-amzn-query-error'] ?? '').replace(/^.*#/, '');
    const { code, retriable } = awsErrorCode(type, res.status);
    throw protocolError(
      code,
      `${this.options.label} ${action}: HTTP ${res.status} ${type || 'error'}: ${parsed.message ?? parsed.Message ?? ''}`,
      res.status,
      retriable,
    );
  }
}

/**
 * Sends the entries `indexes` of a batch until each is taken or failed for good. `attempt`
 * sends the pending ones, records in `out` those taken or refused for good, and returns the
 * error of those refused for now (or undefined); entries it leaves unset go again after a
 * backoff. A thrown retriable error retries them all; any other fails them all.
 */
export async function sendWithRetries(
  indexes: number[],
  out: InboxSendResult[],
  attempt: (pending: number[]) => Promise<unknown>,
  retry: Required<RetryOptions>,
  logger: Logger | undefined,
  what: string,
): Promise<void> {
  let pending = indexes;
  const started = Date.now();
  for (let n = 0; ; n++) {
    let last: unknown;
    try {
      last = await attempt(pending);
      // Entries neither taken nor refused for good (refused for now, or missing from the answer) go again.
      pending = pending.filter((i) => out[i] === undefined);
    } catch (err) {
      if (!isRetriable(err)) {
        for (const i of pending) out[i] = { error: err as SluiceClientError };
        return;
      }
      last = err;
    }
    if (pending.length === 0) return;
    if (n >= retry.retries) {
      const error = new SluiceNumberOfRetriesExceededError(last as Error, n, Date.now() - started);
      for (const i of pending) out[i] = { error };
      return;
    }
    const delay = backoff(retry, n);
    logger?.warn(`retrying ${what}`, {
      messages: pending.length,
      attempt: n + 1,
      delayMs: delay,
      error: String(last),
    });
    await sleep(delay);
  }
}

/** Indexes of `sizes` cut into consecutive chunks of at most `maxEntries` and `maxBytes`. */
export function chunkIndexes(sizes: readonly number[], maxEntries: number, maxBytes: number): number[][] {
  const chunks: number[][] = [];
  let chunk: number[] = [];
  let bytes = 0;
  sizes.forEach((size, i) => {
    if (chunk.length === maxEntries || (chunk.length > 0 && bytes + size > maxBytes)) {
      chunks.push(chunk);
      chunk = [];
      bytes = 0;
    }
    chunk.push(i);
    bytes += size;
  });
  if (chunk.length > 0) chunks.push(chunk);
  return chunks;
}
