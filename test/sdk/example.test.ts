/** CI runs the kafkajs-style example program as a user would, against a dev server. */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './harness.js';

describe('examples/quickstart.ts', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('sqlite');
  });
  afterAll(async () => {
    await h?.close();
  });

  it('creates a topic, produces, consumes with a group and prints what it did', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'examples/quickstart.ts'], {
      env: { ...process.env, SLUICE_ENDPOINT: h.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^created topic quickstart-\d+$/);
    expect(lines.filter((l) => l.startsWith('consumed '))).toHaveLength(3);
    expect(stdout).toContain('consumed alice {"item":"book","qty":1}');
    expect(stdout).toContain('consumed bob {"item":"pen","qty":3}');
    expect(lines.at(-2)).toBe('group quickstart: lag 0');
    expect(lines.at(-1)).toBe('done');
  });
});
