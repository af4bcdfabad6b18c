import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../core/errors.js';
import { awsEndpoint, EMULATOR_CREDENTIALS } from '../test/helpers/stores.js';
import { isLocalEndpoint, storesFromEnv } from './config.js';

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe('storesFromEnv', () => {
  it('uses files + SQLite under SLUICE_DATA_DIR by default', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-config-'));
    dirs.push(dir);
    const stores = await storesFromEnv({ SLUICE_DATA_DIR: dir });
    await stores.objects.put('data/a.seg', new Uint8Array([1]));
    await stores.meta.transact([{ type: 'put', key: { pk: 'p', sk: 's' }, data: {} }]);
    expect(existsSync(join(dir, 'meta.sqlite'))).toBe(true);
    expect(existsSync(join(dir, 'objects', 'data'))).toBe(true);
    expect(stores.describe).toContain(dir);
    await stores.close();
  });

  it('keeps everything in memory with SLUICE_STORAGE=memory', async () => {
    const stores = await storesFromEnv({ SLUICE_STORAGE: 'memory' });
    expect(stores.describe).toMatch(/memory/);
    await stores.objects.put('k', new Uint8Array([1]));
    expect(await stores.objects.get('k')).toEqual(new Uint8Array([1]));
  });

  it('creates bucket and table on an emulator with SLUICE_STORAGE=aws', async () => {
    const id = Math.random().toString(36).slice(2, 10);
    const stores = await storesFromEnv({
      SLUICE_STORAGE: 'aws',
      SLUICE_BUCKET: `cfg-${id}`,
      SLUICE_TABLE: `cfg-${id}`,
      AWS_ENDPOINT_URL: awsEndpoint(),
      AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
    });
    await stores.objects.put('k', new Uint8Array([2]));
    await stores.meta.transact([{ type: 'put', key: { pk: 'p', sk: 's' }, data: { ok: true } }]);
    expect((await stores.meta.get({ pk: 'p', sk: 's' }))?.data).toEqual({ ok: true });
    expect(stores.describe).toContain(`cfg-${id}`);
    await stores.close();
  });

  it('gives a local emulator dummy credentials when none are configured (never to a remote endpoint)', async () => {
    expect(
      ['http://127.0.0.1:5000', 'http://localhost:4566', 'http://[::1]:5000', 'http://moto.localhost'].map(
        isLocalEndpoint,
      ),
    ).toEqual([true, true, true, true]);
    expect(
      ['https://s3.eu-west-1.amazonaws.com', 'http://10.0.0.5:5000', 'not a url'].map(isLocalEndpoint),
    ).toEqual([false, false, false]);
    const id = Math.random().toString(36).slice(2, 10);
    const saved = { ...process.env };
    // No keys anywhere: neither in the configuration nor in the process environment.
    for (const k of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_PROFILE'])
      delete process.env[k];
    try {
      const stores = await storesFromEnv({
        SLUICE_STORAGE: 'aws',
        SLUICE_BUCKET: `cred-${id}`,
        SLUICE_TABLE: `cred-${id}`,
        AWS_ENDPOINT_URL: awsEndpoint(),
      });
      await stores.objects.put('k', new Uint8Array([1]));
      expect([...(await stores.objects.get('k'))]).toEqual([1]);
      await stores.close();
    } finally {
      Object.assign(process.env, saved);
    }
  });

  it('refuses incomplete or unknown configurations, naming the variable', async () => {
    const cases: [Record<string, string>, string][] = [
      [{ SLUICE_STORAGE: 'aws', SLUICE_TABLE: 't' }, 'SLUICE_BUCKET'],
      [{ SLUICE_STORAGE: 'aws', SLUICE_BUCKET: 'b' }, 'SLUICE_TABLE'],
      [{ SLUICE_STORAGE: 'redis' }, 'SLUICE_STORAGE'],
    ];
    for (const [env, field] of cases) {
      const e = await storesFromEnv(env).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(InvalidRequestError);
      expect((e as InvalidRequestError).field).toBe(field);
    }
  });

  it('imports no adapter statically, so a Lambda bundle never loads better-sqlite3', async () => {
    const source = await readFile(fileURLToPath(new URL('./config.ts', import.meta.url)), 'utf8');
    const staticImports = [...source.matchAll(/^import\s+(?!type\b)[^;]*from\s+'([^']+)'/gm)].map(
      (m) => m[1],
    );
    // aws-client-config.ts imports nothing: it only reads the environment.
    expect(staticImports).toEqual(['../core/errors.js', './aws-client-config.js']);
    const helper = await readFile(fileURLToPath(new URL('./aws-client-config.ts', import.meta.url)), 'utf8');
    expect(helper).not.toMatch(/^import\s/m);
  });
});
