/**
 * Subscriptions through `sluice dev` on files + SQLite: the HTTP API creates, pauses,
 * resumes, changes and deletes them; a produce triggers delivery to a local module (no
 * polling); a failing module's records land in the failure file with their coordinates.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { type DevServer, startDevServer } from '../../bin/dev.js';
import { parseSubscriptionFlag, parseSubscriptionsFile } from '../../bin/dev-subscriptions.js';
import { type Api, api } from '../helpers/http.js';

declare global {
  // biome-ignore lint/suspicious/noExplicitAny: the handler module reports through a global
  var __sluiceSubscriptionTest: any[] | undefined;
  var __sluiceRetryTest: { url: string; calls: number } | undefined;
}

const HANDLER = `
export async function main(event) {
  const records = Object.values(event.records).flat();
  if (records.some((r) => Buffer.from(r.value, 'base64').toString() === 'poison')) throw new Error('poison pill');
  (globalThis.__sluiceSubscriptionTest ??= []).push(
    ...records.map((r) => ({ partition: r.partition, offset: r.offset, value: Buffer.from(r.value, 'base64').toString() })),
  );
  return { batchItemFailures: [] };
}
`;

// Fails every time; its first invocation pauses its own subscription, so the run stops mid-retry.
const FLAKY = `
export async function main() {
  const state = globalThis.__sluiceRetryTest;
  state.calls++;
  if (state.calls === 1) await fetch(state.url + '/v1/subscriptions/retrying/pause', { method: 'POST' });
  throw new Error('attempt ' + state.calls);
}
`;

describe('subscriptions in sluice dev', () => {
  let dir: string;
  let server: DevServer;
  let http: Api;
  const received = () => globalThis.__sluiceSubscriptionTest ?? [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sluice-subs-'));
    await writeFile(join(dir, 'handler.mjs'), HANDLER);
    await writeFile(join(dir, 'flaky.mjs'), FLAKY);
    server = await startDevServer({
      port: 0,
      env: { SLUICE_STORAGE: 'local', SLUICE_DATA_DIR: join(dir, 'data') },
      subscriptions: { baseDir: dir },
    });
    http = api(server.url);
    await http.post('/v1/topics', { name: 'orders', partitions: 2 });
  });

  afterAll(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
    globalThis.__sluiceSubscriptionTest = undefined;
    globalThis.__sluiceRetryTest = undefined;
  });

  const produce = (partition: number, values: string[]) =>
    http.post('/v1/produce', { topic: 'orders', records: values.map((value) => ({ value, partition })) });
  const settle = async () => {
    await new Promise((r) => setTimeout(r, 0));
    await server.subscriptions!.scheduler.idle();
  };

  it('refuses bad definitions with 4xx naming the field, creating nothing', async () => {
    const bad = await http.post('/v1/subscriptions', {
      name: 's',
      topic: 'orders',
      target: 'x',
      batchSize: 0,
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatchObject({ code: 'INVALID_REQUEST' });
    expect(bad.body.error.message).toMatch(/batchSize/);
    const badFilter = await http.post('/v1/subscriptions', {
      name: 's',
      topic: 'orders',
      target: 'x',
      filters: [{ pattern: '{"value": {"kind": ["a"]}}' }, { pattern: '{"value": [{"prefix": 7}]}' }],
    });
    expect(badFilter.status).toBe(400);
    expect(badFilter.body.error).toMatchObject({ code: 'INVALID_REQUEST' });
    expect(badFilter.body.error.message).toMatch(/filters\[1\]\.value: prefix takes a string/);
    const missing = await http.post('/v1/subscriptions', { name: 's', topic: 'nope', target: 'x' });
    expect(missing.status).toBe(404);
    expect((await http.get('/v1/subscriptions/s')).body.error.code).toBe('SUBSCRIPTION_NOT_FOUND');
    expect((await http.get('/v1/subscriptions')).body.subscriptions).toEqual([]);
  });

  it('delivers produced records to the module, pauses, resumes, and reports failures', async () => {
    await produce(0, ['before']);
    const created = await http.post('/v1/subscriptions', {
      name: 'billing',
      topic: 'orders',
      target: './handler.mjs#main',
      onFailure: 'dlq',
      maxRetryAttempts: 0,
    });
    expect(created.status).toBe(201);
    expect(created.body.subscription).toMatchObject({
      groupId: 'sluice-subscription-billing',
      batchSize: 100,
    });
    expect(
      (await http.post('/v1/subscriptions', { name: 'billing', topic: 'orders', target: 'x' })).status,
    ).toBe(409);

    await produce(0, ['a', 'b']);
    await produce(1, ['c']);
    await settle();
    expect(
      received()
        .map((r) => r.value)
        .sort(),
    ).toEqual(['a', 'b', 'c']); // 'before' predates it (latest)

    expect((await http.post('/v1/subscriptions/billing/pause')).body.subscription.enabled).toBe(false);
    await produce(0, ['d']);
    await settle();
    expect(received()).toHaveLength(3);
    expect((await http.post('/v1/subscriptions/billing/resume')).body.subscription.enabled).toBe(true);
    await settle();
    expect(received().map((r) => r.value)).toContain('d');

    // The terminal shows the handler's error and where the failure record went (Powertools
    // writes JSON lines to the process's stdout/stderr).
    const lines: string[] = [];
    const spies = [process.stdout, process.stderr].map((stream) =>
      vi.spyOn(stream, 'write').mockImplementation((chunk: string | Uint8Array) => {
        lines.push(String(chunk));
        return true;
      }),
    );
    try {
      await produce(1, ['poison', 'e']);
      await settle();
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
    const logged = lines
      .flatMap((l) => l.split('\n'))
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l));
    expect(logged).toContainEqual(
      expect.objectContaining({
        message:
          'subscription handler failed: the batch is retried up to maxRetryAttempts, then given up to onFailure',
        handler: './handler.mjs#main',
        partition: 'orders-1',
        offsets: '1-2',
        error: 'Error: poison pill',
      }),
    );
    expect(logged).toContainEqual(
      expect.objectContaining({
        message: 'subscription gave up on records: failure record sent to its onFailure destination',
        destination: join(dir, 'data', 'failures', 'dlq.jsonl'),
        startOffset: 1,
        endOffset: 2,
      }),
    );
    const failures = (await readFile(join(dir, 'data', 'failures', 'dlq.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(failures).toEqual([
      expect.objectContaining({
        subscription: 'billing',
        topic: 'orders',
        partition: 1,
        startOffset: 1,
        endOffset: 2,
        condition: 'RetryAttemptsExhausted',
        error: 'Error: poison pill',
      }),
    ]);

    const described = await http.get('/v1/subscriptions/billing');
    expect(described.body.lag).toEqual([
      expect.objectContaining({ partition: 0, committed: 4, lag: 0 }),
      expect.objectContaining({ partition: 1, committed: 3, lag: 0 }),
    ]);
    const patched = await http.request('PATCH', '/v1/subscriptions/billing', { batchSize: 10 });
    expect(patched.body.subscription.batchSize).toBe(10);

    // Filters set at run time: only matching records reach the module; the rest are committed past.
    const filters = [{ pattern: JSON.stringify({ value: [{ prefix: 'keep' }] }) }];
    const filtered = await http.request('PATCH', '/v1/subscriptions/billing', { filters });
    expect(filtered.body.subscription.filters).toEqual(filters);
    const before = received().length;
    await produce(0, ['drop-1', 'keep-1', 'drop-2']);
    await settle();
    expect(
      received()
        .slice(before)
        .map((r) => r.value),
    ).toEqual(['keep-1']);
    expect((await http.get('/v1/subscriptions/billing')).body.lag[0]).toMatchObject({ committed: 7, lag: 0 });
    expect(
      (await http.request('PATCH', '/v1/subscriptions/billing', { filters: [{ pattern: '{"value": 1}' }] }))
        .status,
    ).toBe(400);
    expect((await http.request('PATCH', '/v1/subscriptions/billing', { topic: 'x' })).status).toBe(400);
    expect((await http.delete('/v1/subscriptions/billing')).status).toBe(204);
    expect((await http.delete('/v1/subscriptions/billing')).status).toBe(404);
  });

  it('counts retry attempts per batch across runs: a pause mid-retry does not reset them', async () => {
    globalThis.__sluiceRetryTest = { url: server.url.replace(/\/$/, ''), calls: 0 };
    await http.post('/v1/topics', { name: 'retries', partitions: 1 });
    const created = await http.post('/v1/subscriptions', {
      name: 'retrying',
      topic: 'retries',
      target: './flaky.mjs#main',
      maxRetryAttempts: 2,
      onFailure: 'retries-dlq',
    });
    expect(created.status).toBe(201);
    await http.post('/v1/produce', { topic: 'retries', records: [{ value: 'x', partition: 0 }] });
    await settle();
    // The first attempt failed and the run stopped on the pause.
    expect(globalThis.__sluiceRetryTest.calls).toBe(1);
    expect((await http.get('/v1/subscriptions/retrying')).body.subscription.enabled).toBe(false);

    expect((await http.post('/v1/subscriptions/retrying/resume')).status).toBe(200);
    await settle();
    // A new run carries on counting: 1 + 2 retries = maxRetryAttempts + 1 invocations in all.
    expect(globalThis.__sluiceRetryTest.calls).toBe(3);
    const failures = (await readFile(join(dir, 'data', 'failures', 'retries-dlq.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(failures).toEqual([
      expect.objectContaining({
        subscription: 'retrying',
        startOffset: 0,
        endOffset: 0,
        condition: 'RetryAttemptsExhausted',
        attempts: 3,
        error: 'Error: attempt 3',
      }),
    ]);
    expect((await http.get('/v1/subscriptions/retrying')).body.lag[0]).toMatchObject({
      committed: 1,
      lag: 0,
    });
  });

  it('parses --subscription flags', () => {
    expect(
      parseSubscriptionFlag('topic=orders,handler=./handler.ts#main,batchSize=10,startingPosition=earliest'),
    ).toEqual({
      name: 'orders-handler.ts-main',
      topic: 'orders',
      target: './handler.ts#main',
      batchSize: 10,
      startingPosition: 'earliest',
    });
    expect(() => parseSubscriptionFlag('topic=orders')).toThrow(/handler/);
    expect(() => parseSubscriptionFlag('orders')).toThrow(/key=value/);
  });

  it('applies definitions given at start again to the stored subscription (every setting they name)', async () => {
    const env = { SLUICE_STORAGE: 'local', SLUICE_DATA_DIR: join(dir, 'restart') };
    const start = async (definitions: Record<string, unknown>[]) =>
      startDevServer({ port: 0, env, subscriptions: { baseDir: dir, definitions } });
    let s = await start([]);
    await api(s.url).post('/v1/topics', { name: 'orders', partitions: 1 });
    await s.close();
    const def = { name: 'd', topic: 'orders', target: './handler.mjs#main', batchSize: 5 };
    s = await start([def]);
    await s.close();
    const filters = [{ pattern: '{"value":[{"prefix":"k"}]}' }];
    s = await start([{ ...def, batchSize: 9, filters }]);
    try {
      expect((await api(s.url).get('/v1/subscriptions/d')).body.subscription).toMatchObject({
        batchSize: 9,
        filters,
      });
    } finally {
      await s.close();
    }
  });

  it('starts a subscription given at start for a topic that does not exist yet once the topic is created', async () => {
    const env = { SLUICE_STORAGE: 'local', SLUICE_DATA_DIR: join(dir, 'waiting') };
    const def = { name: 'early', topic: 'later', target: './handler.mjs#main' };
    const s = await startDevServer({ port: 0, env, subscriptions: { baseDir: dir, definitions: [def] } });
    try {
      const http2 = api(s.url);
      expect((await http2.get('/v1/subscriptions/early')).status).toBe(404);
      expect((await http2.post('/v1/topics', { name: 'later', partitions: 1 })).status).toBe(201);
      // Created on the topic's write; the next produce is delivered (startingPosition latest).
      await expect.poll(async () => (await http2.get('/v1/subscriptions/early')).status).toBe(200);
      await http2.post('/v1/produce', { topic: 'later', records: [{ value: 'first-after-create' }] });
      await new Promise((r) => setTimeout(r, 0));
      await s.subscriptions!.scheduler.idle();
      expect(received().map((r) => r.value)).toContain('first-after-create');
    } finally {
      await s.close();
    }
  });

  it('parses --subscriptions-file, filters included', () => {
    const filters = [{ pattern: '{"value":{"kind":["order"]}}' }];
    const text = JSON.stringify({
      subscriptions: [{ topic: 'orders', handler: './handler.ts#main', filters, maxRetryAttempts: 2 }],
    });
    expect(parseSubscriptionsFile(text, 'subs.json')).toEqual([
      {
        name: 'orders-handler.ts-main',
        topic: 'orders',
        target: './handler.ts#main',
        filters,
        maxRetryAttempts: 2,
      },
    ]);
    expect(parseSubscriptionsFile('[{"name":"n","topic":"t","target":"./m.js#f"}]', 'f')).toEqual([
      { name: 'n', topic: 't', target: './m.js#f' },
    ]);
    expect(() => parseSubscriptionsFile('{', 'subs.json')).toThrow(/subs\.json: not JSON/);
    expect(() => parseSubscriptionsFile('{"subscriptions": 1}', 'subs.json')).toThrow(/expected an array/);
    expect(() => parseSubscriptionsFile('[{"topic": "t"}]', 'subs.json')).toThrow(
      /subscriptions\[0\] needs "topic" and "handler"/,
    );
  });
});
