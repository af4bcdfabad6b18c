/**
 * Real bundling (esbuild, locally, no Docker) the way SluiceCluster bundles, once for this
 * file: an arm64 build of a handler that loads every native package; a build for this
 * machine's CPU of the real fetch handler together with that probe; the topics custom
 * resource handler. The second is run here, in a child process outside the repository, to
 * prove that the bundle loads, finds its native packages in its own node_modules, and serves
 * a request.
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
import { toEvent } from '../lambdas/http.js';
import { FIXTURE_ENTRY_DIR } from '../test/fixtures/cdk/synth.js';
import { type HandlerName, SOURCE_ROOT } from './handler-bundles.js';
import { SluiceFunction } from './sluice-function.js';

const ELF_MACHINE = { arm64: 0xb7, x64: 0x3e } as const;
const HOST = process.arch === 'arm64' ? ('arm64' as const) : ('x64' as const);
const HOST_ARCHITECTURE = HOST === 'arm64' ? lambda.Architecture.ARM_64 : lambda.Architecture.X86_64;

let outdir: string;
const assets: Record<'arm64' | 'host' | 'topics', string> = { arm64: '', host: '', topics: '' };
let bundleMs = 0;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'sluice-bundling-'));
  const app = new App({ outdir, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'Bundling');
  const make = (
    id: string,
    handler: HandlerName,
    entry: string | undefined,
    architecture: lambda.Architecture,
  ) =>
    new SluiceFunction(stack, id, {
      handler,
      ...(entry ? { entry } : {}),
      description: id,
      architecture,
      memorySize: 256,
      timeout: Duration.seconds(10),
      environment: {},
      logRetention: logs.RetentionDays.ONE_DAY,
      removalPolicy: RemovalPolicy.DESTROY,
      invokedBy: 'function-url',
    });
  const started = Date.now();
  const fns = {
    arm64: make('Arm', 'produce', join(FIXTURE_ENTRY_DIR, 'produce.ts'), lambda.Architecture.ARM_64),
    host: make('Host', 'fetch', join(FIXTURE_ENTRY_DIR, 'real-fetch.ts'), HOST_ARCHITECTURE),
    topics: make('Topics', 'topics', undefined, lambda.Architecture.ARM_64),
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

/** The text of every module of a bundle: index.mjs and its chunks (code reached by dynamic import). */
function bundleText(dir: string): string {
  const chunks = join(dir, 'chunks');
  const files = existsSync(chunks) ? readdirSync(chunks).map((f) => join(chunks, f)) : [];
  return [join(dir, 'index.mjs'), ...files].map((f) => readFileSync(f, 'utf8')).join('\n');
}

function elfMachine(path: string): number {
  return readFileSync(path).readUInt16LE(18);
}

describe('bundled function (arm64)', () => {
  it('is an ES module handler, without a source map', () => {
    // chunks/ holds what the entry reaches only by dynamic import (none in this fixture).
    const files = readdirSync(assets.arm64)
      .filter((f) => f !== 'chunks')
      .sort();
    expect(files).toEqual(['index.mjs', 'node_modules']);
    const code = readFileSync(join(assets.arm64, 'index.mjs'), 'utf8');
    expect(code).toMatch(/export\s*\{[^}]*handler/);
    // The native packages stay external: imported at run time, not inlined.
    expect(bundleText(assets.arm64)).toMatch(/from\s*"@node-rs\/crc32"/);
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
    const lock = JSON.parse(readFileSync(join(SOURCE_ROOT, 'package-lock.json'), 'utf8'));
    for (const pkg of ['@node-rs/crc32', 'snappy', 'lz4-napi']) {
      const installed = JSON.parse(
        readFileSync(join(assets.arm64, 'node_modules', pkg, 'package.json'), 'utf8'),
      );
      expect(installed.version, pkg).toBe(lock.packages[`node_modules/${pkg}`].version);
    }
  });
});

