/**
 * Maps AWS SDK failures that are about capacity or availability onto the retriable errors
 * of the error table: throttling → {@link ThrottledError}, 5xx and network failures →
 * {@link UnavailableError}. Anything else (a bug, a missing table, bad input) is returned
 * as it is. The SDK has already retried by the time an error reaches us.
 */
import { ThrottledError, UnavailableError } from '../core/errors.js';

const THROTTLING = new Set([
  'ThrottlingException',
  'Throttling',
  'ThrottledException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'TooManyRequestsException',
  'SlowDown',
  'RequestThrottled',
  'RequestThrottledException',
]);

const UNAVAILABLE = new Set([
  'InternalServerError',
  'InternalError',
  'InternalFailure',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'TransactionConflictException',
  'TransactionInProgressException',
]);

const NETWORK = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'EAI_AGAIN',
  'ENOTFOUND',
  'EHOSTUNREACH',
]);

interface SdkErrorShape {
  name?: string;
  code?: string;
  $metadata?: { httpStatusCode?: number };
  $retryable?: { throttling?: boolean };
}

/**
 * Returns the typed error for a throttling or availability failure, or `error` unchanged.
 *
 * @example
 * try { await client.send(cmd); } catch (e) { throw mapAwsError(e, 'GetItem'); }
 */
export function mapAwsError(error: unknown, operation: string): unknown {
  if (error === null || typeof error !== 'object') return error;
  const e = error as SdkErrorShape;
  const name = e.name ?? '';
  const status = e.$metadata?.httpStatusCode;
  if (THROTTLING.has(name) || e.$retryable?.throttling === true || status === 429) {
    return new ThrottledError(`${operation} was throttled (${name || status})`, { cause: error });
  }
  if (
    UNAVAILABLE.has(name) ||
    (status !== undefined && status >= 500) ||
    NETWORK.has(e.code ?? '') ||
    name === 'AbortError'
  ) {
    return new UnavailableError(`${operation} failed: ${name || e.code || status}`, { cause: error });
  }
  return error;
}

/**
 * The error for a `TransactWriteItems` that DynamoDB cancelled for a reason other than a
 * failed condition — `TransactionConflict` (another transaction or write overlapped on an
 * item), `None` for the items that were fine, and the like: nothing was applied, and the
 * caller may retry. Real DynamoDB cancels overlapping transactions this way; a serial
 * emulator never does, so the `faulty` decorator raises this very error to stand in for it.
 *
 * @see https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
 */
export function transactionCancelled(codes: readonly string[], cause?: unknown): UnavailableError {
  return new UnavailableError(`TransactWriteItems was cancelled: ${codes.join(', ')}`, { cause });
}

/** The HTTP status of an SDK error, if it has one. */
export function httpStatus(error: unknown): number | undefined {
  return (error as SdkErrorShape | null)?.$metadata?.httpStatusCode;
}

/** The error name (SDK error code) of an SDK error. */
export function errorName(error: unknown): string {
  return (error as SdkErrorShape | null)?.name ?? '';
}
