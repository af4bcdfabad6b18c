/** `sluice topics create|list|describe|delete` */
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
  table,
  UsageError,
} from './common.js';

export const topicsHelp = `Usage: sluice topics <create|list|describe|delete> [options]

  sluice topics create <name> [--partitions <n>] [--config key=value]...
  sluice topics list
  sluice topics describe <name>
  sluice topics delete <name>

Options:
  --partitions <n>   partitions of a new topic (default 1)
  --config <k=v>     topic config: retention.ms, retention.bytes, cleanup.policy, max.message.bytes
  --json             print JSON instead of a table (list, describe)
${ENDPOINT_HELP}

${EXIT_HELP}
`;

export async function topicsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    partitions: { type: 'string' },
    config: { type: 'string', multiple: true },
    json: { type: 'boolean' },
  });
  if (values.help) {
    out(topicsHelp);
    return EXIT.ok;
  }
  const [action, name, ...extra] = positionals;
  if (!action) throw new UsageError('name an action: create, list, describe or delete');
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const needsName = action === 'create' || action === 'describe' || action === 'delete';
  if (needsName && !name) throw new UsageError(`'topics ${action}' needs a topic name`);
  const endpoint = endpointOf(values);
  const admin = client(endpoint).admin();

  switch (action) {
    case 'create': {
      const partitions = intFlag(values.partitions, 'partitions', 1) ?? 1;
      const configEntries = (values.config ?? []).map((kv) => {
        const eq = kv.indexOf('=');
        if (eq <= 0) throw new UsageError(`--config takes key=value, got '${kv}'`);
        return { name: kv.slice(0, eq), value: kv.slice(eq + 1) };
      });
      const created = await admin.createTopics({
        topics: [{ topic: name!, numPartitions: partitions, configEntries }],
      });
      if (!created) {
        process.stderr.write(`sluice topics: topic '${name}' already exists\n`);
        return EXIT.failed;
      }
      out(`created topic ${name} with ${partitions} partition${partitions === 1 ? '' : 's'}\n`);
      return EXIT.ok;
    }
    case 'list': {
      const { topics } = await admin.fetchTopicMetadata();
      const rows = topics.map((t) => ({ name: t.name, partitions: t.partitions.length }));
      if (values.json) out(`${JSON.stringify(rows)}\n`);
      else if (rows.length === 0) out('no topics yet: create one with `sluice topics create <name>`\n');
      else
        out(
          table(
            ['TOPIC', 'PARTITIONS'],
            rows.map((t) => [t.name, t.partitions]),
          ),
        );
      return EXIT.ok;
    }
    case 'describe': {
      const d = await admin.describeTopic(name!);
      if (values.json) {
        out(`${JSON.stringify(d)}\n`);
        return EXIT.ok;
      }
      const records = d.partitions.reduce((n, p) => n + p.highWatermark - p.logStartOffset, 0);
      out(`topic ${d.name}: ${plural(d.partitions.length, 'partition')}, ${plural(records, 'record')}\n`);
      out(
        `config: ${Object.entries(d.config)
          .map(([k, v]) => `${k}=${v}`)
          .join(' ')}\n\n`,
      );
      out(
        table(
          ['PARTITION', 'LOG-START', 'HIGH-WATERMARK', 'RECORDS'],
          d.partitions.map((p) => [
            p.partition,
            p.logStartOffset,
            p.highWatermark,
            p.highWatermark - p.logStartOffset,
          ]),
        ),
      );
      return EXIT.ok;
    }
    case 'delete':
      await admin.deleteTopics({ topics: [name!] });
      out(`deleted topic ${name}\n`);
      return EXIT.ok;
    default:
      throw new UsageError(`unknown action '${action}': use create, list, describe or delete`);
  }
}
