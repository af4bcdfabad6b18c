/**
 * Key order, sort-key ranges and query cursors shared by every adapter. Keys sort by their
 * UTF-8 bytes — DynamoDB's and S3's order, and SQLite's BINARY collation — which differs
 * from JavaScript's UTF-16 `<` for characters above U+FFFF.
 */
import { InvalidRequestError } from '../core/errors.js';
import type { QueryOptions, SortKeyRange } from '../core/ports.js';

/** Maps a UTF-16 code unit so that code-unit order equals code-point (= UTF-8 byte) order. */
function fixup(c: number): number {
  if (c >= 0xd800 && c <= 0xdfff) return c + 0x2000;
  if (c >= 0xe000) return c - 0x800;
  return c;
}

/**
 * Compares two strings by their UTF-8 bytes.
 *
 * @example
 * ['b', '\u{1F600}', '\uFFFD'].sort(compareUtf8); // ['b', '\uFFFD', '\u{1F600}']
 */
export function compareUtf8(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const ca = a.charCodeAt(i);
    const cb = b.charCodeAt(i);
    if (ca !== cb) return fixup(ca) - fixup(cb);
  }
  return a.length - b.length;
}

/** True when `sk` satisfies every bound of `range`. */
export function inRange(sk: string, range: SortKeyRange | undefined): boolean {
  if (!range) return true;
  if (range.gte !== undefined && compareUtf8(sk, range.gte) < 0) return false;
  if (range.gt !== undefined && compareUtf8(sk, range.gt) <= 0) return false;
  if (range.lte !== undefined && compareUtf8(sk, range.lte) > 0) return false;
  if (range.lt !== undefined && compareUtf8(sk, range.lt) >= 0) return false;
  if (range.beginsWith !== undefined && !sk.startsWith(range.beginsWith)) return false;
  return true;
}

/**
 * DynamoDB ends a query page after 1 MB of items even below `limit`; every adapter does, so
 * callers that forget to follow `next` fail in tests too, not only in AWS.
 */
export const QUERY_PAGE_BYTES = 1024 * 1024;

/** A query cursor: the sort key of the last item of the previous page, made opaque. */
export function encodeCursor(sk: string): string {
  return Buffer.from(JSON.stringify({ sk }), 'utf8').toString('base64url');
}

/** Reads a cursor made by {@link encodeCursor}; throws {@link InvalidRequestError} if it is not one. */
export function decodeCursor(cursor: string): string {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (parsed && typeof parsed === 'object' && typeof (parsed as { sk?: unknown }).sk === 'string') {
      return (parsed as { sk: string }).sk;
    }
  } catch {
    // fall through to the typed error
  }
  throw new InvalidRequestError('after is not a cursor returned by query', 'after');
}

export interface ParsedQuery {
  range: SortKeyRange | undefined;
  limit: number | undefined;
  desc: boolean;
  /** The sort key to continue strictly after (in the query's direction). */
  afterSk: string | undefined;
}

/** Validates a query's arguments the same way on every adapter. */
export function parseQuery(pk: string, range?: SortKeyRange, options?: QueryOptions): ParsedQuery {
  if (typeof pk !== 'string' || pk.length === 0)
    throw new InvalidRequestError('pk must be a non-empty string', 'pk');
  if (range !== undefined) {
    if (range === null || typeof range !== 'object')
      throw new InvalidRequestError('range must be an object', 'range');
    for (const bound of ['gte', 'gt', 'lte', 'lt', 'beginsWith'] as const) {
      const v = range[bound];
      if (v !== undefined && typeof v !== 'string') {
        throw new InvalidRequestError(`range.${bound} must be a string`, `range.${bound}`);
      }
    }
  }
  const limit = options?.limit;
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) {
    throw new InvalidRequestError('limit must be a positive integer', 'limit');
  }
  const direction = options?.direction ?? 'asc';
  if (direction !== 'asc' && direction !== 'desc') {
    throw new InvalidRequestError('direction must be asc or desc', 'direction');
  }
  const afterSk = options?.after === undefined ? undefined : decodeCursor(options.after);
  return { range, limit, desc: direction === 'desc', afterSk };
}
