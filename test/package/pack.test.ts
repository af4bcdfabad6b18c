/**
 * The published package, as a CDK user and an SDK user get it: `npm run build`, `npm pack`,
 * install the tarball into a scratch app outside the repository (npm --prefer-offline, so a
 * warm cache needs no network), then synthesize a stack with `import { SluiceCluster } from
 * 'sluice/cdk'` under cdk-nag, in plain Node (no TypeScript, no lock file, no esbuild).
 * Slow by nature (a build and an install): about a minute.
 */
import { execFileSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HANDLER_NAMES, HANDLER_SPECS } from '../../lib/handler-bundles.js';
import { GOALS, measureSdkFootprint } from '../../scripts/sdk-footprint.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const require = createRequire(import.meta.url);
const versionOf = (name: string) => (require(`${name}/package.json`) as { version: string }).version;

let scratch: string;
let tarball: string;
let synth: {
  stdout: string;
  template: Record<string, { Type: string; Properties?: Record<string, unknown> }>;
};

const npm = (args: string[], cwd: string) =>
  execFileSync('npm', [...args, '--no-audit', '--no-fund', '--loglevel=error'], {
    cwd,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });

const APP = `
import { App, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { SluiceCluster } from 'sluice/cdk';
import { Sluice } from 'sluice';

const app = new App({ outdir: 'cdk.out' });
const stack = new Stack(app, 'UserStack');
const cluster = new SluiceCluster(stack, 'Events', { topics: [{ name: 'orders', partitions: 3 }] });
cluster.grantProduce(new iam.Role(stack, 'Orders', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }));
const imported = SluiceCluster.fromAttributes(stack, 'Imported', {
  produceFunctionArn: cluster.produceFunction.functionArn,
  fetchFunctionArn: cluster.fetchFunction.functionArn,
  adminFunctionArn: cluster.adminFunction.functionArn,
  groupsFunctionArn: cluster.groupsFunction.functionArn,
  bootstrapUrl: cluster.bootstrapUrl,
  serviceName: cluster.serviceName,
});
imported.grantConsume(new iam.Role(stack, 'Billing', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }));
// A finding nobody acknowledged fails the synth (as bin/app.ts does for this repository).
Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
app.synth();
console.log(typeof Sluice);
`;

/** The functions of a cluster without subscriptions (`addSubscription` adds the other two). */
const DEPLOYED = HANDLER_NAMES.filter((n) => n !== 'subscriptions' && n !== 'subscriptions-provider');

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'sluice-pack-'));
  npm(['run', 'build'], ROOT);
  const packed = npm(['pack', '--ignore-scripts', '--json', '--pack-destination', scratch], ROOT);
  tarball = join(scratch, (JSON.parse(packed) as { filename: string }[])[0]!.filename);
  const app = join(scratch, 'app');
  mkdirSync(app);
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({
      name: 'scratch-cdk-app',
      private: true,
      type: 'module',
      dependencies: {
        sluice: `file:${tarball}`,
        'aws-cdk-lib': versionOf('aws-cdk-lib'),
        constructs: versionOf('constructs'),
        'cdk-nag': versionOf('cdk-nag'),
      },
    }),
  );
  writeFileSync(join(app, 'app.mjs'), APP);
  npm(['install', '--prefer-offline'], app);
  const stdout = execFileSync(process.execPath, ['app.mjs'], { cwd: app, encoding: 'utf8' });
  const template = JSON.parse(readFileSync(join(app, 'cdk.out', 'UserStack.template.json'), 'utf8'));
  synth = { stdout, template: template.Resources };
}, 600_000);

