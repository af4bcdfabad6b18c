/**
 * A transport moves one HTTP exchange. It is a plain function so that it can be wrapped:
 * tests inject faults by wrapping a real transport, applications can add tracing.
 */

export interface TransportRequest {
  method: 'GET' | 'POST' | 'DELETE' | 'PATCH';
  /** Absolute URL, e.g. `https://abc.lambda-url.eu-west-1.on.aws/v1/produce?x=1`. */
  url: string;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body?: Uint8Array;
  /** Aborts a long poll (the consumer does when its assignment changes). */
  signal?: AbortSignal;
}

export interface TransportResponse {
  status: number;
  /** Lower-case header names. */
  headers: Record<string, string>;
  body: Uint8Array;
}

/**
 * Sends one request. Network failures reject with `SluiceConnectionError`; any HTTP answer,
 * including errors, resolves.
 *
 * @example
 * // A transport that logs every request before passing it on:
 * const traced: Transport = async (req) => {
 *   console.log(req.method, req.url);
 *   return inner(req);
 * };
 */
export type Transport = (request: TransportRequest) => Promise<TransportResponse>;
