/**
 * The SDK's own client for the acks=1 inbox on SQS: `SendMessageBatch` over SQS's AWS JSON
 * 1.0 protocol (`X-Amz-Target: AmazonSQS.SendMessageBatch`), SigV4-signed for service
 * `sqs` by the signer the SDK uses for Function URLs. The AWS SDK's SQS client would add
 * some forty packages to every producer's install and bundle (docs/design.md §18); one
 * action needs none of them.
 *
 * Retries (kafkajs' policy, `retry.ts`): throttling (`RequestThrottled`, `ThrottlingException`,
 * `KmsThrottled`), 5xx and broken connections retry the whole request; entries a
 * `SendMessageBatch` answers as `Failed` with `SenderFault: false` are retried alone;
 * `SenderFault: true` fails that entry for good. A retried entry may have landed the first
 * time: the batcher deduplicates it (by producer sequence or event id).
 */
import { protocolError, type SluiceClientError, SluiceNumberOfRetriesExceededError } from '../errors.js';
import type { Logger } from '../logger.js';
import { backoff, DEFAULT_RETRY, isRetriable, type RetryOptions, sleep } from '../retry.js';
import { createHttpTransport } from './http.js';
import { type Credentials, createSigner, type Signer } from './sigv4.js';
import type { Transport } from './types.js';

/** SQS's limits of one SendMessageBatch: 10 entries, 256 KiB of bodies in all. */
export const SQS_BATCH_ENTRIES = 10;
export const SQS_BATCH_BYTES = 256 * 1024;

export interface SqsInboxClientOptions {
  queueUrl: string;
  region: string;
  /** By default the environment's, else `@aws-sdk/credential-provider-node`'s chain when installed. */
  credentials?: Credentials;
  /** Sends the signed requests; by default Node's fetch. */
  transport?: Transport;
  retry?: RetryOptions;
  logger?: Logger;
  /** Per-request timeout (ms). @default 30000 */
  requestTimeout?: number;
}

/** One message's outcome: its SQS message id, or why it was not taken. */
export type SqsSendResult = { messageId: string } | { error: SluiceClientError };

interface BatchAnswer {
  Successful?: { Id: string; MessageId: string }[];
  Failed?: { Id: string; SenderFault?: boolean; Code?: string; Message?: string }[];
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();
const THROTTLED_TYPES = /throttl|OverLimit/i;
const UNAVAILABLE_TYPES = /ServiceUnavailable|InternalError|InternalFailure|RequestTimeout/i;
const DENIED_TYPES =
  /AccessDenied|InvalidClientTokenId|SignatureDoesNotMatch|UnrecognizedClient|ExpiredToken|InvalidSecurity|MissingAuthenticationToken|KmsAccessDenied/i;

/**
 * @example
 * const sqs = new SqsInboxClient({ queueUrl, region: 'eu-west-1' });
 * const [result] = await sqs.sendMessages([body]); // { messageId: '…' }
 */
export class SqsInboxClient {
  readonly queueUrl: string;
  /** Where requests go: the queue URL's origin (the JSON protocol names the queue in the body). */
  readonly endpoint: string;
  private readonly signer: Signer;
  private readonly transport: Transport;
  private readonly retry: Required<RetryOptions>;

  constructor(private readonly options: SqsInboxClientOptions) {
    this.queueUrl = options.queueUrl;
    this.endpoint = `${new URL(options.queueUrl).origin}/`;
    this.signer = createSigner({
      endpoint: this.endpoint,
      region: options.region,
      credentials: options.credentials,
      service: 'sqs',
    });
    this.transport =
      options.transport ??
      createHttpTransport({ endpoint: this.endpoint, sign: false, requestTimeout: options.requestTimeout });
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
  }

  /**
   * Enqueues `bodies` in SendMessageBatch requests of up to 10 (and 256 KiB), concurrently;
   * resolves, once every one is taken or has failed for good, with one result per body, in order.
   */
  async sendMessages(bodies: readonly string[]): Promise<SqsSendResult[]> {
    const out: SqsSendResult[] = new Array(bodies.length);
    const chunks: number[][] = [];
    let chunk: number[] = [];
    let bytes = 0;
    bodies.forEach((body, i) => {
      const size = utf8.encode(body).length;
      if (chunk.length === SQS_BATCH_ENTRIES || (chunk.length > 0 && bytes + size > SQS_BATCH_BYTES)) {
        chunks.push(chunk);
        chunk = [];
        bytes = 0;
      }
      chunk.push(i);
      bytes += size;
    });
    if (chunk.length > 0) chunks.push(chunk);
    await Promise.all(chunks.map((c) => this.sendChunk(bodies, c, out)));
    return out;
  }

  private async sendChunk(bodies: readonly string[], indexes: number[], out: SqsSendResult[]): Promise<void> {
    let pending = indexes;
    const started = Date.now();
    for (let attempt = 0; ; attempt++) {
      let last: unknown;
      try {
        const answer = (await this.call('SendMessageBatch', {
          QueueUrl: this.queueUrl,
          Entries: pending.map((i) => ({ Id: String(i), MessageBody: bodies[i] })),
        })) as BatchAnswer;
        for (const s of answer.Successful ?? []) out[Number(s.Id)] = { messageId: s.MessageId };
        for (const f of answer.Failed ?? []) {
          const error = protocolError(
            f.SenderFault ? 'INVALID_REQUEST' : 'UNAVAILABLE',
            `SQS SendMessageBatch refused a message: ${f.Code ?? 'error'}: ${f.Message ?? ''}`,
            f.SenderFault ? 400 : 500,
            !f.SenderFault,
          );
          if (f.SenderFault) out[Number(f.Id)] = { error };
          else last = error;
        }
        // Entries neither taken nor refused for good (Failed, or missing from the answer) go again.
        pending = pending.filter((i) => out[i] === undefined);
      } catch (err) {
        if (!isRetriable(err)) {
          for (const i of pending) out[i] = { error: err as SluiceClientError };
          return;
        }
        last = err;
      }
      if (pending.length === 0) return;
      if (attempt >= this.retry.retries) {
        const error = new SluiceNumberOfRetriesExceededError(last as Error, attempt, Date.now() - started);
        for (const i of pending) out[i] = { error };
        return;
      }
      const delay = backoff(this.retry, attempt);
      this.options.logger?.warn('retrying SQS inbox send', {
        messages: pending.length,
        attempt: attempt + 1,
        delayMs: delay,
        error: String(last),
      });
      await sleep(delay);
    }
  }

  /** One signed JSON-protocol request; non-2xx answers throw typed errors (retriable when SQS says so). */
  private async call(action: string, body: unknown): Promise<unknown> {
    const signed = await this.signer.sign({
      method: 'POST',
      url: this.endpoint,
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': `AmazonSQS.${action}`,
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
    const throttled = res.status === 429 || THROTTLED_TYPES.test(type);
    const retriable = throttled || res.status >= 500 || UNAVAILABLE_TYPES.test(type);
    const code = throttled
      ? 'THROTTLED'
      : retriable
        ? 'UNAVAILABLE'
        : DENIED_TYPES.test(type) || res.status === 403
          ? 'AUTHORIZATION_FAILED'
          : 'INVALID_REQUEST';
    throw protocolError(
      code,
      `SQS ${action} (${this.queueUrl}): HTTP ${res.status} ${type || 'error'}: ${parsed.message ?? parsed.Message ?? ''}`,
      res.status,
      retriable,
    );
  }
}
