/**
 * The HTTP adapter shared by every handler: a Lambda Function URL event (payload 2.0) in,
 * a result out; routing by method and path template; one mapping from typed errors to the
 * status codes and error bodies of API.md. `sluice dev` feeds this same code.
 */
import type { APIGatewayProxyStructuredResultV2, LambdaFunctionURLEvent } from 'aws-lambda';
import * as z from 'zod';
import {
  InvalidRequestError,
  SluiceError,
  ThrottledError,
  UnavailableError,
  UnsupportedMediaTypeError,
} from '../core/errors.js';
import { ConflictError, ItemTooLargeError, TransactionTooLargeError } from '../core/ports.js';
import { ChunkedBody } from './chunked-body.js';
import { MAX_RESPONSE_BYTES, resultBytes } from './response-size.js';

export interface HttpRequest {
  method: string;
  path: string;
  /** Decoded query parameters (the last one wins when repeated). */
  query: Record<string, string>;
  /** Lower-cased header names. */
  headers: Record<string, string>;
  body: Uint8Array;
  /** Path parameters filled by the router, e.g. `{ group: 'g1' }`. */
  params: Record<string, string>;
}

export interface HttpResponse {
  status: number;
  headers?: Record<string, string>;
  /**
   * A value serialised as JSON, or raw bytes sent as they are (a `Uint8Array`, or a
   * {@link ChunkedBody}: pieces an in-process server writes without joining them).
   */
  body?: unknown;
}

export type RouteHandler = (req: HttpRequest) => Promise<HttpResponse>;

export interface Route {
  method: 'GET' | 'POST' | 'DELETE' | 'PUT' | 'PATCH';
  /** A path template such as `/v1/groups/{group}/heartbeat`. */
  path: string;
  handle: RouteHandler;
}

/** Bodies above this are refused before parsing (Lambda's synchronous payload limit). */
export const MAX_REQUEST_BYTES = 6 * 1024 * 1024;

export const BINARY_BATCHES = 'application/vnd.sluice.batches';

/** Builds a Lambda Function URL event from parts; `sluice dev` and tests use it. */
export function toEvent(req: {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: Uint8Array;
}): LambdaFunctionURLEvent {
  const url = new URL(req.url, 'http://localhost');
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  const bytes = req.body && req.body.length > 0 ? req.body : undefined;
  const event = {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers: req.headers ?? {},
    queryStringParameters: query,
    requestContext: {
      http: {
        method: req.method.toUpperCase(),
        path: url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: '',
      },
    } as LambdaFunctionURLEvent['requestContext'],
    isBase64Encoded: bytes !== undefined,
  } as LambdaFunctionURLEvent;
  return withRawBody(event, bytes);
}

/**
 * In-process callers (sluice dev, the SDK's in-process transport) hand bytes over as they
 * are; the base64 form Lambda uses is produced only if something reads `body`.
 */
const RAW_BODY = Symbol.for('sluice.rawBody');
type WithRaw = { [RAW_BODY]?: Uint8Array | ChunkedBody };

function withRawBody<T extends { body?: string }>(target: T, raw: Uint8Array | ChunkedBody | undefined): T {
  if (raw === undefined) return target;
  let encoded: string | undefined;
  Object.defineProperty(target, 'body', {
    enumerable: true,
    configurable: true,
    get: () => {
      const bytes = raw instanceof ChunkedBody ? raw.bytes() : raw;
      encoded ??= Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
      return encoded;
    },
  });
  Object.defineProperty(target, RAW_BODY, { value: raw, enumerable: false });
  return target;
}

/** The bytes of an event's or result's body, without a base64 round trip when in-process. */
export function rawBody(x: { body?: string; isBase64Encoded?: boolean }): Uint8Array {
  const raw = (x as WithRaw)[RAW_BODY];
  if (raw) return raw instanceof ChunkedBody ? raw.bytes() : raw;
  const buf = x.isBase64Encoded ? Buffer.from(x.body ?? '', 'base64') : Buffer.from(x.body ?? '', 'utf8');
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * The body as the pieces it was made of, for a server that writes them one after another
 * (`sluice dev`): a {@link ChunkedBody}'s chunks as they are, else the one array of
 * {@link rawBody}.
 */
export function rawBodyChunks(x: { body?: string; isBase64Encoded?: boolean }): readonly Uint8Array[] {
  const raw = (x as WithRaw)[RAW_BODY];
  return raw instanceof ChunkedBody ? raw.chunks : [rawBody(x)];
}

/** Reads a Function URL event into an {@link HttpRequest}. */
export function fromEvent(event: LambdaFunctionURLEvent): HttpRequest {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(event.headers ?? {})) if (v !== undefined) headers[k.toLowerCase()] = v;
  const query: Record<string, string> = {};
  const params = new URLSearchParams(event.rawQueryString ?? '');
  for (const [k, v] of params) query[k] = v;
  const body = rawBody(event);
  return {
    method: (event.requestContext?.http?.method ?? 'GET').toUpperCase(),
    path: event.rawPath ?? event.requestContext?.http?.path ?? '/',
    query,
    headers,
    body,
    params: {},
  };
}

