/**
 * One table of error codes for the whole system. The HTTP layer maps a code to its status,
 * the SDK retries exactly the codes marked retriable. Names follow Kafka where they fit.
 */
export const ERROR_CODES = {
  INVALID_REQUEST: { status: 400, retriable: false },
  INVALID_TOPIC_EXCEPTION: { status: 400, retriable: false },
  INVALID_PARTITIONS: { status: 400, retriable: false },
  INVALID_CONFIG: { status: 400, retriable: false },
  CORRUPT_MESSAGE: { status: 400, retriable: false },
  UNSUPPORTED_COMPRESSION_TYPE: { status: 400, retriable: false },
  INVALID_RECORD: { status: 400, retriable: false },
  AUTHORIZATION_FAILED: { status: 403, retriable: false },
  UNKNOWN_TOPIC_OR_PARTITION: { status: 404, retriable: false },
  /** A topic id that is not the topic's current incarnation (Kafka's, KIP-516): deleted, maybe re-created. */
  UNKNOWN_TOPIC_ID: { status: 404, retriable: false },
  GROUP_ID_NOT_FOUND: { status: 404, retriable: false },
  UNKNOWN_MEMBER_ID: { status: 404, retriable: false },
  SUBSCRIPTION_NOT_FOUND: { status: 404, retriable: false },
  TOPIC_ALREADY_EXISTS: { status: 409, retriable: false },
  SUBSCRIPTION_ALREADY_EXISTS: { status: 409, retriable: false },
  OUT_OF_ORDER_SEQUENCE_NUMBER: { status: 409, retriable: false },
  INVALID_PRODUCER_EPOCH: { status: 409, retriable: false },
  FENCED_MEMBER_EPOCH: { status: 409, retriable: false },
  NON_EMPTY_GROUP: { status: 409, retriable: false },
  INVALID_TXN_STATE: { status: 409, retriable: false },
  MESSAGE_TOO_LARGE: { status: 413, retriable: false },
  TRANSACTION_TOO_LARGE: { status: 413, retriable: false },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, retriable: false },
  OFFSET_OUT_OF_RANGE: { status: 416, retriable: false },
  THROTTLED: { status: 429, retriable: true },
  UNAVAILABLE: { status: 503, retriable: true },
  /** A result larger than Lambda can return (a bug: handlers budget their responses). */
  RESPONSE_TOO_LARGE: { status: 500, retriable: false },
  /** Storage refused for a reason retrying cannot fix (access denied, no such bucket or table, KMS). */
  STORAGE_MISCONFIGURED: { status: 500, retriable: false },
} as const satisfies Record<string, { status: number; retriable: boolean }>;

/** A code from the error table of API.md. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** True when `code` is one of the codes of the error table. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/**
 * The base of every error that crosses the API: it carries a code from the table,
 * the HTTP status of that code and whether a client may retry it.
 *
 * @example
 * throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic 'orders' does not exist`);
 */
export class SluiceError extends Error {
  override name = 'SluiceError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.retriable = ERROR_CODES[code].retriable;
  }
}

/** Bytes that are not a valid record batch or segment object (bad CRC, lengths, varints…). */
export class CorruptRecordError extends SluiceError {
  override name = 'CorruptRecordError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('CORRUPT_MESSAGE', message, options);
  }
}

/**
 * A batch compressed with a codec this runtime cannot run (Kafka's
 * `UNSUPPORTED_COMPRESSION_TYPE`): the bytes may be fine, the runtime lacks the codec, e.g.
 * zstd on a Node without `node:zlib` zstd and without the `zstd-napi` package.
 */
export class UnsupportedCompressionTypeError extends SluiceError {
  override name = 'UnsupportedCompressionTypeError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNSUPPORTED_COMPRESSION_TYPE', message, options);
  }
}

/** A request body in a media type the endpoint does not take (JSON endpoints take `application/json`). */
export class UnsupportedMediaTypeError extends SluiceError {
  override name = 'UnsupportedMediaTypeError';
  constructor(message: string) {
    super('UNSUPPORTED_MEDIA_TYPE', message);
  }
}

/** A request that does not follow the contract; `field` names the offending field. */
export class InvalidRequestError extends SluiceError {
  override name = 'InvalidRequestError';
  readonly field: string | undefined;
  constructor(message: string, field?: string, options?: { cause?: unknown }) {
    super('INVALID_REQUEST', message, options);
    this.field = field;
  }
}

/** The storage backend asked us to slow down (DynamoDB/S3 throttling). Retriable. */
export class ThrottledError extends SluiceError {
  override name = 'ThrottledError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('THROTTLED', message, options);
  }
}

/**
 * Storage refused for a reason retrying cannot fix: access denied (the function's role or
 * a bucket, key or SCP policy), a missing bucket or table, a KMS key disabled or not
 * granted. The message says what to fix. Not retriable; answered 500, so the Function
 * URL's 5xx metric (and its alarm) counts it.
 */
export class StorageMisconfiguredError extends SluiceError {
  override name = 'StorageMisconfiguredError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('STORAGE_MISCONFIGURED', message, options);
  }
}

/** A transient failure of a dependency (timeout, 5xx). Retriable. */
export class UnavailableError extends SluiceError {
  override name = 'UnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('UNAVAILABLE', message, options);
  }
}
