/**
 * The SDK's own client for the acks=1 inbox on a Kinesis data stream: `PutRecords` over
 * Kinesis' AWS JSON 1.1 protocol (`X-Amz-Target: Kinesis_20131202.PutRecords`), the stream
 * named by its ARN in the body, SigV4-signed for service `kinesis` — no AWS SDK package, as
 * for SQS (`sqs.ts`). One record per inbox message, under the partition key the caller gives
 * (`core/inbox/partition-key.ts`); the message id is the record's sequence number.
 *
 * Endpoint: `AWS_ENDPOINT_URL_KINESIS`, else `AWS_ENDPOINT_URL` (as the AWS SDKs read
 * them: an emulator), else `https://kinesis.<region>.amazonaws.com`.
 *
 * Retries (the same policy and loop as SQS, `aws-json.ts`): throttling
 * (`ProvisionedThroughputExceededException`, `LimitExceededException`, KMS throttling), 5xx
 * and broken connections retry the whole request; records a PutRecords answers with
 * `ErrorCode` `ProvisionedThroughputExceededException` or `InternalFailure` are put again
 * alone; any other per-record error (KMS access denied, disabled key…) fails that record for
 * good; AccessDenied and the like fail the request. A record put again may have landed the
 * first time: the batcher deduplicates it.
 */
import { protocolError } from '../errors.js';
import type { Logger } from '../logger.js';
import { DEFAULT_RETRY, type RetryOptions } from '../retry.js';
import {
  AwsJsonClient,
  awsErrorCode,
  chunkIndexes,
  type InboxSendResult,
  sendWithRetries,
} from './aws-json.js';
import type { Credentials } from './sigv4.js';
import type { Transport } from './types.js';

/** Kinesis' limits of one PutRecords: 500 records, 5 MiB of data and partition keys in all. */
export const KINESIS_BATCH_RECORDS = 500;
export const KINESIS_BATCH_BYTES = 5 * 1024 * 1024;

export interface KinesisInboxClientOptions {
  streamArn: string;
  region: string;
  /** Where requests go; by default as the file comment says. */
  endpoint?: string;
  /** By default the environment's, else `@aws-sdk/credential-provider-node`'s chain when installed. */
  credentials?: Credentials;
  /** Sends the signed requests; by default Node's fetch. */
  transport?: Transport;
  retry?: RetryOptions;
  logger?: Logger;
  /** Per-request timeout (ms). @default 30000 */
  requestTimeout?: number;
}

interface PutRecordsAnswer {
  FailedRecordCount?: number;
  Records?: { SequenceNumber?: string; ShardId?: string; ErrorCode?: string; ErrorMessage?: string }[];
}

/** Per-record error codes worth putting again. */
const RETRIABLE_RECORD = /ProvisionedThroughputExceeded|InternalFailure/;

const utf8 = new TextEncoder();

/** The Kinesis endpoint for `region`, or the emulator's of the environment. */
export function kinesisEndpoint(region: string, env: NodeJS.ProcessEnv = process.env): string {
  const override = env.AWS_ENDPOINT_URL_KINESIS || env.AWS_ENDPOINT_URL;
  if (override) return override.endsWith('/') ? override : `${override}/`;
  return `https://kinesis.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}/`;
}

/**
 * @example
 * const kinesis = new KinesisInboxClient({ streamArn, region: 'eu-west-1' });
 * const [result] = await kinesis.sendMessages([body], ['42:events:0']); // { messageId: '4959…' }
 */
export class KinesisInboxClient {
  readonly streamArn: string;
  readonly endpoint: string;
  private readonly client: AwsJsonClient;
  private readonly retry: Required<RetryOptions>;

  constructor(private readonly options: KinesisInboxClientOptions) {
    this.streamArn = options.streamArn;
    this.endpoint = options.endpoint ?? kinesisEndpoint(options.region);
    this.client = new AwsJsonClient({
      endpoint: this.endpoint,
      region: options.region,
      credentials: options.credentials,
      service: 'kinesis',
      targetPrefix: 'Kinesis_20131202',
      contentType: 'application/x-amz-json-1.1',
      label: `Kinesis (${this.streamArn})`,
      transport: options.transport,
      requestTimeout: options.requestTimeout,
    });
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
  }

  /** What log lines name this inbox by. */
  get target(): Record<string, string> {
    return { streamArn: this.streamArn };
  }

  /**
   * Puts `bodies` (one record each, under `partitionKeys[i]`) in PutRecords requests of up
   * to 500 records and 5 MiB, concurrently; resolves, once every one is taken or has failed
   * for good, with one result per body, in order (the message id: its sequence number).
   */
  async sendMessages(
    bodies: readonly string[],
    partitionKeys: readonly string[],
  ): Promise<InboxSendResult[]> {
    const out: InboxSendResult[] = new Array(bodies.length);
    const data = bodies.map((b) => utf8.encode(b));
    const chunks = chunkIndexes(
      data.map((d, i) => d.length + utf8.encode(partitionKeys[i]!).length),
      KINESIS_BATCH_RECORDS,
      KINESIS_BATCH_BYTES,
    );
    await Promise.all(
      chunks.map((c) =>
        sendWithRetries(
          c,
          out,
          (pending) => this.attempt(data, partitionKeys, pending, out),
          this.retry,
          this.options.logger,
          'Kinesis inbox put',
        ),
      ),
    );
    return out;
  }

  private async attempt(
    data: readonly Uint8Array[],
    partitionKeys: readonly string[],
    pending: number[],
    out: InboxSendResult[],
  ): Promise<unknown> {
    const answer = (await this.client.call('PutRecords', {
      StreamARN: this.streamArn,
      Records: pending.map((i) => ({
        Data: Buffer.from(data[i]!).toString('base64'),
        PartitionKey: partitionKeys[i],
      })),
    })) as PutRecordsAnswer;
    let last: unknown;
    // The answer's records are the request's, in order.
    (answer.Records ?? []).forEach((r, j) => {
      const i = pending[j];
      if (i === undefined) return;
      if (r.SequenceNumber && !r.ErrorCode) {
        out[i] = { messageId: r.SequenceNumber };
        return;
      }
      const retriable = RETRIABLE_RECORD.test(r.ErrorCode ?? '');
      const { code } = awsErrorCode(r.ErrorCode ?? '', retriable ? 500 : 400);
      const error = protocolError(
        code,
        `Kinesis PutRecords refused a record: ${r.ErrorCode ?? 'error'}: ${r.ErrorMessage ?? ''}`,
        retriable ? 500 : 400,
        retriable,
      );
      if (retriable) last = error;
      else out[i] = { error };
    });
    return last;
  }
}
