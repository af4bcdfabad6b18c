/**
 * What every client command shares: the endpoint option, the SDK client, error messages a
 * person can act on, exit codes and plain-text tables.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';
import {
  findCause,
  logLevel,
  Sluice,
  SluiceArgumentError,
  SluiceConnectionError,
  SluiceProtocolError,
} from '../../sdk/index.js';

export const DEFAULT_ENDPOINT = 'http://127.0.0.1:8092';

/** Exit codes of the client commands. */
export const EXIT = { ok: 0, failed: 1, usage: 2, unreachable: 3 } as const;

export const ENDPOINT_HELP = `  --endpoint <url>   the cluster (env SLUICE_ENDPOINT, default ${DEFAULT_ENDPOINT})
  -h, --help         show this help`;

export const EXIT_HELP = `Exit codes: 0 ok, 1 the request failed, 2 bad usage, 3 cannot reach the endpoint.`;

/** A usage mistake: printed with the command's help, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

const common = {
  endpoint: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Options = NonNullable<ParseArgsConfig['options']>;
type Parsed<O extends Options> = ReturnType<
  typeof parseArgs<{ args: string[]; options: typeof common & O; strict: true; allowPositionals: true }>
>;

/** parseArgs with --endpoint and --help added; unknown flags are usage errors. */
export function parse<O extends Options>(argv: string[], options: O): Parsed<O> {
  try {
    return parseArgs({
      args: argv,
      options: { ...common, ...options },
      strict: true,
      allowPositionals: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

export function endpointOf(values: { endpoint?: string | boolean }): string {
  const endpoint =
    (typeof values.endpoint === 'string' && values.endpoint) ||
    process.env.SLUICE_ENDPOINT ||
    DEFAULT_ENDPOINT;
  try {
    const url = new URL(endpoint);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http');
  } catch {
    throw new UsageError(`--endpoint must be an http(s) URL such as ${DEFAULT_ENDPOINT}, got '${endpoint}'`);
  }
  return endpoint;
}

/** An SDK client that gives up quickly: a person is waiting. */
export function client(endpoint: string): Sluice {
  return new Sluice({
    endpoint,
    logLevel: process.env.SLUICE_LOG_LEVEL === 'debug' ? logLevel.DEBUG : logLevel.ERROR,
    retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
  });
}

function isLocal(endpoint: string): boolean {
  const host = new URL(endpoint).hostname;
  return host === '127.0.0.1' || host === 'localhost' || host === '::1' || host === '[::1]';
}

/** The message and exit code for an error escaping a command. */
export function describeError(err: unknown, endpoint: string | undefined): { message: string; code: number } {
  const conn = findCause(err, SluiceConnectionError);
  if (conn) {
    const target = endpoint ?? conn.endpoint;
    const hint = isLocal(target)
      ? ' — is `sluice dev` running? (npm start)'
      : ' — check the URL, your network, and that the stack is deployed';
    const why = conn.message.replace(/^cannot reach Sluice at \S+: /, '');
    return { message: `cannot reach Sluice at ${target}${hint} (${why})`, code: EXIT.unreachable };
  }
  if (err instanceof UsageError || err instanceof SluiceArgumentError)
    return { message: err.message, code: EXIT.usage };
  const proto = findCause(err, SluiceProtocolError);
  if (proto) {
    const advice: Record<string, string> = {
      UNKNOWN_TOPIC_OR_PARTITION: " (see 'sluice topics list')",
      TOPIC_ALREADY_EXISTS: '',
      AUTHORIZATION_FAILED: ' (check your AWS credentials and the function URL permissions)',
      GROUP_ID_NOT_FOUND: " (see 'sluice groups list')",
      NON_EMPTY_GROUP: ' (stop its consumers first)',
    };
    return { message: `${proto.message} [${proto.code}]${advice[proto.code] ?? ''}`, code: EXIT.failed };
  }
  return { message: (err as Error)?.message ?? String(err), code: EXIT.failed };
}

/** Formats rows as aligned columns under a header. */
export function table(header: string[], rows: (string | number | null | undefined)[][]): string {
  const cells = [header, ...rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return `${cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n')}\n`;
}

/** `1 record`, `2 records`: a count with its noun, singular for one. */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export function out(text: string): void {
  process.stdout.write(text);
}

/** Parses a non-negative integer flag. */
export function intFlag(value: string | undefined, name: string, min = 0): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < min)
    throw new UsageError(`--${name} must be an integer ≥ ${min}, got '${value}'`);
  return n;
}
