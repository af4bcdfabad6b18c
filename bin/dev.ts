/**
 * `sluice dev`: every function of API.md on one local port. Each HTTP request becomes a
 * Lambda Function URL event and goes through the real handler, over the embedded store
 * (files + SQLite in ./.sluice) or, with SLUICE_STORAGE=aws, S3 and DynamoDB at
 * AWS_ENDPOINT_URL (moto, LocalStack).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import type { APIGatewayProxyStructuredResultV2, LambdaFunctionURLEvent } from 'aws-lambda';
import { InboxBatcher } from '../core/inbox/batcher.js';
import { drainOnce } from '../core/inbox/drain.js';
import { isInboxQueue } from '../core/inbox/queue.js';
import type { MaintenanceReport } from '../core/maintenance/index.js';
import { createBatcherHandler } from '../lambdas/batcher.js';
import { createContext, type SluiceContext } from '../lambdas/context.js';
import { MAX_REQUEST_BYTES, rawBodyChunks, toEvent } from '../lambdas/http.js';
import { createRouter } from '../lambdas/index.js';
import {
  LAMBDA_PAYLOAD_BYTES,
  REQUEST_EVENT_RESERVE,
  requestBodyEventBytes,
  requestBodyEventBytesBound,
} from '../lambdas/response-size.js';
import { KinesisInboxQueue } from '../storage/kinesis.js';
import { NotifyingMetaStore } from '../storage/notifying.js';
import { startMaintenanceTimer } from './commands/maintenance.js';
import {
  type DevSubscriptionOptions,
  type DevSubscriptions,
  startDevSubscriptions,
} from './dev-subscriptions.js';
import { startKinesisPoller } from './kinesis-inbox.js';

export interface DevServerOptions {
  port?: number;
  host?: string;
  /** Environment for storage selection (SLUICE_STORAGE, SLUICE_DATA_DIR, …). */
  env?: NodeJS.ProcessEnv;
  /** Use this context instead of building one from the environment. */
  context?: SluiceContext;
  /**
   * Runs a maintenance pass (retention, compaction, GC) every this many ms in-process.
   * @default 0 (off; `sluice dev` turns it on: --maintenance-interval)
   */
  maintenanceIntervalMs?: number;
  /** Called with the report of each maintenance pass that changed something or failed. */
  onMaintenance?: (report: MaintenanceReport) => void;
  /**
   * Subscriptions (`--subscription`): dispatched in-process on every produce, with no polling.
   * A provided `context` takes part only when its `meta` is a {@link NotifyingMetaStore}.
   * @default {} (on, with no definitions created at start); `false` turns dispatch off.
   */
  subscriptions?: Partial<DevSubscriptionOptions> | false;
  /**
   * The acks=1 inbox batcher, drained in-process (the same code the batcher function runs):
   * the batch window in ms, or `false` for none. @default 200 (none with a provided `context`)
   */
  inboxWindowMs?: number | false;
  /**
   * Serve this handler instead of Sluice's functions (benchmarks: the HTTP path alone, same
   * server and event conversion, with a handler that does nothing).
   */
  route?: (event: LambdaFunctionURLEvent) => Promise<APIGatewayProxyStructuredResultV2>;
}

export interface DevServer {
  url: string;
  port: number;
  context: SluiceContext;
  storage: string;
  /** Which acks=1 inbox it runs (`sqs: <url>`, `kinesis: <arn>`, the embedded queue, none). */
  inbox: string;
  /** The in-process subscription runtime, when on. */
  subscriptions: DevSubscriptions | undefined;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<Uint8Array | 'too-large'> {
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_REQUEST_BYTES) {
    req.resume();
    return 'too-large';
  }
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) return 'too-large';
    chunks.push(chunk as Buffer);
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
}

