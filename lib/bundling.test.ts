/**
 * Real bundling (esbuild, locally, no Docker) of the functions the way SluiceCluster bundles
 * them, once for this file: an arm64 and an x86_64 build of a handler that loads every native
 * package, and the topics custom resource handler. The x86_64 build is run here, in a child
 * process, to prove the bundle loads its native packages from its own node_modules.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from './sluice-cluster.js';
import { SluiceFunction } from './sluice-function.js';
import { FIXTURE_ENTRY_DIR } from './test-fixtures/synth.js';

const ELF_MACHINE = { arm64: 0xb7, x64: 0x3e } as const;

let outdir: string;
const assets: Record<'arm64' | 'x64' | 'topics', string> = { arm64: '', x64: '', topics: '' };
let bundleMs = 0;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'sluice-bundling-'));
  const app = new App({ outdir, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Bundling');
  const make = (id: string, entry: string, architecture: lambda.Architecture, nativePackages: boolean) =>
    new SluiceFunction(stack, id, {
      entry,
      projectRoot: PROJECT_ROOT,
      description: id,
      architecture,
      memorySize: 256,
      timeout: Duration.seconds(10),
      environment: {},
      logRetention: logs.RetentionDays.ONE_DAY,
      removalPolicy: RemovalPolicy.DESTROY,
      nativePackages,
      invokedBy: 'function-url',
    });
  const started = Date.now();
  const fns = {
    arm64: make('Arm', join(FIXTURE_ENTRY_DIR, 'produce.ts'), lambda.Architecture.ARM_64, true),
    x64: make('X64', join(FIXTURE_ENTRY_DIR, 'fetch.ts'), lambda.Architecture.X86_64, true),
    topics: make('Topics', join(PROJECT_ROOT, 'lib', 'topics-handler.ts'), lambda.Architecture.ARM_64, false),
  };
  const template = app.synth().getStackByName('Bundling').template as {
    Resources: Record<string, { Properties: { Code?: { S3Key?: string } } }>;
  };
  bundleMs = Date.now() - started;
  for (const [name, fn] of Object.entries(fns)) {
    const logicalId = stack.getLogicalId(fn.function.node.defaultChild as lambda.CfnFunction);
    const key = template.Resources[logicalId]?.Properties.Code?.S3Key ?? '';
    assets[name as keyof typeof assets] = join(outdir, `asset.${key.replace(/\.zip$/, '')}`);
  }
}, 120_000);

afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
});

function nodeFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...nodeFiles(path));
    else if (name.endsWith('.node')) out.push(path);
  }
  return out;
}

function elfMachine(path: string): number {
  return readFileSync(path).readUInt16LE(18);
}

describe('bundled function (arm64)', () => {
  it('is an ES module handler with a source map', () => {
    const files = readdirSync(assets.arm64).sort();
    expect(files).toEqual(['index.mjs', 'index.mjs.map', 'node_modules']);
    const code = readFileSync(join(assets.arm64, 'index.mjs'), 'utf8');
    expect(code).toMatch(/export\s*\{[^}]*handler/);
    // The native packages stay external: imported at run time, not inlined.
    expect(code).toMatch(/from\s*"@node-rs\/crc32"/);
    expect(code).toContain('createRequire');
  });

  it('ships the linux-arm64-gnu binaries of crc32, snappy and lz4, and no others', () => {
    const modules = join(assets.arm64, 'node_modules');
    for (const pkg of [
      '@node-rs/crc32',
      '@node-rs/crc32-linux-arm64-gnu',
      'snappy',
      '@napi-rs/snappy-linux-arm64-gnu',
      'lz4-napi',
      '@antoniomuso/lz4-napi-linux-arm64-gnu',
    ]) {
      expect(existsSync(join(modules, pkg, 'package.json')), pkg).toBe(true);
    }
    const binaries = nodeFiles(modules);
    expect(binaries.map((b) => b.slice(modules.length + 1)).sort()).toEqual([
      '@antoniomuso/lz4-napi-linux-arm64-gnu/lz4-napi.linux-arm64-gnu.node',
      '@napi-rs/snappy-linux-arm64-gnu/snappy.linux-arm64-gnu.node',
      '@node-rs/crc32-linux-arm64-gnu/crc32.linux-arm64-gnu.node',
    ]);
    for (const b of binaries) expect(elfMachine(b), b).toBe(ELF_MACHINE.arm64);
  });

  it('leaves out the packages Lambda never loads', () => {
    const modules = readdirSync(join(assets.arm64, 'node_modules'));
    for (const pkg of ['better-sqlite3', 'zstd-napi', 'aws-cdk-lib', 'esbuild'])
      expect(modules).not.toContain(pkg);
  });

  it('installs the versions of the lock file', () => {
    const lock = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package-lock.json'), 'utf8'));
    for (const pkg of ['@node-rs/crc32', 'snappy', 'lz4-napi']) {
      const installed = JSON.parse(
        readFileSync(join(assets.arm64, 'node_modules', pkg, 'package.json'), 'utf8'),
      );
      expect(installed.version, pkg).toBe(lock.packages[`node_modules/${pkg}`].version);
    }
  });
});

describe('bundled function (x86_64)', () => {
  it('ships x86-64 binaries', () => {
    const binaries = nodeFiles(join(assets.x64, 'node_modules'));
    expect(binaries).toHaveLength(3);
    for (const b of binaries) expect(b).toContain('linux-x64-gnu');
    for (const b of binaries) expect(elfMachine(b), b).toBe(ELF_MACHINE.x64);
  });

  it.runIf(process.arch === 'x64' && process.platform === 'linux')(
    'runs from its own directory, loading each native package from the bundle',
    () => {
      const url = pathToFileURL(join(assets.x64, 'index.mjs')).href;
      const script = `const m = await import(${JSON.stringify(url)}); process.stdout.write(JSON.stringify(await m.handler()));`;
      // An empty NODE_PATH and a cwd outside the repository: nothing resolves from the repo.
      const run = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        cwd: assets.x64,
        env: { PATH: process.env.PATH ?? '' },
        encoding: 'utf8',
      });
      expect(run.stderr).toBe('');
      const result = JSON.parse(run.stdout) as { statusCode: number; body: string };
      expect(result.statusCode).toBe(200);
      expect(JSON.parse(result.body)).toEqual({ crc32c: 0xe3069283, snappy: '123456789', lz4: '123456789' });
    },
  );
});

describe('bundled topics handler', () => {
  it('is one ES module with the AWS SDK inside and no native packages', () => {
    expect(readdirSync(assets.topics).sort()).toEqual(['index.mjs', 'index.mjs.map']);
    const code = readFileSync(join(assets.topics, 'index.mjs'), 'utf8');
    expect(code).toMatch(/export\s*\{[^}]*handler/);
    expect(code).toContain('InvokeCommand');
  });
});

it('bundles the three functions in well under a minute', () => {
  expect(bundleMs).toBeLessThan(60_000);
});
