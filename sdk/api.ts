/**
 * One client of API.md shared by producers, consumers and admins of a `Sluice`: finds the
 * function URLs with `GET /v1/metadata` on the bootstrap endpoint, sends requests through
 * the transport, turns error bodies into typed errors, and caches topic metadata.
 */
import { protocolError, type SluiceClientError, UnknownTopicOrPartitionError } from './errors.js';
import type { Logger } from './logger.js';
import type { InboxConfig } from './producer/inbox.js';
import { type RetryOptions, withRetry } from './retry.js';
import type { Credentials } from './transport/sigv4.js';
import type { Transport, TransportResponse } from './transport/types.js';

export type FunctionName = 'produce' | 'fetch' | 'admin' | 'groups' | 'schemas';

export interface ClusterMetadata {
  clusterId: string;
  /** Function URLs; `schemas` is absent in deployments without a schema registry. */
  endpoints: Partial<Record<FunctionName, string>> & Record<Exclude<FunctionName, 'schemas'>, string>;
  /** The Confluent-compatible schema registry's URL (`<schemas endpoint>/schemas`). */
  schemaRegistry?: string;
  /**
   * `maxMessageBytes`: the topic's `max.message.bytes` (bytes per record batch); absent from
   * servers older than it, which the SDK then takes as Kafka's default.
   */
  topics: { name: string; partitions: number; maxMessageBytes?: number }[];
  /**
   * Where acks=1 sends go (absent when the cluster has no inbox): an SQS queue or a Kinesis
   * stream the client sends to itself, or `http` when only `POST /v1/inbox` reaches it
   * (`sluice dev` on the embedded queue).
   */
  inbox?:
    | { type: 'sqs'; queueUrl: string; region: string }
    | { type: 'kinesis'; streamArn: string; region: string }
    | { type: 'http' };
}

/** Kafka's (and Sluice's) default `max.message.bytes`. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

export interface ApiRequest {
  method: 'GET' | 'POST' | 'DELETE' | 'PATCH';
  path: string;
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  body?: Uint8Array;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface ApiOptions {
  endpoint: string;
  transport: Transport;
  retry?: RetryOptions;
  logger: Logger;
  /** Topic metadata older than this is refreshed on use (ms). @default 300000 */
  metadataMaxAge?: number;
  /** How acks=1 and acks=0 sends reach the inbox (SluiceConfig.inbox), with the client's credentials. */
  inbox?: InboxConfig & { credentials?: Credentials; region?: string; requestTimeout?: number };
}

const utf8 = new TextEncoder();
const utf8d = new TextDecoder();

export class SluiceApi {
  readonly endpoint: string;
  readonly retry: RetryOptions | undefined;
  readonly logger: Logger;
  readonly inbox: ApiOptions['inbox'];
  private readonly transport: Transport;
  private readonly maxAge: number;
  private meta: { at: number; value: ClusterMetadata } | undefined;
  private loading: Promise<ClusterMetadata> | undefined;

  constructor(options: ApiOptions) {
    this.endpoint = options.endpoint.replace(/\/+$/, '');
    this.transport = options.transport;
    this.retry = options.retry;
    this.logger = options.logger;
    this.maxAge = options.metadataMaxAge ?? 300_000;
    this.inbox = options.inbox;
  }

  /** Cluster metadata, cached; `refresh` forces a new `GET /v1/metadata`. */
  async metadata(refresh = false): Promise<ClusterMetadata> {
    if (!refresh && this.meta && Date.now() - this.meta.at < this.maxAge) return this.meta.value;
    this.loading ??= withRetry(this.retry, () =>
      this.once(this.endpoint, { method: 'GET', path: '/v1/metadata' }),
    )
      .then((res) => {
        const value = parseJson(res) as ClusterMetadata;
        this.meta = { at: Date.now(), value };
        return value;
      })
      .finally(() => {
        this.loading = undefined;
      });
    return this.loading;
  }

  /** The partition count of a topic; metadata is refreshed once when the topic is not known. */
  async partitionCount(topic: string): Promise<number> {
    let found = (await this.metadata()).topics.find((t) => t.name === topic);
    if (!found) found = (await this.metadata(true)).topics.find((t) => t.name === topic);
    if (!found) throw new UnknownTopicOrPartitionError(`topic '${topic}' does not exist`, { status: 404 });
    return found.partitions;
  }

