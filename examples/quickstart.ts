/**
 * Quickstart, kafkajs style: create a topic, produce, consume with a group, print.
 *
 *   npm start                          # in one terminal: sluice dev on :8092
 *   npx tsx examples/quickstart.ts     # in another
 *
 * With SLUICE_ENDPOINT unset and nothing on :8092, it starts a throwaway dev server itself.
 * In your own project, import from the package instead: `import { Sluice } from 'sluice'`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { logLevel, Sluice } from '../sdk/index.js';

async function endpoint(): Promise<{ url: string; stop: () => Promise<void> }> {
  const url = process.env.SLUICE_ENDPOINT ?? 'http://127.0.0.1:8092';
  try {
    await fetch(`${url}/v1/metadata`);
    return { url, stop: async () => {} };
  } catch {
    if (process.env.SLUICE_ENDPOINT) throw new Error(`cannot reach Sluice at ${url}`);
  }
  const { startDevServer } = await import('../bin/dev.js');
  const dir = await mkdtemp(join(tmpdir(), 'sluice-quickstart-'));
  const server = await startDevServer({
    port: 0,
    env: { ...process.env, SLUICE_STORAGE: 'local', SLUICE_DATA_DIR: dir },
  });
  console.log(`started a dev server at ${server.url}`);
  return {
    url: server.url,
    stop: async () => {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function main() {
  const { url, stop } = await endpoint();
  const sluice = new Sluice({ endpoint: url, logLevel: logLevel.WARN });
  const topic = `quickstart-${Date.now()}`;

  const admin = sluice.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
  console.log(`created topic ${topic}`);

  const producer = sluice.producer({ lingerMs: 5 });
  await producer.connect();
  const metadata = await producer.send({
    topic,
    messages: [
      { key: 'alice', value: JSON.stringify({ item: 'book', qty: 1 }) },
      { key: 'bob', value: JSON.stringify({ item: 'pen', qty: 3 }) },
      { key: 'alice', value: JSON.stringify({ item: 'lamp', qty: 2 }) },
    ],
  });
  for (const m of metadata) console.log(`produced to partition ${m.partition} at offset ${m.baseOffset}`);
  await producer.disconnect();

  const consumer = sluice.consumer({ groupId: 'quickstart', maxWaitTimeInMs: 500 });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let received = 0;
  const done = new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ partition, message }) => {
        console.log(
          `consumed ${message.key} ${message.value} (partition ${partition}, offset ${message.offset})`,
        );
        if (++received === 3) resolve();
      },
    });
  });
  await done;
  await consumer.disconnect();

  const { groups } = await admin.describeGroups(['quickstart']);
  const lag = groups[0]!.lag.filter((l) => l.topic === topic).reduce((n, l) => n + (l.lag ?? 0), 0);
  console.log(`group quickstart: lag ${lag}`);
  await admin.deleteTopics({ topics: [topic] });
  await stop();
  console.log('done');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
