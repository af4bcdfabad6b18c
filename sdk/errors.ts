/**
 * The SDK's errors. Every error the server sends (API.md's table) becomes a
 * {@link SluiceProtocolError} carrying its `code` and `retriable` flag, or one of its named
 * subclasses for the codes an application usually handles; transport failures are
 * {@link SluiceConnectionError}; a retriable failure that outlived the retry policy is
 * {@link SluiceNumberOfRetriesExceededError}, as in kafkajs.
 */

/** The base of every SDK error: `retriable` tells whether trying again may succeed. */
export class SluiceClientError extends Error {
  override name = 'SluiceClientError';
  readonly retriable: boolean;

  constructor(message: string, options?: { retriable?: boolean; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.retriable = options?.retriable ?? false;
  }
}

/**
 * An error answered by the server: `code` is a code of API.md's error table (or
 * `INTERNAL_ERROR`), `status` the HTTP status. `type` repeats `code` for code written
 * against kafkajs' `KafkaJSProtocolError`.
 *
 * @example
 * try {
 *   await admin.createTopics({ topics: [{ topic: 'bad name!' }] });
 * } catch (err) {
 *   if (err instanceof SluiceProtocolError && err.code === 'INVALID_TOPIC_EXCEPTION') console.error(err.message);
 * }
 */
export class SluiceProtocolError extends SluiceClientError {
  override name = 'SluiceProtocolError';
  readonly code: string;
  readonly type: string;
  readonly status: number;