  /**
   * A topic's `max.message.bytes` (cached with the metadata; {@link invalidate} after a
   * `MESSAGE_TOO_LARGE` answer to learn a changed limit).
   */
  async maxMessageBytes(topic: string): Promise<number> {
    await this.partitionCount(topic);
    const found = (await this.metadata()).topics.find((t) => t.name === topic);
    return found?.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
  }

  /** Forgets cached metadata (after UNKNOWN_TOPIC_OR_PARTITION, topic changes). */
  invalidate(): void {
    this.meta = undefined;
  }

  /** One request to a function, with no retry. Non-2xx answers throw typed errors. */
  async send(fn: FunctionName, req: ApiRequest): Promise<TransportResponse> {
    const base = (await this.metadata()).endpoints[fn] ?? this.endpoint;
    return this.once(base, req);
  }

  /** A request with the client's retry policy (use only where a retry is harmless). */
  async call(
    fn: FunctionName,
    req: ApiRequest,
    retry: RetryOptions | undefined = this.retry,
  ): Promise<TransportResponse> {
    return withRetry(
      retry,
      () => this.send(fn, req),
      (err, attempt, delay) => {
        this.logger.warn('retrying request', {
          path: req.path,
          attempt: attempt + 1,
          delayMs: delay,
          error: String(err),
        });
        return undefined;
      },
    );
  }

  /** {@link call} and parse the JSON answer (`undefined` for an empty body). */
  async json<T>(fn: FunctionName, req: ApiRequest, retry?: RetryOptions): Promise<T> {
    return parseJson(await this.call(fn, req, retry)) as T;
  }

  /** One request to a function with no retry; any HTTP answer resolves (for non-API.md bodies). */
  async exchange(fn: FunctionName, req: ApiRequest): Promise<TransportResponse> {
    const base = (await this.metadata()).endpoints[fn] ?? this.endpoint;
    return this.once(base, req, false);
  }

  private async once(base: string, req: ApiRequest, throwOnError = true): Promise<TransportResponse> {
    const url = new URL(`${base.replace(/\/+$/, '')}${req.path}`);
    for (const [k, v] of Object.entries(req.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const headers: Record<string, string> = { ...req.headers };
    let body = req.body;
    if (req.json !== undefined) {
      body = utf8.encode(JSON.stringify(req.json));
      headers['content-type'] = 'application/json';
    }
    const res = await this.transport({
      method: req.method,
      url: url.toString(),
      headers,
      body,
      signal: req.signal,
    });
    if (!throwOnError || (res.status >= 200 && res.status < 300)) return res;
    throw errorOf(res, `${req.method} ${req.path}`);
  }
}

/** The typed error for a non-2xx answer; bodies that are not API.md errors get a generic code. */
export function errorOf(res: TransportResponse, what: string): SluiceClientError {
  let parsed: { error?: { code?: unknown; message?: unknown; retriable?: unknown } } | undefined;
  try {
    parsed = JSON.parse(utf8d.decode(res.body));
  } catch {
    parsed = undefined;
  }
  const e = parsed?.error;
  if (e && typeof e.code === 'string') {
    return protocolError(
      e.code,
      typeof e.message === 'string' ? e.message : e.code,
      res.status,
      e.retriable === true || res.status >= 500,
    );
  }
  // Not from a Sluice handler: the Function URL front door (IAM 403, throttling 429, 502 of a crashed function).
  const text = utf8d.decode(res.body.subarray(0, 300)).trim();
  const code =
    res.status === 403
      ? 'AUTHORIZATION_FAILED'
      : res.status === 429
        ? 'THROTTLED'
        : res.status >= 500
          ? 'UNAVAILABLE'
          : res.status === 413
            ? 'MESSAGE_TOO_LARGE'
            : 'INVALID_REQUEST';
  return protocolError(
    code,
    `${what}: HTTP ${res.status}${text ? ` ${text}` : ''}`,
    res.status,
    res.status === 429 || res.status >= 500,
  );
}

export function parseJson(res: TransportResponse): unknown {
  if (res.body.length === 0) return undefined;
  return JSON.parse(utf8d.decode(res.body));
}
