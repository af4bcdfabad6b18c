/** `sluice consume <topic>`: records to stdout, following new data until Ctrl-C. */
import type { KafkaMessage } from '../../sdk/index.js';
import {
  client,
  ENDPOINT_HELP,
  EXIT,
  EXIT_HELP,
  endpointOf,
  intFlag,
  out,
  parse,
  plural,
  UsageError,
} from './common.js';

export const consumeHelp = `Usage: sluice consume <topic> [options]

Prints the records of a topic and follows new ones until Ctrl-C (or --max-messages).

Options:
  --group <id>          consume as a member of this group (commits offsets, shares partitions)
  --from-beginning      start at the earliest offset when there is no committed one
                        (default: only records produced from now on)
  --max-messages <n>    exit after n records
  --format <fmt>        raw: the value (default); json: one JSON object per record;
                        table: partition, offset, time, key and value in columns
  --print-key           raw format: print key<TAB>value
  --partition <n>       read only this partition (not with --group)
${ENDPOINT_HELP}

Examples:
  sluice consume orders --from-beginning --max-messages 10
  sluice consume orders --group billing --format json

${EXIT_HELP}
`;

export async function consumeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    group: { type: 'string' },
    'from-beginning': { type: 'boolean' },
    'max-messages': { type: 'string' },
    format: { type: 'string' },
    'print-key': { type: 'boolean' },
    partition: { type: 'string' },
  });
  if (values.help) {
    out(consumeHelp);
    return EXIT.ok;
  }
  const [topic, ...extra] = positionals;
  if (!topic) throw new UsageError('name the topic to consume: sluice consume <topic>');
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const format = values.format ?? 'raw';
  if (!['raw', 'json', 'table'].includes(format))
    throw new UsageError(`--format must be raw, json or table, got '${format}'`);
  const max = intFlag(values['max-messages'], 'max-messages', 1);
  const partition = intFlag(values.partition, 'partition');
  if (partition !== undefined && values.group)
    throw new UsageError('--partition cannot be combined with --group');
  const fromBeginning = values['from-beginning'] ?? false;

  const sluice = client(endpointOf(values));
  await sluice.admin().fetchTopicMetadata({ topics: [topic] });
  const consumer = sluice.consumer({
    groupId: values.group,
    maxWaitTimeInMs: 1000,
    offsetReset: fromBeginning ? 'earliest' : 'latest',
  });

  let count = 0;
  let done: () => void = () => {};
  const finished = new Promise<void>((resolve) => {
    done = resolve;
  });
  const stdoutClosed = () => done();
  process.stdout.on('error', stdoutClosed);
  process.once('SIGINT', done);
  process.once('SIGTERM', done);
  if (format === 'table')
    out(
      `${'PARTITION'.padEnd(9)}  ${'OFFSET'.padEnd(10)}  ${'TIMESTAMP'.padEnd(24)}  ${'KEY'.padEnd(20)}  VALUE\n`,
    );

  if (partition !== undefined) consumer.assign([{ topic, partitions: [partition] }]);
  else await consumer.subscribe({ topics: [topic], fromBeginning });
  await consumer.run({
    eachMessage: async ({ partition: p, message }) => {
      out(render(format, topic, p, message, values['print-key'] ?? false));
      count++;
      if (max !== undefined && count >= max) {
        // Nothing past the last printed record is handed over, so a group commits only what was printed.
        consumer.pause([{ topic }]);
        done();
      }
    },
  });
  await finished;
  await consumer.disconnect();
  process.stdout.off('error', stdoutClosed);
  if (max === undefined) process.stderr.write(`consumed ${plural(count, 'record')}\n`);
  return EXIT.ok;
}

function text(b: Buffer | null): string {
  return b === null ? 'null' : b.toString('utf8');
}

function render(
  format: string,
  topic: string,
  partition: number,
  m: KafkaMessage,
  printKey: boolean,
): string {
  if (format === 'json') {
    const headers: Record<string, string | null | (string | null)[]> = {};
    const str = (b: Buffer | null) => (b === null ? null : b.toString('utf8'));
    for (const [k, v] of Object.entries(m.headers)) {
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.map(str) : str(v);
    }
    return `${JSON.stringify({
      topic,
      partition,
      offset: Number(m.offset),
      timestamp: Number(m.timestamp),
      key: m.key === null ? null : m.key.toString('utf8'),
      value: m.value === null ? null : m.value.toString('utf8'),
      headers,
    })}\n`;
  }
  if (format === 'table') {
    const time = new Date(Number(m.timestamp)).toISOString();
    const key = oneLine(text(m.key), 20);
    return `${String(partition).padEnd(9)}  ${m.offset.padEnd(10)}  ${time.padEnd(24)}  ${key.padEnd(20)}  ${oneLine(text(m.value), 80)}\n`;
  }
  return printKey ? `${text(m.key)}\t${text(m.value)}\n` : `${text(m.value)}\n`;
}

function oneLine(s: string, max: number): string {
  const flat = s.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