/** Turns an {@link HttpResponse} into a Function URL result, base64 for bytes. */
export function toResult(res: HttpResponse): APIGatewayProxyStructuredResultV2 {
  if (res.body instanceof Uint8Array || res.body instanceof ChunkedBody) {
    const result: APIGatewayProxyStructuredResultV2 = {
      statusCode: res.status,
      headers: { 'content-type': 'application/octet-stream', ...res.headers },
      isBase64Encoded: true,
    };
    return withRawBody(result, res.body);
  }
  if (res.body === undefined) return { statusCode: res.status, headers: res.headers ?? {}, body: '' };
  return {
    statusCode: res.status,
    headers: { 'content-type': 'application/json', ...res.headers },
    body: JSON.stringify(res.body),
  };
}

/** The error body of API.md. */
export function errorBody(code: string, message: string, retriable: boolean) {
  return { error: { code, message, retriable } };
}

/** Maps any thrown value to the status and body of API.md's error table. */
export function errorResponse(err: unknown): HttpResponse {
  const e = asSluiceError(err);
  if (e) return { status: e.status, body: errorBody(e.code, e.message, e.retriable) };
  return {
    status: 500,
    body: errorBody('INTERNAL_ERROR', 'internal error; the request may be retried', true),
  };
}

/** Converts port and dependency errors to the API's typed errors; undefined for bugs. */
export function asSluiceError(err: unknown): SluiceError | undefined {
  if (err instanceof SluiceError) return err;
  if (err instanceof z.ZodError) return zodToInvalid(err);
  if (err instanceof ConflictError) return new UnavailableError('too much contention; retry', { cause: err });
  if (err instanceof ItemTooLargeError || err instanceof TransactionTooLargeError) {
    return new SluiceError('MESSAGE_TOO_LARGE', err.message, { cause: err });
  }
  const name = (err as { name?: string } | undefined)?.name ?? '';
  if (/Throttl|ProvisionedThroughputExceeded|SlowDown|RequestLimitExceeded|TooManyRequests/.test(name)) {
    return new ThrottledError(`storage throttled: ${name}`, { cause: err });
  }
  const status = (err as { $metadata?: { httpStatusCode?: number } } | undefined)?.$metadata?.httpStatusCode;
  if (
    (status !== undefined && status >= 500) ||
    /TimeoutError|ECONNRESET|ECONNREFUSED|EPIPE|ServiceUnavailable|InternalServerError|InternalError/.test(
      name,
    )
  ) {
    return new UnavailableError(`storage unavailable: ${name}`, { cause: err });
  }
  return undefined;
}

function zodToInvalid(err: z.ZodError, what = 'field'): InvalidRequestError {
  const issue = err.issues[0];
  if (issue?.code === 'unrecognized_keys') {
    // A typo must not pass as "ignored": name the unknown field where it is.
    const field = [...issue.path.map(String), issue.keys[0]!].join('.');
    return new InvalidRequestError(`${field}: unknown ${what} (not in the API)`, field, { cause: err });
  }
  const field = issue?.path.map(String).join('.') || undefined;
  if (field && issue?.code === 'invalid_type' && issue.input === undefined) {
    return new InvalidRequestError(`${field}: required ${what} is missing`, field, { cause: err });
  }
  const message = field ? `${field}: ${issue?.message}` : (issue?.message ?? 'invalid request');
  return new InvalidRequestError(message, field, { cause: err });
}

/** `application/json` or a `+json` type, with or without parameters (`; charset=utf-8`). */
const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;.*)?$/i;

/**
 * Parses the body as JSON; an empty body is `{}`. A non-empty body must say it is JSON
 * (`content-type: application/json`), else `UNSUPPORTED_MEDIA_TYPE` (415): a form post or a
 * batch sent to a JSON endpoint is refused before it is read.
 */
export function jsonBody(req: HttpRequest): unknown {
  if (req.body.length === 0) return {};
  const type = req.headers['content-type'];
  if (type === undefined || !JSON_MEDIA_TYPE.test(type.trim())) {
    throw new UnsupportedMediaTypeError(
      `this endpoint takes a JSON body: send 'content-type: application/json' (got ${type === undefined ? 'none' : `'${type}'`})`,
    );
  }
  try {
    return JSON.parse(Buffer.from(req.body).toString('utf8'));
  } catch (cause) {
    throw new InvalidRequestError('the body is not valid JSON', undefined, { cause });
  }
}

/** Parses and validates the JSON body; errors name the offending field. */
export function parseJson<T extends z.ZodType>(req: HttpRequest, schema: T): z.infer<T> {
  const result = schema.safeParse(jsonBody(req));
  if (!result.success) throw zodToInvalid(result.error);
  return result.data;
}

