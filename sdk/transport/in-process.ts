/**
 * The in-process transport: requests go straight to the Lambda handlers (the same router
 * `sluice dev` serves), as Function URL events, with no socket. For tests and for
 * embedding the engine in a Node process.
 */

import type { MetaStore, ObjectStore } from '../../core/ports.js';
import type { SluiceContext } from '../../lambdas/context.js';
import type { Transport } from './types.js';

export type InProcessTarget = SluiceContext | { meta: MetaStore; objects: ObjectStore };

function isContext(t: InProcessTarget): t is SluiceContext {
  return 'appender' in t && 'reader' in t;
}

/**
 * @example
 * const transport = createInProcessTransport({ meta: new MemoryMetaStore(), objects: new MemoryObjectStore() });
 */
export function createInProcessTransport(target: InProcessTarget): Transport {
  // Loaded on first use so that the HTTP-only SDK never loads the server code.
  let router:
    | Promise<
        (
          event: import('aws-lambda').LambdaFunctionURLEvent,
        ) => Promise<import('aws-lambda').LambdaFunctionURLResult>
      >
    | undefined;
  let toEvent: typeof import('../../lambdas/http.js').toEvent | undefined;
  const load = async () => {
    const [{ createRouter }, http, { createContext }] = await Promise.all([
      import('../../lambdas/index.js'),
      import('../../lambdas/http.js'),
      import('../../lambdas/context.js'),
    ]);
    toEvent = http.toEvent;
    return createRouter(isContext(target) ? target : createContext(target));
  };
  return async (req) => {
    router ??= load();
    const route = await router;
    const url = new URL(req.url);
    const event = toEvent!({
      method: req.method,
      url: `${url.pathname}${url.search}`,
      headers: { ...req.headers, host: url.host },
      body: req.body,
    });
    const call = route(event);
    // Function URL handlers here always answer the structured form (never a bare string).
    const result = (await (req.signal ? abortable(call, req.signal) : call)) as {
      statusCode?: number;
      headers?: Record<string, unknown>;
      body?: string;
      isBase64Encoded?: boolean;
    };
    const raw = result.body ?? '';
    const body = result.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(result.headers ?? {})) headers[k.toLowerCase()] = String(v);
    return {
      status: result.statusCode ?? 200,
      headers,
      body: new Uint8Array(body.buffer, body.byteOffset, body.byteLength),
    };
  };
}

/** Stops waiting (the handler itself runs on, as a Lambda would after a client hangs up). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
