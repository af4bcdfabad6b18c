#!/usr/bin/env node
/**
 * The `sluice` command line. Commands are loaded on use, so `sluice --help` and the client
 * commands never load the server.
 */
import { describeError, EXIT, UsageError } from './commands/common.js';

interface Loaded {
  run: (argv: string[]) => Promise<number>;
  help: string;
}

interface Command {
  summary: string;
  load: () => Promise<Loaded>;
}

const commands: Record<string, Command> = {
  dev: {
    summary: 'run Sluice locally (embedded store, or moto/LocalStack)',
    load: async () => {
      const m = await import('./commands/dev.js');
      return { run: m.devCommand, help: m.devHelp };
    },
  },
  topics: {
    summary: 'create, list, describe or delete topics',
    load: async () => {
      const m = await import('./commands/topics.js');
      return { run: m.topicsCommand, help: m.topicsHelp };
    },
  },
  produce: {
    summary: 'append stdin lines to a topic',
    load: async () => {
      const m = await import('./commands/produce.js');
      return { run: m.produceCommand, help: m.produceHelp };
    },
  },
  consume: {
    summary: 'print a topic’s records, alone or in a group',
    load: async () => {
      const m = await import('./commands/consume.js');
      return { run: m.consumeCommand, help: m.consumeHelp };
    },
  },
  subscriptions: {
    summary: 'push a topic to a function: create, list, describe, pause, resume, delete',
    load: async () => {
      const m = await import('./commands/subscriptions.js');
      return { run: m.subscriptionsCommand, help: m.subscriptionsHelp };
    },
  },
  groups: {
    summary: 'list consumer groups, describe one with its lag',
    load: async () => {
      const m = await import('./commands/groups.js');
      return { run: m.groupsCommand, help: m.groupsHelp };
    },
  },
  offsets: {
    summary: 'show a topic’s offsets per partition',
    load: async () => {
      const m = await import('./commands/offsets.js');
      return { run: m.offsetsCommand, help: m.offsetsHelp };
    },
  },
  maintenance: {
    summary: 'run retention, compaction and garbage collection now',
    load: async () => {
      const m = await import('./commands/maintenance.js');
      return { run: m.maintenanceCommand, help: m.maintenanceHelp };
    },
  },
};

function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    'Usage: sluice <command> [options]',
    '',
    'Commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    "Run 'sluice <command> --help' for a command's options.",
    'Client commands talk to --endpoint <url> (env SLUICE_ENDPOINT, default http://127.0.0.1:8092).',
    '',
  ].join('\n');
}

function endpointArg(argv: string[]): string | undefined {
  const i = argv.findIndex((a) => a === '--endpoint' || a.startsWith('--endpoint='));
  if (i < 0) return process.env.SLUICE_ENDPOINT;
  return argv[i]!.includes('=') ? argv[i]!.slice('--endpoint='.length) : argv[i + 1];
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    (name ? process.stdout : process.stderr).write(usage());
    return name ? EXIT.ok : EXIT.usage;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`sluice: unknown command '${name}'\n\n${usage()}`);
    return EXIT.usage;
  }
  let loaded: Loaded;
  try {
    loaded = await command.load();
  } catch (err) {
    // The server's packages are optional peers of the package: `npm i sluice` is the SDK only.
    const missing = /Cannot find (?:package|module) '([^']+)'/.exec((err as Error).message)?.[1];
    if ((err as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND' || !missing) throw err;
    process.stderr.write(
      `sluice ${name}: needs '${missing}', a server-side package the SDK does not install. Install the server's optional peer dependencies (README, "Installing"): npm install ${missing} …\n`,
    );
    return EXIT.failed;
  }
  try {
    return await loaded.run(rest);
  } catch (err) {
    const e = err as Error & { code?: string };
    if (err instanceof UsageError || e.code?.startsWith('ERR_PARSE_ARGS_')) {
      process.stderr.write(`sluice ${name}: ${e.message}\nRun 'sluice ${name} --help' for usage.\n`);
      return EXIT.usage;
    }
    const endpoint = endpointArg(rest);
    const { message, code } = describeError(err, endpoint ?? 'http://127.0.0.1:8092');
    process.stderr.write(`sluice ${name}: ${message}\n`);
    if (process.env.SLUICE_LOG_LEVEL === 'debug') process.stderr.write(`${e.stack}\n`);
    return code;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`sluice: ${(err as Error).stack ?? err}\n`);
    process.exitCode = EXIT.failed;
  },
);
