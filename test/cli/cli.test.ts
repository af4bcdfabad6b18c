/**
 * The `sluice` CLI as a person runs it: the built binary (`npm run build`, then
 * `node dist/bin/sluice.js`), real stdin and stdout, against a dev server.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness, topicName, waitFor } from '../sdk/harness.js';

const BIN = 'dist/bin/sluice.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, SLUICE_ENDPOINT: '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

async function run(
  args: string[],
  options: { input?: string; env?: Record<string, string> } = {},
): Promise<Run> {
  const child = start(args, options.env);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  child.stdin!.end(options.input ?? '');
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, stdout, stderr };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return port;
}

describe('sluice CLI (built binary)', () => {
  let h: Harness;
  let ep: string[];

  beforeAll(async () => {
    const build = await promisify(execFile)('npm', ['run', 'build'], { timeout: 280_000 }).catch(
      (err) => err,
    );
    // Type errors still emit (`npm run typecheck` is the gate for those); a missing binary does not.
    if (!existsSync(BIN)) {
      throw new Error(`npm run build did not produce ${BIN}:\n${build.stdout ?? ''}${build.stderr ?? ''}`);
    }
    if (build instanceof Error)
      console.warn(`npm run build reported errors:\n${(build as { stdout?: string }).stdout}`);
    h = await startHarness('sqlite');
    ep = ['--endpoint', h.url];
  }, 300_000);
  afterAll(async () => {
    await h?.close();
  });

  it('keeps the shebang and prints help for every command', async () => {
    const { readFile } = await import('node:fs/promises');
    expect((await readFile(BIN, 'utf8')).startsWith('#!/usr/bin/env node\n')).toBe(true);
    const top = await run(['--help']);
    expect(top.code).toBe(0);
    for (const c of ['dev', 'topics', 'produce', 'consume', 'groups', 'offsets', 'maintenance'])
      expect(top.stdout).toContain(`  ${c}`);
    for (const c of ['topics', 'produce', 'consume', 'groups', 'offsets', 'dev', 'maintenance']) {
      const r = await run([c, '--help']);
      expect(r.code, c).toBe(0);
      expect(r.stdout, c).toMatch(/^Usage: sluice /);
    }
  });

  it('rejects unknown commands and bad flags with exit code 2', async () => {
    const unknown = await run(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    const flag = await run(['topics', 'list', '--nope']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain("Unknown option '--nope'");
    expect(flag.stderr).toContain('sluice topics --help');
    const value = await run(['topics', 'create', 'x', '--partitions', 'many', ...ep]);
    expect(value.code).toBe(2);
    expect(value.stderr).toContain("--partitions must be an integer ≥ 1, got 'many'");
    const none = await run([]);
    expect(none.code).toBe(2);
  });

  it('says how to fix an unreachable server and exits 3', async () => {
    const port = await freePort();
    const r = await run(['topics', 'list'], { env: { SLUICE_ENDPOINT: `http://127.0.0.1:${port}` } });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain(
      `cannot reach Sluice at http://127.0.0.1:${port} — is \`sluice dev\` running? (npm start)`,
    );
    const produce = await run(['produce', 'x', '--endpoint', `http://127.0.0.1:${port}`], { input: 'a\n' });
    expect(produce.code).toBe(3);
    expect(produce.stderr).toContain('cannot reach Sluice');
  });

  it('creates, lists, describes and deletes topics', async () => {
    const topic = topicName('cli-topics');
    const create = await run([
      'topics',
      'create',
      topic,
      '--partitions',
      '3',
      '--config',
      'retention.ms=60000',
      ...ep,
    ]);
    expect(create).toMatchObject({ code: 0, stdout: `created topic ${topic} with 3 partitions\n` });
    const again = await run(['topics', 'create', topic, ...ep]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists');
    const list = await run(['topics', 'list', ...ep]);
    expect(list.stdout).toMatch(new RegExp(`^TOPIC\\s+PARTITIONS\\n(.*\\n)*${topic}\\s+3\\n`, 'm'));
    const describe = await run(['topics', 'describe', topic, ...ep]);
    expect(describe.stdout).toContain(`topic ${topic}: 3 partitions, 0 records`);
    expect(describe.stdout).toContain('retention.ms=60000');
    const del = await run(['topics', 'delete', topic, ...ep]);
    expect(del.code).toBe(0);
    const missing = await run(['topics', 'describe', topic, ...ep]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('UNKNOWN_TOPIC_OR_PARTITION');
    expect(missing.stderr).toContain("see 'sluice topics list'");
  });

  it('produces with --acks 1 and --acks 0 through the inbox, and refuses another --acks', async () => {
    const topic = topicName('cli-acks');
    await run(['topics', 'create', topic, ...ep]);
    for (const acks of ['1', '0']) {
      const r = await run(['produce', topic, '--acks', acks, ...ep], { input: `a${acks}\nb${acks}\n` });
      expect(r.code).toBe(0);
      expect(r.stderr).toMatch(
        /^produced 2 records \(.+\) to .+ \(into the inbox: the batcher appends them within seconds\)\n$/,
      );
    }
    const consumed = await run(['consume', topic, '--from-beginning', '--max-messages', '4', ...ep]);
    expect(consumed.code).toBe(0);
    expect(consumed.stdout.trim().split('\n')).toEqual(['a1', 'b1', 'a0', 'b0']);
    const bad = await run(['produce', topic, '--acks', '2', ...ep], { input: 'x\n' });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--acks must be all, 1 or 0, got '2'");
  });

  it('produces stdin lines with keys and consumes them back as JSON', async () => {
    const topic = topicName('cli-io');
    await run(['topics', 'create', topic, '--partitions', '2', ...ep]);
    const input = Array.from({ length: 50 }, (_, i) => `user-${i % 5}:event ${i}`).join('\n');
    const produced = await run(['produce', topic, '--key-separator', ':', ...ep], { input: `${input}\n\n` });
    expect(produced.code).toBe(0);
    expect(produced.stdout).toBe('');
    expect(produced.stderr).toMatch(new RegExp(`^produced 50 records \\(.+\\) to ${topic} in [\\d.]+ s\\n$`));

    const consumed = await run([
      'consume',
      topic,
      '--from-beginning',
      '--max-messages',
      '50',
      '--format',
      'json',
      ...ep,
    ]);
    expect(consumed.code).toBe(0);
    const records = consumed.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(records).toHaveLength(50);
    expect(new Set(records.map((r) => r.value))).toEqual(
      new Set(Array.from({ length: 50 }, (_, i) => `event ${i}`)),
    );
    for (const r of records) expect(`${r.key}:${r.value}`).toMatch(/^user-(\d):event (\d+)$/);
    // One key, one partition.
    const partitionsOf = new Map<string, Set<number>>();
    for (const r of records) partitionsOf.set(r.key, (partitionsOf.get(r.key) ?? new Set()).add(r.partition));
    for (const ps of partitionsOf.values()) expect(ps.size).toBe(1);
  });

  it('commits only the records it printed when it stops at --max-messages in a group', async () => {
    const topic = topicName('cli-max');
    const group = topicName('cli-max-group');
    await run(['topics', 'create', topic, ...ep]);
    await run(['produce', topic, '--quiet', ...ep], { input: 'a\nb\nc\nd\ne\n' });
    const first = await run([
      'consume',
      topic,
      '--group',
      group,
      '--from-beginning',
      '--max-messages',
      '2',
      ...ep,
    ]);
    expect(first.stdout).toBe('a\nb\n');
    const rest = await run(['consume', topic, '--group', group, '--max-messages', '3', ...ep]);
    expect(rest.stdout).toBe('c\nd\ne\n');
  });

  it('reads JSON lines with headers and a partition; prints raw and table formats', async () => {
    const topic = topicName('cli-json');
    await run(['topics', 'create', topic, '--partitions', '2', ...ep]);
    const lines = [
      JSON.stringify({ key: 'o-1', value: { total: 42 }, headers: { source: 'web' }, partition: 1 }),
      JSON.stringify({ key: null, value: 'plain', partition: 1 }),
    ].join('\n');
    expect((await run(['produce', topic, '--format', 'json', '--quiet', ...ep], { input: lines })).code).toBe(
      0,
    );
    const json = await run([
      'consume',
      topic,
      '--partition',
      '1',
      '--from-beginning',
      '--max-messages',
      '2',
      '--format',
      'json',
      ...ep,
    ]);
    const [first, second] = json.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(first).toMatchObject({
      partition: 1,
      offset: 0,
      key: 'o-1',
      value: '{"total":42}',
      headers: { source: 'web' },
    });
    expect(second).toMatchObject({ offset: 1, key: null, value: 'plain' });
    const raw = await run([
      'consume',
      topic,
      '--from-beginning',
      '--max-messages',
      '2',
      '--print-key',
      ...ep,
    ]);
    expect(raw.stdout).toBe('o-1\t{"total":42}\nnull\tplain\n');
    const tableOut = await run([
      'consume',
      topic,
      '--from-beginning',
      '--max-messages',
      '1',
      '--format',
      'table',
      ...ep,
    ]);
    expect(tableOut.stdout.split('\n')[0]).toMatch(/^PARTITION\s+OFFSET\s+TIMESTAMP\s+KEY\s+VALUE$/);
    expect(tableOut.stdout.split('\n')[1]).toMatch(/^1\s+0\s+\d{4}-\d\d-\d\dT\S+Z\s+o-1\s+\{"total":42\}$/);
  });

  it('stops at a bad JSON line after producing the lines before it', async () => {
    const topic = topicName('cli-bad');
    await run(['topics', 'create', topic, ...ep]);
    const r = await run(['produce', topic, '--format', 'json', ...ep], {
      input: '{"value":"ok"}\nnot json\n{"value":"never"}\n',
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('line 2 is not valid JSON');
    expect(r.stderr).toContain('the 1 record before it was produced');
    const offsets = await run(['offsets', topic, '--json', ...ep]);
    expect(JSON.parse(offsets.stdout)).toEqual([
      { partition: 0, logStartOffset: 0, highWatermark: 1, records: 1 },
    ]);
    const missing = await run(['produce', 'no-such-topic-here', ...ep], { input: 'x\n' });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("topic 'no-such-topic-here' does not exist");
  });

  it('follows new records in a group until Ctrl-C, then shows the group and its lag', async () => {
    const topic = topicName('cli-follow');
    const group = topicName('cli-group');
    await run(['topics', 'create', topic, '--partitions', '2', ...ep]);
    const child = start(['consume', topic, '--group', group, '--from-beginning', ...ep]);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => (stdout += d));
    child.stderr!.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    await waitFor(
      async () => {
        const { groups } = await h.sluice.admin().listGroups();
        return groups.some((g) => g.groupId === group && g.members === 1);
      },
      15_000,
      'the consumer to join',
    );
    await run(['produce', topic, '--quiet', ...ep], { input: 'one\ntwo\nthree\n' });
    await waitFor(() => stdout.split('\n').length > 3, 15_000, 'three lines on stdout');
    expect(stdout.trim().split('\n').sort()).toEqual(['one', 'three', 'two']);
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(stderr).toContain('consumed 3 records');

    const list = await run(['groups', 'list', ...ep]);
    expect(list.stdout).toMatch(new RegExp(`^${group}\\s+empty\\s+0$`, 'm'));
    const describe = await run(['groups', 'describe', group, ...ep]);
    expect(describe.code).toBe(0);
    expect(describe.stdout).toContain(`group ${group}: empty`);
    expect(describe.stdout).toContain('total lag 0');
    expect(describe.stdout).toMatch(/TOPIC\s+PARTITION\s+COMMITTED\s+HIGH-WATERMARK\s+LAG\s+OWNER/);
    const offsets = await run(['offsets', topic, '--group', group, ...ep]);
    expect(offsets.stdout).toMatch(/^PARTITION\s+LOG-START\s+HIGH-WATERMARK\s+RECORDS\s+COMMITTED\s+LAG\n/);
    const rows = offsets.stdout
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(/\s+/).map(Number));
    expect(rows.reduce((n, r) => n + r[3]!, 0)).toBe(3);
    // A partition that got no record was never committed: its lag shows as '-'.
    for (const r of rows) expect(r[3] === 0 ? [0, Number.NaN] : [0]).toContainEqual(r[5]);
  });

  it('produces a large compressed input and reports a summary', async () => {
    const topic = topicName('cli-large');
    await run(['topics', 'create', topic, '--partitions', '4', ...ep]);
    const n = 20_000;
    const input = `${Array.from({ length: n }, (_, i) => `record number ${i} ${'x'.repeat(40)}`).join('\n')}\n`;
    const r = await run(['produce', topic, '--compression', 'zstd', ...ep], { input });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      new RegExp(`^produced ${n} records \\([\\d.]+ (KiB|MiB)\\) to ${topic} in [\\d.]+ s\\n$`),
    );
    const offsets = JSON.parse((await run(['offsets', topic, '--json', ...ep])).stdout) as {
      records: number;
    }[];
    expect(offsets.reduce((a, o) => a + o.records, 0)).toBe(n);
  });
});
