/** A small HTTP client for the end-to-end suites: status, JSON body, raw bytes. */
// biome-ignore lint/suspicious/noExplicitAny: suites read response bodies of many shapes
export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  raw: Uint8Array;
}

export interface Api {
  url: string;
  request(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiResponse>;
  get(path: string, headers?: Record<string, string>): Promise<ApiResponse>;
  post(path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse>;
  delete(path: string): Promise<ApiResponse>;
}

export function api(url: string): Api {
  const request = async (
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const isBytes = body instanceof Uint8Array;
    const isText = typeof body === 'string';
    const res = await fetch(`${url}${path}`, {
      method,
      headers:
        body === undefined || isBytes || isText
          ? headers
          : { 'content-type': 'application/json', ...headers },
      body:
        body === undefined
          ? undefined
          : isBytes
            ? (body as Uint8Array)
            : isText
              ? (body as string)
              : JSON.stringify(body),
    });
    const raw = new Uint8Array(await res.arrayBuffer());
    let parsed: unknown;
    const type = res.headers.get('content-type') ?? '';
    if (type.includes('json') && raw.length > 0) parsed = JSON.parse(Buffer.from(raw).toString('utf8'));
    return { status: res.status, headers: res.headers, body: parsed, raw };
  };
  return {
    url,
    request,
    get: (path, headers) => request('GET', path, undefined, headers),
    post: (path, body, headers) => request('POST', path, body, headers),
    delete: (path) => request('DELETE', path),
  };
}
