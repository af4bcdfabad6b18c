import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { SqliteMetaStore } from './sqlite.js';

const run = promisify(execFile);
const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

/** A child process that increments one counter `n` times through casUpdate. */
function incrementer(file: string, n: number, seed: number): Promise<unknown> {
  const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));
  const script = `
    import { SqliteMetaStore } from ${JSON.stringify(here('./sqlite.ts'))};
    import { casUpdate } from ${JSON.stringify(here('../core/cas.ts'))};
    import { seededRandom } from ${JSON.stringify(here('../core/clock.ts'))};
    const meta = new SqliteMetaStore(${JSON.stringify(file)});
    const clock = { now: () => Date.now(), sleep: (ms) => new Promise((r) => setTimeout(r, ms)) };
    const options = { clock, random: seededRandom(${seed}), baseDelayMs: 1, maxDelayMs: 20, maxAttempts: 200 };
    for (let i = 0; i < ${n}; i++) {
      await casUpdate(meta, { pk: 'p', sk: 'n' }, (cur) => ({ data: { n: (cur?.data.n ?? 0) + 1 } }), options);
    }
    meta.close();
  `;
  return run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 30_000 });
}

describe('SqliteMetaStore', () => {
  it('loses no update between processes sharing one file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-sqlite-'));
    dirs.push(dir);
    const file = join(dir, 'meta.sqlite');
    const mine = new SqliteMetaStore(file);
    await Promise.all([incrementer(file, 40, 1), incrementer(file, 40, 2)]);
    expect(await mine.get({ pk: 'p', sk: 'n' })).toMatchObject({ version: 80, data: { n: 80 } });
    mine.close();
  });

  it('keeps data across reopening', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-sqlite-'));
    dirs.push(dir);
    const file = join(dir, 'meta.sqlite');
    const a = new SqliteMetaStore(file);
    await a.transact([{ type: 'put', key: { pk: 'p', sk: 's' }, data: { x: [1, 'y'] }, ttl: 3 }]);
    a.close();
    const b = new SqliteMetaStore(file);
    expect(await b.get({ pk: 'p', sk: 's' })).toEqual({
      pk: 'p',
      sk: 's',
      version: 1,
      data: { x: [1, 'y'] },
      ttl: 3,
    });
    b.close();
  });
});