afterAll(() => {
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('the packed package in a scratch CDK app', () => {
  it('ships the prebuilt handlers and no TypeScript or test code', () => {
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).split('\n');
    for (const name of HANDLER_NAMES) {
      expect(files).toContain(`package/dist/handlers/${name}/index.mjs`);
    }
    // What a handler reaches only by dynamic import is its chunks/, shipped beside it.
    expect(
      files.some((f) => f.startsWith('package/dist/handlers/produce/chunks/') && f.endsWith('.mjs')),
    ).toBe(true);
    expect(files).toContain('package/dist/handlers/native-versions.json');
    expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((f) => /test/.test(f))).toEqual([]);
  });

  it('synthesizes with cdk-nag on, and the SDK imports from the same package', () => {
    expect(synth.stdout.trim().split('\n').at(-1)).toBe('function');
    const functions = Object.values(synth.template).filter((r) => r.Type === 'AWS::Lambda::Function');
    const ours = functions.filter((f) => f.Properties?.Handler === 'index.handler');
    expect(ours).toHaveLength(DEPLOYED.length);
  });

  it('installs the arm64 native packages into the functions that run codecs, and only those', () => {
    const out = join(scratch, 'app', 'cdk.out');
    const assets = readdirSync(out).filter(
      (d) => d.startsWith('asset.') && existsSync(join(out, d, 'index.mjs')),
    );
    const withNative = assets.filter((d) =>
      existsSync(join(out, d, 'node_modules', '@node-rs', 'crc32-linux-arm64-gnu')),
    );
    expect(assets).toHaveLength(DEPLOYED.length);
    expect(withNative).toHaveLength(DEPLOYED.filter((n) => HANDLER_SPECS[n].native.length > 0).length);
    for (const d of assets) expect(existsSync(join(out, d, 'index.mjs.map')), d).toBe(false);
  });

  it('the SDK alone installs ≤ 15 packages, compiles nothing, and a one-record producer bundles to ≤ 250 KB', () => {
    const figures = measureSdkFootprint(tarball, scratch);
    expect(figures.compiled).toEqual([]);
    expect(figures.packages).toBeLessThanOrEqual(GOALS.maxPackages);
    expect(figures.bundleBytes).toBeLessThanOrEqual(GOALS.maxBundleBytes);
    expect(figures.ok).toBe(true);
  }, 120_000);

  it('each prebuilt bundle leaves out the AWS clients its function never calls, and has no source map', () => {
    // The entry and its chunks (code reached by dynamic import, loaded on first use).
    const bundle = (name: string) => {
      const dir = join(ROOT, 'dist', 'handlers', name);
      const chunks = existsSync(join(dir, 'chunks'))
        ? readdirSync(join(dir, 'chunks')).map((f) => `chunks/${f}`)
        : [];
      return ['index.mjs', ...chunks].map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
    };
    // keepNames keeps the clients' class names as strings in the minified code.
    const clients = (name: string) =>
      [...new Set(bundle(name).match(/"(?:S3|DynamoDB|SSM|SQS|Lambda)Client"/g))]
        .map((c) => c.slice(1, -1))
        .sort();
    for (const name of ['fetch', 'admin', 'groups']) {
      expect(clients(name), name).toEqual(['DynamoDBClient', 'S3Client', 'SSMClient']);
    }
    // Produce also sends acks=1 records to the inbox.
    expect(clients('produce')).toEqual(['DynamoDBClient', 'S3Client', 'SQSClient', 'SSMClient']);
    // Maintenance also wakes the subscriptions trigger for partitions left without a dispatcher.
    expect(clients('maintenance')).toEqual(['DynamoDBClient', 'LambdaClient', 'S3Client', 'SQSClient']);
    expect(clients('topics')).toEqual(['LambdaClient']);
    expect(readdirSync(join(ROOT, 'dist', 'handlers', 'produce')).sort()).toEqual(['chunks', 'index.mjs']);
  });

  it('declares aws-cdk-lib and constructs as peers, and no server package as a dependency', () => {
    const manifest = JSON.parse(
      readFileSync(join(scratch, 'app', 'node_modules', 'sluice', 'package.json'), 'utf8'),
    ) as { dependencies: Record<string, string>; peerDependencies: Record<string, string> };
    expect(Object.keys(manifest.peerDependencies)).toEqual(
      expect.arrayContaining(['aws-cdk-lib', 'constructs']),
    );
    for (const pkg of [
      'aws-cdk-lib',
      'constructs',
      'better-sqlite3',
      'tsx',
      'esbuild',
      '@aws-sdk/client-s3',
    ]) {
      expect(Object.keys(manifest.dependencies)).not.toContain(pkg);
    }
  });
});
