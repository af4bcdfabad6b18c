/**
 * Argument checks of the ObjectStore port, shared by every adapter so bad input fails the
 * same way everywhere (S3's own limits: keys of 1..1024 UTF-8 bytes, pages of 1000 keys).
 */
import { InvalidRequestError } from '../core/errors.js';

/** Validates an object key: non-empty, at most 1024 UTF-8 bytes (S3's limit). */
export function checkObjectKey(key: string, field = 'key'): void {
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidRequestError(`${field} must be a non-empty string`, field);
  }
  if (Buffer.byteLength(key, 'utf8') > 1024)
    throw new InvalidRequestError(`${field} exceeds 1024 bytes`, field);
}

/** Validates a byte range: integers with 0 <= start <= end. */
export function checkByteRange(range: { start: number; end: number } | undefined): void {
  if (range === undefined) return;
  const { start, end } = range;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
    throw new InvalidRequestError('range must have integers 0 <= start <= end', 'range');
  }
}

/** Maximum keys of one list page (S3's maximum). */
export const MAX_LIST_PAGE = 1000;

/** Validates list options; returns the page size to use. */
export function parseListOptions(prefix: string, options?: { after?: string; limit?: number }): number {
  if (typeof prefix !== 'string') throw new InvalidRequestError('prefix must be a string', 'prefix');
  if (options?.after !== undefined && typeof options.after !== 'string') {
    throw new InvalidRequestError('after must be a string', 'after');
  }
  const limit = options?.limit ?? MAX_LIST_PAGE;
  if (!Number.isSafeInteger(limit) || limit < 1)
    throw new InvalidRequestError('limit must be a positive integer', 'limit');
  return Math.min(limit, MAX_LIST_PAGE);
}