/** Starts the server; resolves once it listens. */
export async function startDevServer(options: DevServerOptions = {}): Promise<DevServer> {
  const env = options.env ?? process.env;
  let close = async () => {};
  let storage = 'provided';
  let context = options.context;
  if (!context) {
    const { storesFromEnv } = await import('../storage/config.js');
    const stores = await storesFromEnv(env);
    storage = stores.describe;
    close = () => stores.close();
    context = createContext({ objects: stores.objects, meta: new NotifyingMetaStore(stores.meta) }, { env });
  }
  const ctx = context;
  const subscriptions =
    options.subscriptions !== false && ctx.meta instanceof NotifyingMetaStore
      ? await startDevSubscriptions(ctx, ctx.meta, {
          failuresDir: join(resolve(env.SLUICE_DATA_DIR || './.sluice'), 'failures'),
          ...options.subscriptions,
        })
      : undefined;
  const route = options.route ?? createRouter(ctx);
  const server: Server = createServer(async (req, res) => {
    try {
      const body = await readBody(req);
      if (body === 'too-large') {
        res.writeHead(413, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: {
              code: 'MESSAGE_TOO_LARGE',
              message: `request body exceeds ${MAX_REQUEST_BYTES} bytes`,
              retriable: false,
            },
          }),
        );
        return;
      }
      // What Lambda would refuse before the function runs: the body as the Function URL's
      // event carries it (binary bodies base64-encoded) over its 6 MB.
      // (Measured exactly only when it could be over: a JSON body is decoded and escaped.)
      const limit = LAMBDA_PAYLOAD_BYTES - REQUEST_EVENT_RESERVE;
      const inEvent =
        requestBodyEventBytesBound(body.length) <= limit
          ? 0
          : requestBodyEventBytes(body, req.headers['content-type']);
      if (inEvent > limit) {
        res.writeHead(413, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: {
              code: 'MESSAGE_TOO_LARGE',
              message: `request body of ${body.length} bytes takes ${inEvent} bytes in the Lambda event (binary bodies are base64-encoded), over the ${LAMBDA_PAYLOAD_BYTES - REQUEST_EVENT_RESERVE} Lambda passes to a function`,
              retriable: false,
            },
          }),
        );
        return;
      }
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
      const event = toEvent({ method: req.method ?? 'GET', url: req.url ?? '/', headers, body });
      const result = await route(event);
      // A fetch's body comes as pieces (frame headers, views of the stored batches): they
      // go to the socket as they are, in one writev, not joined into a copy first.
      const chunks = rawBodyChunks(result);
      res.writeHead(result.statusCode ?? 200, {
        ...(result.headers as Record<string, string>),
        'content-length': chunks.reduce((n, c) => n + c.byteLength, 0),
      });
      if (chunks.length === 1) {
        res.end(chunks[0]);
      } else {
        res.cork();
        for (const c of chunks) res.write(c);
        res.end();
      }
    } catch (err) {
      ctx.telemetry.logger.error('request failed', err as Error);
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ error: { code: 'INTERNAL_ERROR', message: 'internal error', retriable: true } }),
      );
    }
  });
  server.keepAliveTimeout = 65_000;
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 8092, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  // The inbox is opened now (created on an emulator): a failure there ends the start, and
  // must not leave a server behind that answers 500 to everything.
  let inbox: { stop(): Promise<void> } | undefined;
  let inboxDescribe: string;
  try {
    const queue = await ctx.inbox();
    const address = queue?.address;
    inboxDescribe = !queue
      ? 'none (acks=1 and acks=0 are refused)'
      : address?.type === 'kinesis'
        ? `kinesis: ${address.streamArn}`
        : address?.type === 'sqs'
          ? `sqs: ${address.queueUrl}`
          : 'embedded queue (SQLite)';
    inbox =
      options.inboxWindowMs === false ? undefined : await startInboxLoop(ctx, options.inboxWindowMs ?? 200);
  } catch (err) {
    await subscriptions?.stop();
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    await close();
    throw err;
  }
  const maintenance =
    (options.maintenanceIntervalMs ?? 0) > 0
      ? startMaintenanceTimer(ctx, {
          intervalMs: options.maintenanceIntervalMs!,
          env,
          onReport: options.onMaintenance,
          onError: (err) => ctx.telemetry.logger.warn('maintenance pass failed', err as Error),
        })
      : undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    context: ctx,
    storage,
    inbox: inboxDescribe,
    subscriptions,
    async close() {
      await maintenance?.stop();
      await inbox?.stop();
      await subscriptions?.stop();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await close();
    },
  };
}

/**
 * Drains the inbox in a loop until stopped: `drainOnce` every `windowMs` while there is work;
 * a Kinesis inbox is polled per shard instead (`bin/kinesis-inbox.ts`).
 */
async function startInboxLoop(
  ctx: SluiceContext,
  windowMs: number,
): Promise<{ stop(): Promise<void> } | undefined> {
  const queue = await ctx.inbox();
  if (!queue) return undefined;
  if (queue instanceof KinesisInboxQueue) {
    // What Lambda's Kinesis event source mapping does, into the batcher function's handler:
    // GetRecords once a second per shard, as the mapping (a shard serves 5 reads a second).
    return startKinesisPoller(
      queue,
      createBatcherHandler(async () => ctx),
      {
        windowMs,
        onError: (err) => ctx.telemetry.logger.warn('inbox stream batch failed; retried', err as Error),
      },
    );
  }
  if (!isInboxQueue(queue)) return undefined;
  const batcher = new InboxBatcher(ctx);
  let stopped = false;
  let wake: (() => void) | undefined;
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  const loop = (async () => {
    while (!stopped) {
      try {
        const outcome = await drainOnce(queue, batcher, { windowMs, holdBackMs: windowMs });
        if (!outcome) await sleep(Math.max(20, windowMs));
      } catch (err) {
        ctx.telemetry.logger.warn(
          'inbox batch failed; its messages come back after the visibility timeout',
          err as Error,
        );
        await sleep(1000);
      }
    }
  })();
  return {
    async stop() {
      stopped = true;
      wake?.();
      await loop;
    },
  };
}
