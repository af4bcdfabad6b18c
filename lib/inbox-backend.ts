/**
 * The acks=1 inbox's backend, as `SluiceClusterProps` chooses it (`inboxBackend`,
 * `inboxShards`, `inboxRetention`), checked at synth time: a Kinesis option given to an SQS
 * inbox, or the other way round, is a mistake CloudFormation would not report.
 */
import { Duration, Token } from 'aws-cdk-lib';

/** Where acks=1 events wait for the batcher: an SQS standard queue or a provisioned Kinesis stream. */
export type InboxBackend = 'sqs' | 'kinesis';

/**
 * How long the batcher's ledger remembers committed events (`ledgerTtlMs` of
 * core/inbox/batcher.ts, 5 days).
 */
export const INBOX_LEDGER_TTL = Duration.days(5);

/**
 * The longest the Kinesis inbox may keep a record: 4 days, as the SQS inbox keeps a message,
 * a day under the ledger's memory ({@link INBOX_LEDGER_TTL}), so a redelivery is always
 * recognised (the ledger item's TTL counts from the batcher's clock at commit, a record's
 * age from Kinesis' clock at arrival).
 */
export const KINESIS_INBOX_MAX_RETENTION = Duration.days(4);

/**
 * The batch window when `inboxBatchWindow` is not given (see its TSDoc): SQS 1 s, the ≤ 2 s
 * delay at low volume; Kinesis 2 s, half the commits at sustained volume, where its mapping
 * already reads a shard only once a second.
 */
export function defaultInboxBatchWindow(backend: InboxBackend): Duration {
  return Duration.seconds(backend === 'kinesis' ? 2 : 1);
}

/** Kinesis keeps records at least this long, at no extra cost. */
export const KINESIS_INBOX_DEFAULT_RETENTION = Duration.hours(24);

/** Inbox options that contradict each other or the backend's limits. */
export class InvalidInboxOptionsError extends Error {
  override name = 'InvalidInboxOptionsError';
}

export interface InboxOptionsInput {
  readonly inboxBackend?: InboxBackend;
  readonly inboxShards?: number;
  readonly inboxRetention?: Duration;
  readonly inboxMaxConcurrency?: number;
}

export type InboxOptions =
  | { readonly backend: 'sqs' }
  | { readonly backend: 'kinesis'; readonly shards: number; readonly retention: Duration };

/**
 * The backend and its settings, defaults applied.
 *
 * @throws InvalidInboxOptionsError for an unknown backend, Kinesis options on an SQS inbox,
 *   `inboxMaxConcurrency` on a Kinesis inbox, shards that are not a whole number ≥ 1, or a
 *   retention outside 24 hours – 4 days.
 *
 * @example
 * inboxOptions({}); // { backend: 'sqs' }
 * inboxOptions({ inboxBackend: 'kinesis' }); // { backend: 'kinesis', shards: 1, retention: 24 h }
 */
export function inboxOptions(props: InboxOptionsInput): InboxOptions {
  const backend = props.inboxBackend ?? 'sqs';
  if (backend !== 'sqs' && backend !== 'kinesis') {
    throw new InvalidInboxOptionsError(`inboxBackend is '${String(backend)}': use 'sqs' or 'kinesis'`);
  }
  if (backend === 'sqs') {
    for (const key of ['inboxShards', 'inboxRetention'] as const) {
      if (props[key] !== undefined) {
        throw new InvalidInboxOptionsError(
          `${key} applies to the Kinesis inbox only: set inboxBackend: 'kinesis', or remove ${key}`,
        );
      }
    }
    return { backend };
  }
  if (props.inboxMaxConcurrency !== undefined) {
    throw new InvalidInboxOptionsError(
      'inboxMaxConcurrency applies to the SQS inbox only: the Kinesis inbox is read by one batcher invocation per shard (inboxShards)',
    );
  }
  const shards = props.inboxShards ?? 1;
  if (!Token.isUnresolved(shards) && (!Number.isInteger(shards) || shards < 1)) {
    throw new InvalidInboxOptionsError(`inboxShards is ${String(shards)}: use a whole number ≥ 1`);
  }
  const retention = props.inboxRetention ?? KINESIS_INBOX_DEFAULT_RETENTION;
  if (!retention.isUnresolved()) {
    const hours = retention.toHours({ integral: false });
    if (!Number.isInteger(hours) || hours < 24 || hours > KINESIS_INBOX_MAX_RETENTION.toHours()) {
      throw new InvalidInboxOptionsError(
        `inboxRetention is ${retention.toHumanString()}: use whole hours from 24 hours to ${KINESIS_INBOX_MAX_RETENTION.toHumanString()} (the batcher's ledger remembers committed events ${INBOX_LEDGER_TTL.toHumanString()}; a record kept about as long could be committed twice)`,
      );
    }
  }
  return { backend, shards, retention };
}

/**
 * What putting records into the Kinesis inbox takes: PutRecords (the SDK's and POST
 * /v1/inbox's call) and PutRecord. The stream is encrypted with the AWS-managed `aws/kinesis`
 * key, which needs no KMS permission of its callers.
 */
export const KINESIS_INBOX_PUT_ACTIONS = ['kinesis:PutRecord', 'kinesis:PutRecords'] as const;
