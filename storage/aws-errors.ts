/**
 * Maps AWS SDK failures onto the error table: throttling → {@link ThrottledError}, 5xx and
 * network failures → {@link UnavailableError} (both retriable); faults of the deployment
 * that no retry fixes (access denied, a missing bucket or table, a KMS key refused) →
 * {@link StorageMisconfiguredError}, whose message says what to fix. Anything else (a bug,
 * bad input) is returned as it is. The SDK has already retried by the time an error
 * reaches us.
 */
import { StorageMisconfiguredError, ThrottledError, UnavailableError } from '../core/errors.js';

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

/** Refusals of the caller's identity or policy. */
const DENIED = new Set([
  'AccessDenied',
  'AccessDeniedException',
  'AllAccessDisabled',
  'Forbidden',
  'InvalidAccessKeyId',
  'UnrecognizedClientException',
  'InvalidClientTokenId',
  'SignatureDoesNotMatch',
  'MissingAuthenticationTokenException',
  'AuthorizationHeaderMalformed',
]);

/** S3 and DynamoDB names for a KMS key they could not use (disabled, deleted, not granted). */
const KMS = /^KMS|KMS\.|KmsKey|KMSAccessDenied/;

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
export function mapAwsError(error: unknown, operation: string, resource?: string): unknown {
  if (error === null || typeof error !== 'object') return error;
  const e = error as SdkErrorShape;
  const name = e.name ?? '';
  const status = e.$metadata?.httpStatusCode;
  if (THROTTLING.has(name) || e.$retryable?.throttling === true || status === 429) {
    return new ThrottledError(`${operation} was throttled (${name || status})`, { cause: error });
  }
  const fix = misconfiguration(name, status, (error as Error).message ?? '', resource);
  if (fix) {
    return new StorageMisconfiguredError(
      `${operation}${resource ? ` on ${resource}` : ''} was refused (${name || status}): ${fix}`,
      {
        cause: error,
      },
    );
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

/** What to fix, for a failure that is the deployment's and not the moment's; else undefined. */
function misconfiguration(
  name: string,
  status: number | undefined,
  message: string,
  resource: string | undefined,
): string | undefined {
  const what = resource ?? 'the bucket or table';
  if (KMS.test(name) || (/\bKMS\b/.test(message) && (status === 400 || status === 403))) {
    return `the KMS key of ${what} is disabled, deleted or not granted to this function's role: enable the key and allow the role kms:Decrypt and kms:GenerateDataKey`;
  }
  if (name === 'NoSuchBucket') {
    return `${what} does not exist: check SLUICE_BUCKET (the cluster's bucket was deleted or the name is wrong)`;
  }
  if (name === 'ResourceNotFoundException') {
    return `${what} does not exist: check SLUICE_TABLE (the cluster's table was deleted or the name is wrong)`;
  }
  if (DENIED.has(name) || status === 403) {
    return `access to ${what} is denied: grant this function's role access to it (its IAM policy, the bucket policy, SCPs, permission boundaries), or check its credentials`;
  }
  return undefined;
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
