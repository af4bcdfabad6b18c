/**
 * The HTTP transport: Node's global fetch (undici keeps connections alive between
 * requests), SigV4-signed for Function URLs or when credentials are given.
 */
import { SluiceConnectionError } from '../errors.js';
import { type Credentials, createSigner, isFunctionUrl, type Signer } from './sigv4.js';
import type { Transport } from './types.js';

export interface HttpTransportOptions {
  /** The bootstrap endpoint; decides whether requests are signed. */
  endpoint: string;
  region?: string;
  credentials?: Credentials;
  /** Force signing on or off; by default on for Function URLs and when credentials are given. */
  sign?: boolean;
  /** Per-request timeout (ms), long polls included. @default 30000 */
  requestTimeout?: number;
}

/** The per-request timeout of the HTTP transport when none is given, ms. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

/**
 * @example
 * const transport = createHttpTransport({ endpoint: 'http://127.0.0.1:8092' });
 * const res = await transport({ method: 'GET', url: 'http://127.0.0.1:8092/v1/metadata', headers: {} });
 */
export function createHttpTransport(options: HttpTransportOptions): Transport {
  const signed = options.sign ?? (isFunctionUrl(options.endpoint) || options.credentials !== undefined);
  let signer: Signer | undefined;
  const timeout = options.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_MS;
  return async (req) => {
    if (signed) {
      signer ??= createSigner(options);
      req = await signer.sign(req);
    }
    const timer = AbortSignal.timeout(timeout);
    const signal = req.signal ? AbortSignal.any([req.signal, timer]) : timer;
    let res: Response;
    let body: Uint8Array;
    try {
      res = await fetch(req.url, {
        method: req.method,
        headers: req.headers,
        body: req.body && req.body.length > 0 ? req.body : undefined,
        signal,
      });
      body = new Uint8Array(await res.arrayBuffer());
    } catch (cause) {
      if (req.signal?.aborted) throw req.signal.reason ?? cause;
      const origin = new URL(req.url).origin;
      const why = describeNetworkError(cause);
      throw new SluiceConnectionError(`cannot reach Sluice at ${origin}: ${why}`, origin, { cause });
    }
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => {
      headers[k.toLowerCase()] = v;
    });
    return { status: res.status, headers, body };
  };
}

function describeNetworkError(err: unknown): string {
  const e = err as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError') return 'the request timed out';
  const code = e.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ENOTFOUND') return 'host not found';
  if (code) return `${code}${e.cause?.message ? ` (${e.cause.message})` : ''}`;
  return e.cause?.message ?? e.message ?? String(err);
}
