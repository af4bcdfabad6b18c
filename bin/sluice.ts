#!/usr/bin/env node
/** The `sluice` command line. */
import { devCommand, devHelp } from './commands/dev.js';

type Command = { run: (argv: string[]) => Promise<number>; summary: string; help: string };

const commands: Record<string, Command> = {
  dev: { run: devCommand, summary: 'run Sluice locally (embedded store, or moto/LocalStack)', help: devHelp },
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
    '',
  ].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(usage());
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`sluice: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' || e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      process.stderr.write(`sluice ${name}: ${e.message}\n\n${command.help}`);
      return 2;
    }
    process.stderr.write(`sluice ${name}: ${e.message}\n`);
    return 1;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
