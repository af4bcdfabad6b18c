/**
 * A local stand-in for Lambda Function URLs and the Lambda Invoke API, for the deploy smoke
 * test. An HTTP request becomes a Function URL payload 2.0 event as AWS builds it
 * (lower-cased headers, `rawPath`, `rawQueryString`, `requestContext.http`, a body base64
 * encoded unless its content type is text), goes to the function that owns the path, and the
 * function's result becomes the HTTP response (base64 bodies decoded, a result without
 * `statusCode` answered as a 200 JSON body). `POST /2015-03-31/functions/<name>/invocations`
 * (what `@aws-sdk/client-lambda` sends with AWS_ENDPOINT_URL_LAMBDA) is recorded; a function
 * of the deployment is invoked (asynchronously for `InvocationType: Event`, answering 202,
 * as Lambda does), any other name (the subscription target) is answered `{}`. A PUT under
 * `/cloudformation/` is a custom resource's response (its ResponseURL), recorded.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ACCOUNT, REGION, type RunningFunction } from './deployment.js';

/** The content types a Function URL passes as text; every other body is base64 (AWS docs). */
const TEXT = /^(text\/|application\/(json|[\w.+-]+\+json|xml|javascript|x-www-form-urlencoded))/i;

/** Lambda's limit on a synchronous invocation's request and response payload. */
export const PAYLOAD_LIMIT = 6 * 1024 * 1024;

export interface SeenEvent {
  function: string;
  event: FunctionUrlEvent;
  statusCode: number;
}

export interface FunctionUrlEvent {
  version: '2.0';
  routeKey: '$default';
  rawPath: string;
  rawQueryString: string;
  cookies?: string[];
  headers: Record<string, string>;
  queryStringParameters?: Record<string, string>;
  requestContext: Record<string, unknown> & { http: { method: string; path: string; [k: string]: string } };
  body?: string;
  isBase64Encoded: boolean;
}

