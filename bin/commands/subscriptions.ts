/** `sluice subscriptions create|list|describe|pause|resume|delete` */
import type { SubscriptionInput } from '../../core/subscriptions/config.js';
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

export const subscriptionsHelp = `Usage: sluice subscriptions <create|list|describe|pause|resume|delete> [options]

  sluice subscriptions create <name> --topic <topic> --target <function> [--set key=value]... [--filter <pattern>]...
  sluice subscriptions list
  sluice subscriptions describe <name>     settings, and per partition: committed offset, lag
  sluice subscriptions pause <name>        deliver nothing; offsets are kept
  sluice subscriptions resume <name>       deliver again from where it stopped
  sluice subscriptions delete <name>       its consumer group and offsets stay

A subscription pushes a topic's records to a function (a Lambda name or ARN; a module
'./handler.ts#main' under 'sluice dev'), in order per partition, at least once.

Options:
  --topic <topic>    the topic to deliver (create)
  --target <fn>      the function to invoke (create)
  --set <k=v>        any other setting of POST /v1/subscriptions: batchSize=50,
                     startingPosition=earliest, maxRetryAttempts=3, onFailure=<queue>, …
  --filter <pattern> deliver only records matching one of these patterns (Lambda's event
                     filtering, up to 5): --filter '{"value":{"kind":["order"]}}'
  --json             print JSON instead of tables
${ENDPOINT_HELP}

${EXIT_HELP}
`;

function setting(kv: string): [string, unknown] {
  const eq = kv.indexOf('=');
  if (eq <= 0) throw new UsageError(`--set takes key=value, got '${kv}'`);
  const raw = kv.slice(eq + 1);
  let value: unknown = raw;
  if (/^-?\d+$/.test(raw)) value = Number(raw);
  else if (raw === 'true' || raw === 'false') value = raw === 'true';
  else if (raw === 'null') value = null;
  else if (raw.startsWith('{') || raw.startsWith('[')) {
    try {
      value = JSON.parse(raw);
    } catch {
      throw new UsageError(`--set ${kv.slice(0, eq)}: '${raw}' is not JSON`);
    }
  }
  return [kv.slice(0, eq), value];
}

export async function subscriptionsCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(argv, {
    topic: { type: 'string' },
    target: { type: 'string' },
    set: { type: 'string', multiple: true },
    filter: { type: 'string', multiple: true },
    json: { type: 'boolean' },
  });
  if (values.help) {
    out(subscriptionsHelp);
    return EXIT.ok;
  }
  const [action, name, ...extra] = positionals;
  if (!action) throw new UsageError('name an action: create, list, describe, pause, resume or delete');
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  if (action !== 'list' && !name) throw new UsageError(`'subscriptions ${action}' needs a subscription name`);
  const admin = client(endpointOf(values)).admin();
  const print = (value: unknown) => out(`${JSON.stringify(value)}\n`);

  switch (action) {
    case 'create': {
      if (!values.topic || !values.target)
        throw new UsageError("'subscriptions create' needs --topic and --target");
      const input = {
        ...Object.fromEntries((values.set ?? []).map(setting)),
        ...(values.filter && { filters: values.filter.map((pattern) => ({ pattern })) }),
        name: name!,
        topic: values.topic,
        target: values.target,
      } as SubscriptionInput;
      const sub = await admin.createSubscription(input);
      if (values.json) print(sub);
      else out(`created subscription ${sub.name}: ${sub.topic} → ${sub.target} (group ${sub.groupId})\n`);
      return EXIT.ok;
    }
    case 'list': {
      if (name) throw new UsageError(`unexpected argument '${name}'`);
      const subs = await admin.listSubscriptions();
      if (values.json) print(subs);
      else if (subs.length === 0) out('no subscriptions yet\n');
      else
        out(
          table(
            ['NAME', 'TOPIC', 'TARGET', 'STATE', 'GROUP'],
            subs.map((s) => [s.name, s.topic, s.target, s.enabled ? 'enabled' : 'paused', s.groupId]),
          ),
        );
      return EXIT.ok;
    }
    case 'describe': {
      const d = await admin.describeSubscription(name!);
      if (values.json) {
        print(d);
        return EXIT.ok;
      }
      const { createdAt: _, ...settings } = d.subscription;
      out(
        `${Object.entries(settings)
          .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
          .join('\n')}\n\n`,
      );
      if (d.lag.length === 0) out('no committed offsets yet\n');
      else
        out(
          table(
            ['TOPIC', 'PARTITION', 'COMMITTED', 'HIGH-WATERMARK', 'LAG'],
            d.lag.map((l) => [l.topic, l.partition, l.committed, l.highWatermark, l.lag]),
          ),
        );
      return EXIT.ok;
    }
    case 'pause':
    case 'resume': {
      const sub =
        action === 'pause' ? await admin.pauseSubscription(name!) : await admin.resumeSubscription(name!);
      if (values.json) print(sub);
      else out(`subscription ${sub.name} ${sub.enabled ? 'resumed' : 'paused'}\n`);
      return EXIT.ok;
    }
    case 'delete':
      await admin.deleteSubscription(name!);
      out(`deleted subscription ${name}\n`);
      return EXIT.ok;
    default:
      throw new UsageError(`unknown action '${action}': use create, list, describe, pause, resume or delete`);
  }
}
