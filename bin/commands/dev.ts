/** `sluice dev [--port N] [--host H] [--data-dir DIR] [--subscription topic=T,handler=./f.ts#fn]… [--subscriptions-file F]` */
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { formatReport } from '../../core/maintenance/report.js';
import { startDevServer } from '../dev.js';
import { parseSubscriptionFlag, parseSubscriptionsFile } from '../dev-subscriptions.js';

export const devHelp = `Usage: sluice dev [options]

Runs Sluice locally: every API of the cluster on one port, served by the real Lambda
handlers over an embedded store (files + SQLite), or S3 + DynamoDB with
SLUICE_STORAGE=aws and AWS_ENDPOINT_URL (moto, LocalStack). The acks=1 inbox is an
embedded queue, or on the emulator an SQS queue (SLUICE_INBOX_BACKEND=sqs, the default) or
a Kinesis stream (SLUICE_INBOX_BACKEND=kinesis), created there.

Options:
  --port <n>         port to listen on (env SLUICE_PORT, default 8092; 0 picks a free one)
  --host <addr>      address to bind (default 127.0.0.1)
  --data-dir <dir>   where the embedded store keeps data (env SLUICE_DATA_DIR, default ./.sluice)
  --maintenance-interval <ms>
                     run retention, compaction and GC every <ms> (env SLUICE_MAINTENANCE_INTERVAL_MS,
                     default 10000; 0 turns it off)
  --subscription topic=<topic>,handler=<module>#<export>[,name=<name>][,<setting>=<value>…]
                     push the topic's records to a local module's function, as a subscription
                     does to a Lambda function (repeatable; settings as in POST /v1/subscriptions,
                     e.g. batchSize=10,startingPosition=earliest,onFailure=dlq)
  --subscriptions-file <file.json>
                     subscriptions from a file: [{"topic", "handler", …any setting of
                     POST /v1/subscriptions, filters included}] (or {"subscriptions": [...]})
  -h, --help         show this help
`;

export async function devCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      port: { type: 'string' },
      host: { type: 'string' },
      'data-dir': { type: 'string' },
      'maintenance-interval': { type: 'string' },
      subscription: { type: 'string', multiple: true },
      'subscriptions-file': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(devHelp);
    return 0;
  }
  const portText = values.port ?? process.env.SLUICE_PORT ?? '8092';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`sluice dev: --port must be a number from 0 to 65535, got '${portText}'\n`);
    return 2;
  }
  const intervalText =
    values['maintenance-interval'] ?? process.env.SLUICE_MAINTENANCE_INTERVAL_MS ?? '10000';
  const maintenanceIntervalMs = Number(intervalText);
  if (!Number.isSafeInteger(maintenanceIntervalMs) || maintenanceIntervalMs < 0) {
    process.stderr.write(
      `sluice dev: --maintenance-interval must be a number of ms ≥ 0 (0: off), got '${intervalText}'\n`,
    );
    return 2;
  }
  let definitions: Record<string, unknown>[];
  try {
    definitions = (values.subscription ?? []).map(parseSubscriptionFlag);
    const file = values['subscriptions-file'];
    if (file) definitions.push(...parseSubscriptionsFile(await readFile(file, 'utf8'), file));
  } catch (err) {
    process.stderr.write(`sluice dev: ${(err as Error).message}\n`);
    return 2;
  }
  const env = { ...process.env };
  if (values['data-dir']) env.SLUICE_DATA_DIR = values['data-dir'];
  let server: Awaited<ReturnType<typeof startDevServer>>;
  try {
    server = await startDevServer({
      port,
      host: values.host,
      env,
      maintenanceIntervalMs,
      subscriptions: { definitions },
      onMaintenance: (report) => process.stdout.write(`maintenance: ${formatReport(report)}\n`),
    });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE') {
      process.stderr.write(`sluice dev: port ${port} is in use; pick another with --port or SLUICE_PORT\n`);
      return 1;
    }
    throw err;
  }
  process.stdout.write(
    [
      `Sluice dev server listening on ${server.url}`,
      `  storage: ${server.storage}`,
      `  inbox (acks=1): ${server.inbox}`,
      ...definitions.map((d) => `  subscription ${d.name}: ${d.topic} → ${d.target}`),
      '',
      'Try it:',
      `  curl -s -XPOST ${server.url}/v1/topics -H 'content-type: application/json' -d '{"name":"hello","partitions":3}'`,
      `  curl -s -XPOST ${server.url}/v1/produce -H 'content-type: application/json' -d '{"topic":"hello","records":[{"key":"k","value":"world","partition":0}]}'`,
      `  curl -s '${server.url}/v1/fetch?topic=hello&partition=0&offset=0'`,
      '',
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  process.stdout.write('\nstopping…\n');
  await server.close();
  return 0;
}