/** The payload 2.0 event of one HTTP request, as a Function URL with IAM auth builds it. */
export function functionUrlEvent(req: {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  host: string;
}): FunctionUrlEvent {
  const url = new URL(req.url, `http://${req.host}`);
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (const [k, v] of Object.entries(req.headers)) {
    if (v === undefined) continue;
    if (k.toLowerCase() === 'cookie') cookies = String(v).split('; ');
    else headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
  }
  headers['x-amzn-trace-id'] =
    `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomUUID().replace(/-/g, '').slice(0, 24)}`;
  headers['x-forwarded-proto'] = 'https';
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = query[k] === undefined ? v : `${query[k]},${v}`;
  const now = new Date();
  const text = TEXT.test(headers['content-type'] ?? '');
  const hasBody = req.body.length > 0;
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    ...(cookies ? { cookies } : {}),
    headers,
    ...(url.search ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: ACCOUNT,
      apiId: 'smoke0000000000000000000000',
      authorizer: {
        iam: {
          accessKey: 'AKIAIOSFODNN7EXAMPLE',
          accountId: ACCOUNT,
          callerId: 'AIDACKCEVSQ6C2EXAMPLE',
          principalOrgId: null,
          userArn: `arn:aws:iam::${ACCOUNT}:user/smoke`,
          userId: 'AIDACKCEVSQ6C2EXAMPLE',
        },
      },
      domainName: `smoke0000000000000000000000.lambda-url.${REGION}.on.aws`,
      domainPrefix: 'smoke0000000000000000000000',
      http: {
        method: req.method.toUpperCase(),
        path: url.pathname,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: headers['user-agent'] ?? '',
      },
      requestId: randomUUID(),
      routeKey: '$default',
      stage: '$default',
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(hasBody ? { body: req.body.toString(text ? 'utf8' : 'base64') } : {}),
    isBase64Encoded: hasBody && !text,
  };
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export interface FunctionUrls {
  url: string;
  /** Every Function URL event answered, in order. */
  seen: SeenEvent[];
  /** Every Lambda Invoke: the function's name and the payload. */
  invoked: { name: string; payload: unknown }[];
  /** Asynchronous invocations (`Event`) that failed: Lambda would retry them twice. */
  asyncFailures: Error[];
  /** Custom resource responses PUT to `<url>cloudformation/…` (a ResponseURL). */
  cloudFormation: Record<string, unknown>[];
  close(): Promise<void>;
}

/**
 * Serves Function URL requests, routed by `route(path)` to a running function (`undefined`:
 * 404, as no URL would answer it), and the Lambda Invoke API.
 */
export async function startFunctionUrls(
  route: (path: string) => RunningFunction | undefined,
  byName: (name: string) => RunningFunction | undefined,
): Promise<FunctionUrls> {
  const seen: SeenEvent[] = [];
  const invoked: { name: string; payload: unknown }[] = [];
  const asyncFailures: Error[] = [];
  const cloudFormation: Record<string, unknown>[] = [];
  const server: Server = createServer(async (req, res) => {
    try {
      const body = await readAll(req);
      if (req.method === 'PUT' && req.url?.startsWith('/cloudformation/')) {
        cloudFormation.push(JSON.parse(body.toString()) as Record<string, unknown>);
        res.writeHead(200).end();
        return;
      }
      const invoke = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(req.url ?? '');
      if (invoke && req.method === 'POST') {
        const name = decodeURIComponent(invoke[1]!);
        const payload = JSON.parse(body.toString() || 'null') as unknown;
        invoked.push({ name, payload });
        const fn = byName(name);
        if (fn && req.headers['x-amz-invocation-type'] === 'Event') {
          res.writeHead(202, { 'content-type': 'application/json' }).end();
          fn.invoke(payload).catch((err: Error) => asyncFailures.push(err));
          return;
        }
        const result = fn ? await fn.invoke(payload) : {};
        res.writeHead(200, { 'content-type': 'application/json', 'x-amz-executed-version': '$LATEST' });
        res.end(JSON.stringify(result));
        return;
      }
      if (body.length > PAYLOAD_LIMIT) {
        res.writeHead(413).end();
        return;
      }
      const event = functionUrlEvent({
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        headers: req.headers,
        body,
        host: req.headers.host ?? 'localhost',
      });
      const fn = route(event.rawPath);
      if (!fn) {
        res.writeHead(404).end();
        return;
      }
      const result = (await fn.invoke(event)) as {
        statusCode?: number;
        headers?: Record<string, string>;
        cookies?: string[];
        body?: string;
        isBase64Encoded?: boolean;
      } | null;
      // Lambda refuses a result document above the limit; the URL answers 502.
      if (Buffer.byteLength(JSON.stringify(result)) > PAYLOAD_LIMIT) {
        seen.push({ function: fn.fn.logicalId, event, statusCode: 502 });
        res.writeHead(502).end();
        return;
      }
      const structured = result !== null && typeof result === 'object' && 'statusCode' in result;
      const statusCode = structured ? (result.statusCode ?? 200) : 200;
      const headers = structured ? { ...(result.headers ?? {}) } : { 'content-type': 'application/json' };
      const out = structured
        ? Buffer.from(result.body ?? '', result.isBase64Encoded ? 'base64' : 'utf8')
        : Buffer.from(JSON.stringify(result));
      seen.push({ function: fn.fn.logicalId, event, statusCode });
      res.writeHead(statusCode, {
        ...headers,
        ...(structured && result.cookies ? { 'set-cookie': result.cookies } : {}),
        'content-length': out.byteLength,
      });
      res.end(out);
    } catch (err) {
      // An unhandled function error: the URL answers 502.
      res.writeHead(502, { 'content-type': 'text/plain' }).end(String(err));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/`,
    seen,
    invoked,
    asyncFailures,
    cloudFormation,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