  constructor(
    code: string,
    message: string,
    options: { status: number; retriable: boolean; cause?: unknown },
  ) {
    super(message, options);
    this.code = code;
    this.type = code;
    this.status = options.status;
  }
}

function named<N extends string>(code: string, className: N) {
  const cls = class extends SluiceProtocolError {
    override name: string = className;
    constructor(message: string, options: { status?: number; retriable?: boolean; cause?: unknown } = {}) {
      super(code, message, {
        status: options.status ?? 0,
        retriable: options.retriable ?? false,
        cause: options.cause,
      });
    }
  };
  Object.defineProperty(cls, 'name', { value: className });
  return cls;
}

/** The topic or partition does not exist (`UNKNOWN_TOPIC_OR_PARTITION`). */
export class UnknownTopicOrPartitionError extends named(
  'UNKNOWN_TOPIC_OR_PARTITION',
  'UnknownTopicOrPartitionError',
) {}
/**
 * The topic id named is not the topic's current incarnation (`UNKNOWN_TOPIC_ID`, KIP-516):
 * the topic was deleted, and maybe re-created under the same name.
 */
export class UnknownTopicIdError extends named('UNKNOWN_TOPIC_ID', 'UnknownTopicIdError') {}
/** The offset is below the log start or past the high watermark (`OFFSET_OUT_OF_RANGE`). */
export class OffsetOutOfRangeError extends named('OFFSET_OUT_OF_RANGE', 'OffsetOutOfRangeError') {}
/** `TOPIC_ALREADY_EXISTS` */
export class TopicAlreadyExistsError extends named('TOPIC_ALREADY_EXISTS', 'TopicAlreadyExistsError') {}
/** The group member's epoch is stale: it must rejoin (`FENCED_MEMBER_EPOCH`). */
export class FencedMemberEpochError extends named('FENCED_MEMBER_EPOCH', 'FencedMemberEpochError') {}
/** The member left or its session expired: it must rejoin (`UNKNOWN_MEMBER_ID`). */
export class UnknownMemberIdError extends named('UNKNOWN_MEMBER_ID', 'UnknownMemberIdError') {}
/** `SUBSCRIPTION_NOT_FOUND` */
export class SubscriptionNotFoundError extends named('SUBSCRIPTION_NOT_FOUND', 'SubscriptionNotFoundError') {}
/** `SUBSCRIPTION_ALREADY_EXISTS` */
export class SubscriptionAlreadyExistsError extends named(
  'SUBSCRIPTION_ALREADY_EXISTS',
  'SubscriptionAlreadyExistsError',
) {}
/** `GROUP_ID_NOT_FOUND` */
export class GroupIdNotFoundError extends named('GROUP_ID_NOT_FOUND', 'GroupIdNotFoundError') {}
/** The group still has members (`NON_EMPTY_GROUP`). */
export class NonEmptyGroupError extends named('NON_EMPTY_GROUP', 'NonEmptyGroupError') {}
/** An idempotent producer's sequence does not follow the last one written (`OUT_OF_ORDER_SEQUENCE_NUMBER`). */
export class OutOfOrderSequenceNumberError extends named(
  'OUT_OF_ORDER_SEQUENCE_NUMBER',
  'OutOfOrderSequenceNumberError',
) {}
/** A transaction that is over was used again (`INVALID_TXN_STATE`). */
export class InvalidTxnStateError extends named('INVALID_TXN_STATE', 'InvalidTxnStateError') {}

/** A transaction would commit more than one DynamoDB transaction holds (`TRANSACTION_TOO_LARGE`). */
export class TransactionTooLargeError extends named('TRANSACTION_TOO_LARGE', 'TransactionTooLargeError') {}

/** A newer epoch of this producer id wrote to the partition (`INVALID_PRODUCER_EPOCH`). */
export class InvalidProducerEpochError extends named('INVALID_PRODUCER_EPOCH', 'InvalidProducerEpochError') {}
/** A record, batch or request is larger than allowed (`MESSAGE_TOO_LARGE`). */
export class MessageTooLargeError extends named('MESSAGE_TOO_LARGE', 'MessageTooLargeError') {}
/**
 * One record of a send cannot fit any batch or request on its own (Kafka's
 * `RecordTooLargeException`): larger, once encoded alone as a batch (compressed as the send
 * asks), than its topic's `max.message.bytes`, or than one request or inbox message carries.
 * The send it belongs to was refused before anything of it was sent. `topic` and
 * `partition` say where it was going, `index` is its position in the send's `messages`
 * (for `sendBatch`, in `topicMessages[topicIndex].messages`), `bytes` its encoded size and
 * `limit` the limit it is over.
 *
 * @example
 * try { await producer.send({ topic, messages }); } catch (err) {
 *   if (err instanceof RecordTooLargeError) console.error(`message ${err.index} is ${err.bytes} bytes`);
 * }
 */
export class RecordTooLargeError extends MessageTooLargeError {
  override name = 'RecordTooLargeError';
  constructor(
    message: string,
    readonly topic: string,
    readonly partition: number,
    readonly index: number,
    readonly bytes: number,
    readonly limit: number,
    readonly topicIndex = 0,
  ) {
    super(message, { status: 413, retriable: false });
  }
}
/** The request does not follow the contract (`INVALID_REQUEST`); the message names the field. */
export class InvalidRequestError extends named('INVALID_REQUEST', 'InvalidRequestError') {}
/** The caller's credentials may not do this (`AUTHORIZATION_FAILED`, or a 403 from the Function URL). */
export class AuthorizationFailedError extends named('AUTHORIZATION_FAILED', 'AuthorizationFailedError') {}

const BY_CODE: Record<
  string,
  new (
    message: string,
    options: { status?: number; retriable?: boolean },
  ) => SluiceProtocolError
> = {
  UNKNOWN_TOPIC_OR_PARTITION: UnknownTopicOrPartitionError,
  UNKNOWN_TOPIC_ID: UnknownTopicIdError,
  OFFSET_OUT_OF_RANGE: OffsetOutOfRangeError,
  TOPIC_ALREADY_EXISTS: TopicAlreadyExistsError,
  FENCED_MEMBER_EPOCH: FencedMemberEpochError,
  UNKNOWN_MEMBER_ID: UnknownMemberIdError,
  GROUP_ID_NOT_FOUND: GroupIdNotFoundError,
  NON_EMPTY_GROUP: NonEmptyGroupError,
  SUBSCRIPTION_NOT_FOUND: SubscriptionNotFoundError,
  SUBSCRIPTION_ALREADY_EXISTS: SubscriptionAlreadyExistsError,
  OUT_OF_ORDER_SEQUENCE_NUMBER: OutOfOrderSequenceNumberError,
  INVALID_PRODUCER_EPOCH: InvalidProducerEpochError,
  INVALID_TXN_STATE: InvalidTxnStateError,
  TRANSACTION_TOO_LARGE: TransactionTooLargeError,
  MESSAGE_TOO_LARGE: MessageTooLargeError,
  INVALID_REQUEST: InvalidRequestError,
  AUTHORIZATION_FAILED: AuthorizationFailedError,
};

/**
 * Builds the error for a server answer: the named subclass when there is one.
 *
 * @example
 * const err = protocolError('OFFSET_OUT_OF_RANGE', 'offset 9 is outside [0, 4]', 416, false);
 * err instanceof OffsetOutOfRangeError; // true
 */
export function protocolError(
  code: string,
  message: string,
  status: number,
  retriable: boolean,
): SluiceProtocolError {
  const Cls = BY_CODE[code];
  if (Cls) return new Cls(message, { status, retriable });
  return new SluiceProtocolError(code, message, { status, retriable });
}

/**
 * The server could not be reached, or the connection broke before an answer (retriable: the
 * request may or may not have been applied — idempotent producers make a retry safe).
 *
 * @example
 * if (err instanceof SluiceConnectionError) console.error(`is Sluice running at ${err.endpoint}?`);
 */
export class SluiceConnectionError extends SluiceClientError {
  override name = 'SluiceConnectionError';
  readonly endpoint: string;
  constructor(message: string, endpoint: string, options?: { cause?: unknown }) {
    super(message, { retriable: true, cause: options?.cause });
    this.endpoint = endpoint;
  }
}

/** A retriable error kept failing until the retry policy gave up; `cause` is the last failure. */
export class SluiceNumberOfRetriesExceededError extends SluiceClientError {
  override name = 'SluiceNumberOfRetriesExceededError';
  readonly retryCount: number;
  readonly retryTime: number;
  constructor(cause: Error, retryCount: number, retryTime: number) {
    super(`${cause.message} (gave up after ${retryCount} retries)`, { retriable: false, cause });
    this.retryCount = retryCount;
    this.retryTime = retryTime;
  }
}

/** A call the SDK refuses before sending anything: a bad argument, or a client in the wrong state. */
export class SluiceArgumentError extends SluiceClientError {
  override name = 'SluiceArgumentError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, { retriable: false, cause: options?.cause });
  }
}

/**
 * Follows `cause` links to the first error of a given class (e.g. a connection error under a retry error).
 *
 * @example
 * const down = findCause(err, SluiceConnectionError);
 * if (down) console.error(`cannot reach ${down.endpoint}`);
 */
export function findCause<T extends Error>(
  err: unknown,
  cls: abstract new (...args: never[]) => T,
): T | undefined {
  let e: unknown = err;
  for (let depth = 0; e && depth < 10; depth++) {
    if (e instanceof cls) return e;
    e = (e as { cause?: unknown }).cause;
  }
  return undefined;
}
