/**
 * The SDK's own client for the acks=1 inbox on SQS: `SendMessageBatch` over SQS's AWS JSON
 * 1.0 protocol (`X-Amz-Target: AmazonSQS.SendMessageBatch`), SigV4-signed for service
 * `sqs` by the signer the SDK uses for Function URLs. The AWS SDK's SQS client would add
 * some forty packages to every producer's install and bundle (docs/design.md §18); one
 * action needs none of them.
 *
 * Retries (kafkajs' policy, `retry.ts`; the loop is `aws-json.ts`'s, shared with the Kinesis
 * client): throttling (`RequestThrottled`, `ThrottlingException`, `KmsThrottled`), 5xx and
 * broken connections retry the whole request; entries a `SendMessageBatch` answers as
 * `Failed` with `SenderFault: false` are retried alone; `SenderFault: true` fails that entry
 * for good. A retried entry may have landed the first time: the batcher deduplicates it (by
 * producer sequence or event id).
 */
import { protocolError } from '../errors.js';
import type { Logger } from '../logger.js';
import { DEFAULT_RETRY, type RetryOptions } from '../retry.js';
import { AwsJsonClient, chunkIndexes, type InboxSendResult, sendWithRetries } from './aws-json.js';
import type { Credentials } from './sigv4.js';
import type { Transport } from './types.js';

/** SQS's limits of one SendMessageBatch: 10 entries, 256 KiB of bodies in all. */
export const SQS_BATCH_ENTRIES = 10;
export const SQS_BATCH_BYTES = 256 * 1024;

export interface SqsInboxClientOptions {
  queueUrl: string;
  region: string;
  /** By default the environment's, else `@aws-sdk/credential-provider-node`'s chain when installed. */
  credentials?: Credentials;
  /** Sends the signed requests; by default Node's fetch. */
  transport?: Transport;
  retry?: RetryOptions;
  logger?: Logger;
  /** Per-request timeout (ms). @default 30000 */
  requestTimeout?: number;
}

/** One message's outcome: its SQS message id, or why it was not taken. */
export type SqsSendResult = InboxSendResult;

interface BatchAnswer {
  Successful?: { Id: string; MessageId: string }[];
  Failed?: { Id: string; SenderFault?: boolean; Code?: string; Message?: string }[];
}

const utf8 = new TextEncoder();

/**
 * @example
 * const sqs = new SqsInboxClient({ queueUrl, region: 'eu-west-1' });
 * const [result] = await sqs.sendMessages([body]); // { messageId: '…' }
 */
export class SqsInboxClient {
  readonly queueUrl: string;
  /** Where requests go: the queue URL's origin (the JSON protocol names the queue in the body). */
  readonly endpoint: string;
  private readonly client: AwsJsonClient;
  private readonly retry: Required<RetryOptions>;

  constructor(private readonly options: SqsInboxClientOptions) {
    this.queueUrl = options.queueUrl;
    this.endpoint = `${new URL(options.queueUrl).origin}/`;
    this.client = new AwsJsonClient({
      endpoint: this.endpoint,
      region: options.region,
      credentials: options.credentials,
      service: 'sqs',
      targetPrefix: 'AmazonSQS',
      contentType: 'application/x-amz-json-1.0',
      label: `SQS (${this.queueUrl})`,
      transport: options.transport,
      requestTimeout: options.requestTimeout,
    });
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
  }

  /** What log lines name this inbox by. */
  get target(): Record<string, string> {
    return { queueUrl: this.queueUrl };
  }

  /**
   * Enqueues `bodies` in SendMessageBatch requests of up to 10 (and 256 KiB), concurrently;
   * resolves, once every one is taken or has failed for good, with one result per body, in order.
   */
  async sendMessages(bodies: readonly string[]): Promise<SqsSendResult[]> {
    const out: SqsSendResult[] = new Array(bodies.length);
    const chunks = chunkIndexes(
      bodies.map((b) => utf8.encode(b).length),
      SQS_BATCH_ENTRIES,
      SQS_BATCH_BYTES,
    );
    await Promise.all(
      chunks.map((c) =>
        sendWithRetries(
          c,
          out,
          (pending) => this.attempt(bodies, pending, out),
          this.retry,
          this.options.logger,
          'SQS inbox send',
        ),
      ),
    );
    return out;
  }

  private async attempt(
    bodies: readonly string[],
    pending: number[],
    out: SqsSendResult[],
  ): Promise<unknown> {
    const answer = (await this.client.call('SendMessageBatch', {
      QueueUrl: this.queueUrl,
      Entries: pending.map((i) => ({ Id: String(i), MessageBody: bodies[i] })),
    })) as BatchAnswer;
    let last: unknown;
    for (const s of answer.Successful ?? []) out[Number(s.Id)] = { messageId: s.MessageId };
    for (const f of answer.Failed ?? []) {
      const error = protocolError(
        f.SenderFault ? 'INVALID_REQUEST' : 'UNAVAILABLE',
        `SQS SendMessageBatch refused a message: ${f.Code ?? 'error'}: ${f.Message ?? ''}`,
        f.SenderFault ? 400 : 500,
        !f.SenderFault,
      );
      if (f.SenderFault) out[Number(f.Id)] = { error };
      else last = error;
    }
    return last;
  }
}
