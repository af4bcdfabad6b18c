/**
 * Vitest global setup: gives the AWS suites an S3 + DynamoDB endpoint. With
 * `AWS_ENDPOINT_URL` set (LocalStack, a moto you run yourself) that endpoint is used;
 * otherwise moto is started on a free port of 127.0.0.1, serving one request at a time
 * (`moto-serial.py`), and stopped at teardown. Suites read the endpoint with `inject('awsEndpoint')`.
 *
 * When moto cannot be started, the run is not aborted (suites that need no AWS still
 * run), but `awsEndpointError` carries the reason and every AWS suite fails with it —
 * AWS suites never skip.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The S3/DynamoDB endpoint of the AWS suites ('' when none could be started). */
    awsEndpoint: string;
    /** Why there is no endpoint, as a message telling how to fix it. */
    awsEndpointError: string;
  }
}

const INSTALL_HINT =
  'moto_server was not found on PATH nor at ~/.pyenv/shims/moto_server. Install it with `pip install "moto[server]"`, ' +
  'or point AWS_ENDPOINT_URL at a running S3 + DynamoDB emulator (moto, LocalStack).';

function findMotoServer(): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'moto_server'))) return join(dir, 'moto_server');
  }
  const shim = join(homedir(), '.pyenv', 'shims', 'moto_server');
  return existsSync(shim) ? shim : undefined;
}

/**
 * moto_server answers each request on its own thread, and moto's DynamoDB transactions are
 * not atomic across threads (measured: acknowledged conditional transactions lost). We run
 * moto's own application through `moto-serial.py`, which serves one request at a time, with
 * the Python interpreter that has moto installed (the one beside `moto_server`, else
 * `python3`). `test/conformance/emulator.test.ts` proves the result atomic.
 */
const SERIAL_LAUNCHER = fileURLToPath(new URL('./moto-serial.py', import.meta.url));

function findPython(motoServer: string): string {
  const candidates = [join(dirname(motoServer), 'python3'), join(dirname(motoServer), 'python'), 'python3'];
  for (const python of candidates) {
    const probe = spawnSync(python, ['-c', 'import moto.server, werkzeug'], { stdio: 'ignore' });
    if (probe.status === 0) return python;
  }
  throw new Error(`no Python interpreter beside ${motoServer} (nor python3 on PATH) can import moto.server`);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilUp(url: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto_server exited with code ${child.exitCode}`);
    try {
      const res = await fetch(`${url}/moto-api/`);
      if (res.status < 500) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`moto_server did not answer at ${url} within ${timeoutMs} ms`);
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  // Fake credentials, inherited by the test workers: the SDK signs requests even for moto.
  process.env.AWS_ACCESS_KEY_ID ??= 'testing';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'testing';
  process.env.AWS_REGION ??= 'us-east-1';

  const configured = process.env.AWS_ENDPOINT_URL;
  if (configured) {
    project.provide('awsEndpoint', configured);
    project.provide('awsEndpointError', '');
    return undefined;
  }

  const bin = findMotoServer();
  if (!bin) {
    project.provide('awsEndpoint', '');
    project.provide('awsEndpointError', INSTALL_HINT);
    return undefined;
  }

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let python: string;
  try {
    python = findPython(bin);
  } catch (error) {
    project.provide('awsEndpoint', '');
    project.provide('awsEndpointError', `${(error as Error).message}\n${INSTALL_HINT}`);
    return undefined;
  }
  const child = spawn(python, [SERIAL_LAUNCHER, '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const kill = () => {
    if (child.exitCode === null) child.kill('SIGTERM');
  };
  process.once('exit', kill);
  try {
    await waitUntilUp(url, child, 30_000);
  } catch (error) {
    kill();
    project.provide('awsEndpoint', '');
    project.provide('awsEndpointError', `${(error as Error).message}\n${stderr}\n${INSTALL_HINT}`);
    return undefined;
  }
  project.provide('awsEndpoint', url);
  project.provide('awsEndpointError', '');
  return async () => {
    process.off('exit', kill);
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  };
}
