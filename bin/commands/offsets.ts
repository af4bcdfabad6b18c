/** `sluice offsets <topic>`: per partition log start and end, optionally a group's position or a time's offset. */
import {
  client,
  ENDPOINT_HELP,
  EXIT,
  EXIT_HELP,
  endpointOf,
  out,
  parse,
  table,
  UsageError,
} from './common.js';

export const offsetsHelp = `Usage: sluice offsets <topic> [options]

Per partition: log start, high watermark (next offset to be written) and record count.

Options:
  --group <id>       add the group's committed offsets and lag
  --at <time>        add the first offset at or after a time (ms since the epoch or an ISO date)
  --json             print JSON instead of a table
${ENDPOINT_HELP}

${EXIT_HELP}
`;

export async function offsetsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    group: { type: 'string' },
    at: { type: 'string' },
    json: { type: 'boolean' },
  });
  if (values.help) {
    out(offsetsHelp);
    return EXIT.ok;
  }
  const [topic, ...extra] = positionals;
  if (!topic) throw new UsageError('name the topic: sluice offsets <topic>');
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  let at: number | undefined;
  if (values.at !== undefined) {
    at = /^\d+$/.test(values.at) ? Number(values.at) : Date.parse(values.at);
    if (!Number.isFinite(at))
      throw new UsageError(`--at takes ms since the epoch or an ISO date, got '${values.at}'`);
  }
  const admin = client(endpointOf(values)).admin();
  const offsets = await admin.fetchTopicOffsets(topic);
  const byTime = at === undefined ? undefined : await admin.fetchTopicOffsetsByTimestamp(topic, at);
  const committed = values.group
    ? (await admin.fetchOffsets({ groupId: values.group, topics: [topic] }))[0]?.partitions
    : undefined;
  const rows = offsets.map((o) => {
    const c = committed?.find((p) => p.partition === o.partition);
    const committedOffset = c && c.offset !== '-1' ? Number(c.offset) : null;
    return {
      partition: o.partition,
      logStartOffset: Number(o.low),
      highWatermark: Number(o.high),
      records: Number(o.high) - Number(o.low),
      ...(byTime && { offsetAtTime: Number(byTime.find((b) => b.partition === o.partition)?.offset) }),
      ...(committed && {
        committed: committedOffset,
        lag: committedOffset === null ? null : Number(o.high) - committedOffset,
      }),
    };
  });
  if (values.json) {
    out(`${JSON.stringify(rows)}\n`);
    return EXIT.ok;
  }
  const header = ['PARTITION', 'LOG-START', 'HIGH-WATERMARK', 'RECORDS'];
  if (byTime) header.push('OFFSET-AT-TIME');
  if (committed) header.push('COMMITTED', 'LAG');
  out(
    table(
      header,
      rows.map((r) => [
        r.partition,
        r.logStartOffset,
        r.highWatermark,
        r.records,
        ...(byTime ? [r.offsetAtTime] : []),
        ...(committed ? [r.committed, r.lag] : []),
      ]),
    ),
  );
  return EXIT.ok;
}
