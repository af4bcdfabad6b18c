/**
 * `npm run bench -- coldstart [--rounds=N]`: what each Lambda function costs to start, as a
 * proxy on this machine for a Lambda cold start (issue 17 §3).
 *
 * Every function is bundled by the recipe `cdk synth` uses (`bundleHandler`,
 * lib/handler-bundles.ts) into `node_modules/.cache/sluice-coldstart/<name>/` (index.mjs, the
 * entry parsed at init, and chunks/, what it reaches by dynamic import; inside
 * node_modules so the bundle resolves the native packages the function leaves external, as
 * it does in its asset). Then, for each round and each function (order rotated per round),
 * a fresh `node` process:
 * - imports the bundle (`init_ms`: Lambda's INIT phase, module initialisation);
 * - for an HTTP function, serves one first request (`first_request_ms`: building the
 *   instance context, the AWS clients' first-use work, one round trip to a stub of
 *   DynamoDB and S3 on this machine that answers every call at once, see {@link stubAws}).
 *
 * `ready_ms` = init + first request: import to first answer. The baseline, measured the same
 * way in the same run, is a bare handler bundled with the same options that creates the
 * DynamoDB and S3 clients at import and makes one GetItem per request: what any function of
 * this shape pays before Sluice adds anything. Figures are medians over rounds.
 * Goals (issue 17): bundle ≤ 2 MB, init ≤ 150 ms per function on this machine.
 *
 * Writes bench/results/coldstart.json.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import {
  bundleHandler,
  HANDLER_NAMES,
  HANDLER_SPECS,
  type HandlerName,
  SOURCE_ROOT,
} from '../lib/handler-bundles.js';
import { median, numberArg, printTable, round, writeResults } from './lib.js';

const run$ = promisify(execFile);
const OUT = join(SOURCE_ROOT, 'node_modules', '.cache', 'sluice-coldstart');
const BASELINE = 'baseline';

/** The first request each HTTP function serves (a Lambda Function URL event). */
const FIRST_REQUEST: Partial<Record<HandlerName, { method: string; url: string; body?: string }>> = {
  produce: {
    method: 'POST',
    url: '/v1/produce',
    body: JSON.stringify({ topic: 'coldstart', records: [{ value: 'hello' }] }),
  },
  fetch: { method: 'GET', url: '/v1/fetch?topic=coldstart&partition=0&offset=0' },
  admin: { method: 'GET', url: '/v1/topics/coldstart' },
  groups: {
    method: 'POST',
    url: '/v1/groups/coldstart/heartbeat',
    body: JSON.stringify({ memberId: 'm', generationId: 1 }),
  },
  schemas: { method: 'GET', url: '/schemas/subjects' },
};

/** The baseline function: the same AWS clients, created at import, one GetItem per request. */
const BASELINE_SOURCE = `
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { S3Client } from '@aws-sdk/client-s3';
const dynamo = DynamoDBDocumentClient.from(new DynamoDBClient({}));
export const s3 = new S3Client({});
export const handler = async () => {
  const out = await dynamo.send(new GetCommand({ TableName: process.env.SLUICE_TABLE, Key: { pk: 'k', sk: 'k' } }));
  return { statusCode: 200, body: JSON.stringify(out.Item ?? null) };
};
`;

/**
 * What the child process runs: import the bundle, then (HTTP functions) one request; prints
 * the times as JSON. The event is built like lambdas/http.ts `toEvent`.
 */
const CHILD = `
const [file, reqJson] = process.argv.slice(1);
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
const c0 = cpu(), t0 = performance.now();
const mod = await import(file);
const c1 = cpu(), t1 = performance.now();
let status = 0;
if (reqJson) {
  const req = JSON.parse(reqJson);
  const url = new URL(req.url, 'http://localhost');
  const event = {
    version: '2.0', routeKey: '$default', rawPath: url.pathname, rawQueryString: url.search.slice(1),
    headers: { 'content-type': 'application/json', host: 'localhost' },
    queryStringParameters: Object.fromEntries(url.searchParams),
    requestContext: { http: { method: req.method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: '' } },
    isBase64Encoded: false,
    ...(req.body ? { body: req.body } : {}),
  };
  status = (await mod.handler(event, {})).statusCode;
}
const c2 = cpu(), t2 = performance.now();
console.log(JSON.stringify({ initMs: t1 - t0, firstMs: t2 - t1, initCpuMs: c1 - c0, firstCpuMs: c2 - c1, status }));
process.exit(0);
`;

/**
 * A stand-in for DynamoDB and S3 on this machine, so a first request measures the client's
 * own work and not a network: every DynamoDB call answers `{}` (an absent item, an empty
 * query), every S3 call 404.
 */
