/**
 * `npm run bench -- <name> [args]`: runs bench/<name>.ts. Without a name, lists the
 * benchmarks available. A bench either exports `run(args)` or does its work on import;
 * either way `process.argv` is rewritten first so that `process.argv[2]` is its own first arg.
 */
import { readdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { BenchRun } from './lib.js';

const here = dirname(fileURLToPath(import.meta.url));
const NOT_BENCHES = new Set(['run', 'lib']);
const available = readdirSync(here)
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
  .map((f) => f.slice(0, -3))
  .filter((n) => !NOT_BENCHES.has(n))
  .sort();

const [name, ...args] = process.argv.slice(2);
if (name === undefined || !available.includes(name)) {
  if (name !== undefined) console.error(`unknown benchmark '${name}'`);
  console.log(`usage: npm run bench -- <name> [args]\navailable: ${available.join(', ')}`);
  process.exit(name === undefined ? 0 : 1);
}
process.argv.splice(2, 1);
const mod = (await import(pathToFileURL(`${here}/${name}.ts`).href)) as { run?: BenchRun };
if (typeof mod.run === 'function') await mod.run(args);