/** Validates query parameters (all strings) with a schema; errors name the parameter. */
export function parseQuery<T extends z.ZodType>(req: HttpRequest, schema: T): z.infer<T> {
  const result = schema.safeParse(req.query);
  if (!result.success) throw zodToInvalid(result.error, 'query parameter');
  return result.data;
}

interface CompiledRoute extends Route {
  regex: RegExp;
  names: string[];
}

function compile(route: Route): CompiledRoute {
  const names: string[] = [];
  const source = route.path
    .split('/')
    .map((seg) => {
      const m = /^\{(\w+)\}$/.exec(seg);
      if (!m) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(m[1]!);
      return '([^/]+)';
    })
    .join('/');
  return { ...route, regex: new RegExp(`^${source}/?$`), names };
}

/** Finds the route for a request; 404/405 as API errors when none fits. */
export interface HandlerHooks {
  /** Called with unexpected errors (answered 500): log them. Default: a JSON line on stderr. */
  onError?: (err: unknown, req: HttpRequest) => void;
  /** Called after every invocation, e.g. to flush metrics. */
  after?: () => void | Promise<void>;
  /** The largest result document answered (bytes); default {@link MAX_RESPONSE_BYTES}. */
  maxResponseBytes?: number;
}

function logToStderr(err: unknown, req: HttpRequest): void {
  console.error(
    JSON.stringify({
      level: 'ERROR',
      message: 'unhandled error',
      path: req.path,
      error: String((err as Error)?.stack ?? err),
    }),
  );
}

export function dispatch(
  routes: readonly Route[],
  hooks: HandlerHooks = { onError: logToStderr },
): (req: HttpRequest) => Promise<HttpResponse> {
  const compiled = routes.map(compile);
  return async (req) => {
    let pathMatched = false;
    for (const r of compiled) {
      const m = r.regex.exec(req.path);
      if (!m) continue;
      pathMatched = true;
      if (r.method !== req.method) continue;
      const params: Record<string, string> = {};
      let bad = false;
      r.names.forEach((name, i) => {
        try {
          params[name] = decodeURIComponent(m[i + 1]!);
        } catch {
          bad = true;
        }
      });
      if (bad) return errorResponse(new InvalidRequestError('malformed percent-encoding in the path'));
      try {
        return await r.handle({ ...req, params });
      } catch (err) {
        const res = errorResponse(err);
        // A bug, not a request error: leave a trace in the function's log.
        if (res.status === 500) hooks.onError?.(err, req);
        return res;
      }
    }
    if (pathMatched) {
      return {
        status: 405,
        body: errorBody('INVALID_REQUEST', `${req.method} is not allowed on ${req.path}`, false),
      };
    }
    return { status: 404, body: errorBody('INVALID_REQUEST', `no such path: ${req.path}`, false) };
  };
}

/**
 * Wraps routes into a Lambda Function URL handler. Oversized bodies are refused with
 * MESSAGE_TOO_LARGE before anything is parsed.
 */
export function lambdaHandler(
  routes: readonly Route[] | (() => Promise<readonly Route[]>),
  hooks: HandlerHooks = { onError: logToStderr },
): (event: LambdaFunctionURLEvent) => Promise<APIGatewayProxyStructuredResultV2> {
  let run: Promise<(req: HttpRequest) => Promise<HttpResponse>> | undefined;
  const answer = async (event: LambdaFunctionURLEvent): Promise<HttpResponse> => {
    let req: HttpRequest;
    try {
      req = fromEvent(event);
    } catch (err) {
      return errorResponse(new InvalidRequestError('unreadable request', undefined, { cause: err }));
    }
    if (req.body.length > MAX_REQUEST_BYTES) {
      return errorResponse(
        new SluiceError(
          'MESSAGE_TOO_LARGE',
          `request body of ${req.body.length} bytes exceeds ${MAX_REQUEST_BYTES}`,
        ),
      );
    }
    try {
      run ??= (async () => dispatch(typeof routes === 'function' ? await routes() : routes, hooks))();
      return await (await run)(req);
    } catch (err) {
      // The instance could not start (configuration, storage): say so, and try again next time.
      run = undefined;
      hooks.onError?.(err, req);
      const why = err instanceof Error ? err.message : String(err);
      return errorResponse(
        new UnavailableError(`the function could not start (${why}); retry`, { cause: err }),
      );
    }
  };
  const limit = hooks.maxResponseBytes ?? MAX_RESPONSE_BYTES;
  return async (event) => {
    try {
      const res = await answer(event);
      const result = toResult(res);
      const raw = res.body instanceof Uint8Array || res.body instanceof ChunkedBody ? res.body : undefined;
      const size = resultBytes(result, raw?.length);
      if (size <= limit) return result;
      // Lambda would refuse it (502, for every retry): answer a typed error instead.
      const err = new SluiceError(
        'RESPONSE_TOO_LARGE',
        `the response would be ${size} bytes, over Lambda's limit of ${limit}; ask for less (maxBytes, maxRecords)`,
      );
      hooks.onError?.(err, fromEvent(event));
      return toResult(errorResponse(err));
    } finally {
      await hooks.after?.();
    }
  };
}
