/**
 * Inbox queues for tests, beside the stores of `makeStores`: the embedded SQLite queue in
 * a temp dir, or an SQS queue of its own on the emulator of the global setup; a Kinesis
 * stream of its own there.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { InboxQueue } from '../../core/inbox/queue.js';
import type { KinesisInboxOptions, KinesisInboxQueue } from '../../storage/kinesis.js';
import { awsEndpoint, EMULATOR_CREDENTIALS } from '../helpers/stores.js';

export interface TestQueue {
  queue: InboxQueue;
  cleanup(): Promise<void>;
}

export async function makeQueue(
  kind: 'embedded' | 'sqs',
  options: { visibilityTimeoutSec?: number } = {},
): Promise<TestQueue> {
  if (kind === 'embedded') {
    const { SqliteInboxQueue } = await import('../../storage/sqlite-queue.js');
    const dir = await mkdtemp(join(tmpdir(), 'sluice-inbox-'));
    const queue = new SqliteInboxQueue(join(dir, 'inbox.sqlite'));
    return {
      queue,
      cleanup: async () => {
        queue.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
  const { SQSClient, CreateQueueCommand, DeleteQueueCommand } = await import('@aws-sdk/client-sqs');
  const { SqsInboxQueue } = await import('../../storage/sqs.js');
  const client = new SQSClient({
    endpoint: awsEndpoint(),
    region: 'us-east-1',
    credentials: EMULATOR_CREDENTIALS,
  });
  const name = `sluice-inbox-${randomBytes(6).toString('hex')}`;
  const { QueueUrl } = await client.send(
    new CreateQueueCommand({
      QueueName: name,
      Attributes: { VisibilityTimeout: String(options.visibilityTimeoutSec ?? 30) },
    }),
  );
  return {
    queue: new SqsInboxQueue(QueueUrl!, client),
    cleanup: async () => {
      await client.send(new DeleteQueueCommand({ QueueUrl })).catch(() => undefined);
      client.destroy();
    },
  };
}

export interface TestStream {
  stream: KinesisInboxQueue;
  cleanup(): Promise<void>;
}

/** A Kinesis stream of its own on the emulator (provisioned, `shards` shards), as the inbox. */
export async function makeStream(
  options: { shards?: number; inbox?: Partial<KinesisInboxOptions> } = {},
): Promise<TestStream> {
  const { CreateStreamCommand, DeleteStreamCommand, DescribeStreamSummaryCommand } = await import(
    '@aws-sdk/client-kinesis'
  );
  const { KinesisInboxQueue, createKinesisClient } = await import('../../storage/kinesis.js');
  const client = await createKinesisClient({
    endpoint: awsEndpoint(),
    region: 'us-east-1',
    credentials: EMULATOR_CREDENTIALS,
  });
  const StreamName = `sluice-inbox-${randomBytes(6).toString('hex')}`;
  await client.send(
    new CreateStreamCommand({
      StreamName,
      ShardCount: options.shards ?? 1,
      StreamModeDetails: { StreamMode: 'PROVISIONED' },
    }),
  );
  const out = await client.send(new DescribeStreamSummaryCommand({ StreamName }));
  return {
    stream: new KinesisInboxQueue(out.StreamDescriptionSummary!.StreamARN!, client, {
      region: 'us-east-1',
      ...options.inbox,
    }),
    cleanup: async () => {
      await client.send(new DeleteStreamCommand({ StreamName })).catch(() => undefined);
      client.destroy();
    },
  };
}