describe("bundled real fetch handler (this machine's CPU)", () => {
  it('ships binaries for the function architecture', () => {
    const binaries = nodeFiles(join(assets.host, 'node_modules'));
    expect(binaries).toHaveLength(3);
    for (const b of binaries) expect(b).toContain(`linux-${HOST}-gnu`);
    for (const b of binaries) expect(elfMachine(b), b).toBe(ELF_MACHINE[HOST]);
  });

  it('imports at top level only Node built-ins, its own chunks and packages the bundle ships', () => {
    const code = bundleText(assets.host);
    // Static imports, minified or not: `import{a as b}from"x"`, `import x from "y"`, `import "z"`.
    const imported = [
      ...code.matchAll(/(?:^|[;\n}])\s*import\s*(?:[\w$*{}\s,]+?from\s*)?["']([^"']+)["']/g),
    ].map((m) => m[1]!);
    const bare = [...new Set(imported.filter((id) => !id.startsWith('node:') && !id.startsWith('./')))];
    for (const id of imported.filter((i) => i.startsWith('./')))
      expect(id).toMatch(/^\.\/(chunks\/)?[\w-]+\.mjs$/);
    expect(bare.sort()).toEqual(['@node-rs/crc32']);
    for (const id of bare)
      expect(existsSync(join(assets.host, 'node_modules', id, 'package.json')), id).toBe(true);
    // better-sqlite3 is replaced by its stub, not imported.
    expect(code).toContain('LocalOnlyModuleError');
  });

  it('parses at start only its entry: the AWS clients (S3, DynamoDB, SSM) wait in chunks/', () => {
    const entry = readFileSync(join(assets.host, 'index.mjs'), 'utf8');
    // The stores open on the first request, SSM only with SLUICE_ENDPOINTS_PARAMETER.
    for (const client of ['"S3Client"', '"DynamoDBClient"', '"SSMClient"'])
      expect(entry).not.toContain(client);
    const all = bundleText(assets.host);
    for (const client of ['"S3Client"', '"DynamoDBClient"', '"SSMClient"']) expect(all).toContain(client);
    // The entry is a fraction of the whole (cold-start parse time follows size, design §19).
    expect(entry.length).toBeLessThan(all.length / 3);
  });

  const run = (script: string, env: Record<string, string> = {}) => {
    const url = pathToFileURL(join(assets.host, 'index.mjs')).href;
    // A cwd outside the repository and no NODE_PATH: nothing can resolve from the repo.
    const child = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', `const m = await import(${JSON.stringify(url)}); ${script}`],
      { cwd: assets.host, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' },
    );
    expect(child.stderr).toBe('');
    return JSON.parse(child.stdout) as { statusCode: number; body: string };
  };

  it.runIf(process.platform === 'linux')('loads crc32, snappy and lz4 from the bundle', () => {
    const result = run('process.stdout.write(JSON.stringify(await m.probe()));');
    expect(JSON.parse(result.body)).toEqual({ crc32c: 0xe3069283, snappy: '123456789', lz4: '123456789' });
  });

  it.runIf(process.platform === 'linux')('serves GET /v1/metadata', () => {
    const event = toEvent({ method: 'GET', url: '/v1/metadata' });
    const endpoints = { produce: 'https://p', fetch: 'https://f', admin: 'https://a', groups: 'https://g' };
    const result = run(`process.stdout.write(JSON.stringify(await m.handler(${JSON.stringify(event)})));`, {
      SLUICE_STORAGE: 'memory',
      SLUICE_CLUSTER_ID: 'bundle-test',
      SLUICE_ENDPOINTS: JSON.stringify(endpoints),
      // As the template sets it for every function (lib/sluice-cluster.ts): the inbox is named
      // from the environment, without opening a queue (a bundle has no SQLite to open one).
      SLUICE_INBOX_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/sluice-inbox',
    });
    expect(result.statusCode).toBe(200);
    // No schemas endpoint in this deployment: no registry URL either.
    expect(JSON.parse(result.body)).toEqual({
      clusterId: 'bundle-test',
      endpoints,
      topics: [],
      inbox: {
        type: 'sqs',
        queueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/sluice-inbox',
        region: 'eu-west-1',
      },
    });
  });
});

describe('bundled topics handler', () => {
  it('is ES modules with the AWS SDK inside and no native packages', () => {
    expect(readdirSync(assets.topics).filter((f) => f !== 'chunks')).toEqual(['index.mjs']);
    const code = readFileSync(join(assets.topics, 'index.mjs'), 'utf8');
    expect(code).toMatch(/export\s*\{[^}]*handler/);
    expect(bundleText(assets.topics)).toContain('InvokeCommand');
  });
});

it('bundles the three functions in well under a minute', () => {
  expect(bundleMs).toBeLessThan(60_000);
});
