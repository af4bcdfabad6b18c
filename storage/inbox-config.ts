/**
 * Chooses the inbox (acks=1) from the environment, as `config.ts` chooses the stores:
 *
 * | variable               | meaning                                                        |
 * |------------------------|----------------------------------------------------------------|
 * | `SLUICE_INBOX_STREAM`  | a Kinesis stream ARN (the CDK stack sets it for a Kinesis inbox); at `AWS_ENDPOINT_URL` when set |
 * | `SLUICE_INBOX_URL`     | an SQS queue URL (the CDK stack sets it); at `AWS_ENDPOINT_URL` when set |
 * | `SLUICE_INBOX_DLQ_URL` | the Kinesis inbox's dead-letter SQS queue (the batcher sends invalid records there) |
 * | `SLUICE_STORAGE`       | without either: `local` → `<SLUICE_DATA_DIR>/inbox.sqlite`; `memory` → in memory; `aws` with `AWS_ENDPOINT_URL` → created on the emulator (below); `aws` alone → no inbox |
 * | `SLUICE_INBOX_BACKEND` | with `SLUICE_STORAGE=aws` and `AWS_ENDPOINT_URL`: `sqs` (default) → a queue `sluice-inbox`; `kinesis` → a stream `sluice-inbox` of 1 shard and a dead-letter queue `sluice-inbox-dlq` |
 */

import { InvalidRequestError } from '../core/errors.js';
import type { InboxSender } from '../core/inbox/queue.js';
import { awsClientConfig } from './aws-client-config.js';

export interface Inbox {
  queue: InboxSender;
  describe: string;
  close(): Promise<void>;
}

/** The SQS queue at `url`, or `name` created on the emulator when `url` is unset. */
async function sqsQueue(env: NodeJS.ProcessEnv, url: string | undefined, name: string): Promise<Inbox> {
  const { SQSClient, CreateQueueCommand } = await import('@aws-sdk/client-sqs');
  const client = new SQSClient(awsClientConfig(env));
  if (!url) {
    const out = await client.send(new CreateQueueCommand({ QueueName: name }));
    url = out.QueueUrl!;
  }
  const { SqsInboxQueue, regionOfQueueUrl } = await import('./sqs.js');
  return {
    queue: new SqsInboxQueue(url, client, regionOfQueueUrl(url, env)),
    describe: `sqs: ${url}`,
    close: async () => client.destroy(),
  };
}

/** The Kinesis stream `arn`, or `sluice-inbox` (1 shard) created on the emulator when unset. */
async function kinesisStream(env: NodeJS.ProcessEnv, arn: string | undefined): Promise<Inbox> {
  const { CreateStreamCommand, DescribeStreamSummaryCommand } = await import('@aws-sdk/client-kinesis');
  const { KinesisInboxQueue, createKinesisClient } = await import('./kinesis.js');
  const client = await createKinesisClient(awsClientConfig(env));
  if (!arn) {
    const StreamName = 'sluice-inbox';
    await client
      .send(
        new CreateStreamCommand({
          StreamName,
          ShardCount: 1,
          StreamModeDetails: { StreamMode: 'PROVISIONED' },
        }),
      )
      .catch((err: { name?: string }) => {
        if (err.name !== 'ResourceInUseException') throw err;
      });
    const out = await client.send(new DescribeStreamSummaryCommand({ StreamName }));
    arn = out.StreamDescriptionSummary!.StreamARN!;
  }
  const { regionOfStreamArn } = await import('./inbox-address.js');
  return {
    queue: new KinesisInboxQueue(arn, client, { region: regionOfStreamArn(arn, env) }),
    describe: `kinesis: ${arn}`,
    close: async () => client.destroy(),
  };
}

/** @returns the inbox, or `undefined` when the deployment has none (acks=1 is refused). */
export async function inboxFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<Inbox | undefined> {
  const endpoint = env.AWS_ENDPOINT_URL || undefined;
  const kind = env.SLUICE_STORAGE || 'local';
  const emulated = kind === 'aws' && endpoint !== undefined;
  const backend = env.SLUICE_INBOX_BACKEND;
  if (backend !== undefined && backend !== '' && backend !== 'sqs' && backend !== 'kinesis') {
    throw new InvalidRequestError(
      `SLUICE_INBOX_BACKEND must be sqs or kinesis (got '${backend}')`,
      'SLUICE_INBOX_BACKEND',
    );
  }
  if (backend === 'kinesis' && !emulated && !env.SLUICE_INBOX_STREAM) {
    throw new InvalidRequestError(
      'SLUICE_INBOX_BACKEND=kinesis needs SLUICE_STORAGE=aws with AWS_ENDPOINT_URL (a stream is created on the emulator) or SLUICE_INBOX_STREAM (a stream ARN)',
      'SLUICE_INBOX_BACKEND',
    );
  }
  if (
    env.SLUICE_INBOX_STREAM ||
    (emulated && !env.SLUICE_INBOX_URL && env.SLUICE_INBOX_BACKEND === 'kinesis')
  ) {
    return kinesisStream(env, env.SLUICE_INBOX_STREAM);
  }
  if (env.SLUICE_INBOX_URL || emulated) return sqsQueue(env, env.SLUICE_INBOX_URL, 'sluice-inbox');
  if (kind === 'aws') return undefined;
  const { SqliteInboxQueue } = await import('./sqlite-queue.js');
  if (kind === 'memory') {
    const queue = new SqliteInboxQueue(':memory:');
    return { queue, describe: 'memory', close: async () => queue.close() };
  }
  const { mkdir } = await import('node:fs/promises');
  const { join, resolve } = await import('node:path');
  const dir = resolve(env.SLUICE_DATA_DIR || './.sluice');
  await mkdir(dir, { recursive: true });
  const file = join(dir, 'inbox.sqlite');
  const queue = new SqliteInboxQueue(file);
  return { queue, describe: `local: ${file}`, close: async () => queue.close() };
}

/**
 * The Kinesis inbox's dead-letter queue: SLUICE_INBOX_DLQ_URL, or — for a stream created on
 * the emulator — `sluice-inbox-dlq` created there; `undefined` otherwise.
 */
export async function inboxDeadLettersFromEnv(
  env: NodeJS.ProcessEnv = process.env,
): Promise<InboxSender | undefined> {
  const emulated = env.SLUICE_STORAGE === 'aws' && !!env.AWS_ENDPOINT_URL;
  if (env.SLUICE_INBOX_DLQ_URL || (emulated && env.SLUICE_INBOX_BACKEND === 'kinesis')) {
    return (await sqsQueue(env, env.SLUICE_INBOX_DLQ_URL, 'sluice-inbox-dlq')).queue;
  }
  return undefined;
}
