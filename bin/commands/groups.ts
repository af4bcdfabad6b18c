/** `sluice groups list|describe` */
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

export const groupsHelp = `Usage: sluice groups <list|describe> [options]

  sluice groups list              every group with its state and member count
  sluice groups describe <group>  members, and per partition: owner, committed offset, lag

Options:
  --json             print JSON instead of tables
${ENDPOINT_HELP}

${EXIT_HELP}
`;

export async function groupsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, { json: { type: 'boolean' } });
  if (values.help) {
    out(groupsHelp);
    return EXIT.ok;
  }
  const [action, group, ...extra] = positionals;
  if (!action) throw new UsageError('name an action: list or describe');
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const admin = client(endpointOf(values)).admin();
  if (action === 'list') {
    if (group) throw new UsageError(`unexpected argument '${group}'`);
    const { groups } = await admin.listGroups();
    if (values.json) out(`${JSON.stringify(groups)}\n`);
    else if (groups.length === 0) out('no consumer groups yet\n');
    else
      out(
        table(
          ['GROUP', 'STATE', 'MEMBERS'],
          groups.map((g) => [g.groupId, g.state.toLowerCase(), g.members]),
        ),
      );
    return EXIT.ok;
  }
  if (action !== 'describe') throw new UsageError(`unknown action '${action}': use list or describe`);
  if (!group) throw new UsageError("'groups describe' needs a group id");
  const {
    groups: [d],
  } = await admin.describeGroups([group]);
  if (values.json) {
    // The kafkajs Buffers (empty: Sluice has no client-side protocol) carry nothing in JSON.
    const members = d!.members.map(({ memberMetadata: _m, memberAssignment: _a, ...m }) => m);
    out(`${JSON.stringify({ ...d, members })}\n`);
    return EXIT.ok;
  }
  const owner = new Map<string, string>();
  for (const m of d!.members)
    for (const a of m.assignment) for (const p of a.partitions) owner.set(`${a.topic}/${p}`, m.memberId);
  const total = d!.lag.reduce((n, l) => n + (l.lag ?? 0), 0);
  out(
    `group ${d!.groupId}: ${d!.state.toLowerCase()}, epoch ${d!.epoch}, ${d!.members.length} member(s), total lag ${total}\n\n`,
  );
  if (d!.members.length > 0) {
    out(
      table(
        ['MEMBER', 'EPOCH', 'ASSIGNMENT'],
        d!.members.map((m) => [
          m.memberId,
          m.memberEpoch,
          m.assignment.map((a) => `${a.topic}:${a.partitions.join(',')}`).join(' ') || '-',
        ]),
      ),
    );
    out('\n');
  }
  if (d!.lag.length === 0) out('no committed offsets yet\n');
  else {
    out(
      table(
        ['TOPIC', 'PARTITION', 'COMMITTED', 'HIGH-WATERMARK', 'LAG', 'OWNER'],
        d!.lag.map((l) => [
          l.topic,
          l.partition,
          l.committed,
          l.highWatermark,
          l.lag,
          owner.get(`${l.topic}/${l.partition}`),
        ]),
      ),
    );
  }
  return EXIT.ok;
}