async function stubAws(): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.headers['x-amz-target']) {
        res.writeHead(200, { 'content-type': 'application/x-amz-json-1.0' }).end('{}');
      } else {
        res
          .writeHead(404, { 'content-type': 'application/xml' })
          .end('<Error><Code>NoSuchKey</Code></Error>');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function buildBaseline(): number {
  const dir = join(OUT, BASELINE);
  mkdirSync(dir, { recursive: true });
  const entry = join(dir, 'entry.mjs');
  writeFileSync(entry, BASELINE_SOURCE);
  // Built as the admin function is (same options, same externals).
  return bundleHandler('admin', entry, dir);
}

interface Sample {
  initMs: number;
  firstMs: number;
  initCpuMs: number;
  firstCpuMs: number;
  status: number;
}

async function startOnce(name: string, env: NodeJS.ProcessEnv): Promise<Sample> {
  const file = pathToFileURL(join(OUT, name, 'index.mjs')).href;
  const req = name === BASELINE ? { method: 'GET', url: '/' } : FIRST_REQUEST[name as HandlerName];
  const args = ['--input-type=module', '-e', CHILD, file, ...(req ? [JSON.stringify(req)] : [])];
  const { stdout } = await run$(process.execPath, args, { env, cwd: join(OUT, name) });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Sample;
}

export async function run(args: string[]): Promise<void> {
  const rounds = numberArg(args, 'rounds', 7);
  rmSync(OUT, { recursive: true, force: true });
  const sizes: Record<string, number> = {};
  for (const name of HANDLER_NAMES) {
    sizes[name] = bundleHandler(name, join(SOURCE_ROOT, HANDLER_SPECS[name].source), join(OUT, name));
  }
  sizes[BASELINE] = buildBaseline();
  /** What init parses: the entry module (its chunks load on first use). */
  const entrySize = (name: string) => statSync(join(OUT, name, 'index.mjs')).size;

  const stub = await stubAws();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'coldstart',
    AWS_SECRET_ACCESS_KEY: 'coldstart',
    // Service endpoints (the SDK's own variables), not AWS_ENDPOINT_URL: that one makes
    // storage/config.ts provision a bucket and table as for an emulator.
    AWS_ENDPOINT_URL_DYNAMODB: stub.url,
    AWS_ENDPOINT_URL_S3: stub.url,
    AWS_MAX_ATTEMPTS: '1',
    SLUICE_STORAGE: 'aws',
    SLUICE_BUCKET: 'coldstart',
    SLUICE_TABLE: 'coldstart',
    SLUICE_ENDPOINTS: JSON.stringify({ produce: 'p', fetch: 'f', admin: 'a', groups: 'g' }),
    SLUICE_METRICS: 'off',
    NODE_ENV: 'production',
  };
  const names = [BASELINE, ...HANDLER_NAMES];
  const samples = new Map<string, Sample[]>(names.map((n) => [n, []]));
  try {
    for (let r = 0; r < rounds + 1; r++) {
      const order = names.map((_, i) => names[(i + r) % names.length]!);
      for (const name of order) {
        const s = await startOnce(name, env);
        if (r > 0) samples.get(name)!.push(s); // round 0 warms the file cache
      }
    }
  } finally {
    stub.server.close();
  }

  const metrics: Record<string, number> = { rounds };
  const rows: (string | number)[][] = [
    [
      'function',
      'bundle KiB',
      'entry KiB',
      'init ms',
      'init CPU ms',
      'first req ms',
      'first req CPU ms',
      'ready CPU ms',
      'status',
    ],
  ];
  const readyCpu = (s: Sample) => s.initCpuMs + s.firstCpuMs;
  const baseReadyCpu = median(samples.get(BASELINE)!.map(readyCpu));
  for (const name of names) {
    const list = samples.get(name)!;
    const m = (f: (s: Sample) => number) => median(list.map(f));
    const key = name.replace(/-/g, '_');
    const http = name === BASELINE || FIRST_REQUEST[name as HandlerName] !== undefined;
    metrics[`${key}_bundle_kib`] = round(sizes[name]! / 1024, 0);
    metrics[`${key}_entry_kib`] = round(entrySize(name) / 1024, 0);
    metrics[`${key}_init_ms`] = round(
      m((s) => s.initMs),
      1,
    );
    metrics[`${key}_init_cpu_ms`] = round(
      m((s) => s.initCpuMs),
      1,
    );
    if (http) {
      metrics[`${key}_first_request_ms`] = round(
        m((s) => s.firstMs),
        1,
      );
      metrics[`${key}_first_request_cpu_ms`] = round(
        m((s) => s.firstCpuMs),
        1,
      );
      metrics[`${key}_ready_cpu_ms`] = round(m(readyCpu), 1);
      if (name !== BASELINE) metrics[`${key}_ready_cpu_ratio`] = round(m(readyCpu) / baseReadyCpu, 2);
    }
    rows.push([
      name,
      round(sizes[name]! / 1024, 0),
      round(entrySize(name) / 1024, 0),
      round(
        m((s) => s.initMs),
        1,
      ),
      round(
        m((s) => s.initCpuMs),
        1,
      ),
      http
        ? round(
            m((s) => s.firstMs),
            1,
          )
        : '-',
      http
        ? round(
            m((s) => s.firstCpuMs),
            1,
          )
        : '-',
      http ? round(m(readyCpu), 1) : '-',
      http ? (list[0]?.status ?? '') : '-',
    ]);
  }
  printTable(rows);
  console.log(
    `baseline: a bare handler with the DynamoDB and S3 clients, one GetItem (ready ${round(baseReadyCpu, 1)} CPU ms); CPU time is the figure to read on a loaded machine`,
  );
  console.log(`wrote ${writeResults('coldstart', metrics)}`);
}
