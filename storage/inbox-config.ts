/**
 * Chooses the inbox queue (acks=1) from the environment, as `config.ts` chooses the stores:
 *
 * | variable            | meaning                                                        |
 * |---------------------|----------------------------------------------------------------|
 * | `SLUICE_INBOX_URL`  | an SQS queue URL (the CDK stack sets it); at `AWS_ENDPOINT_URL` when set |
 * | `SLUICE_STORAGE`    | without an URL: `local` → `<SLUICE_DATA_DIR>/inbox.sqlite`; `memory` → in memory; `aws` with `AWS_ENDPOINT_URL` → a queue `sluice-inbox` created on the emulator; `aws` alone → no inbox |
 */
import type { InboxQueue } from '../core/inbox/queue.js';

export interface Inbox {
  queue: InboxQueue;
  describe: string;
  close(): Promise<void>;
}

/** @returns the inbox, or `undefined` when the deployment has none (acks=1 is refused). */
export async function inboxFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<Inbox | undefined> {
  const endpoint = env.AWS_ENDPOINT_URL || undefined;
  const kind = env.SLUICE_STORAGE || 'local';
  let url = env.SLUICE_INBOX_URL;
  if (url || (kind === 'aws' && endpoint)) {
    const { SQSClient, CreateQueueCommand } = await import('@aws-sdk/client-sqs');
    const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || (endpoint ? 'us-east-1' : undefined);
    const credentials =
      env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
        ? { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY }
        : undefined;
    const client = new SQSClient({ endpoint, region, credentials });
    if (!url) {
      const out = await client.send(new CreateQueueCommand({ QueueName: 'sluice-inbox' }));
      url = out.QueueUrl!;
    }
    const { SqsInboxQueue, regionOfQueueUrl } = await import('./sqs.js');
    return {
      queue: new SqsInboxQueue(url, client, regionOfQueueUrl(url, env)),
      describe: `sqs: ${url}`,
      close: async () => client.destroy(),
    };
  }
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
