import { request } from 'node:http';
import fc from 'fast-check';
import { afterEach, expect, it } from 'vitest';
import { ChunkedBody } from '../lambdas/chunked-body.js';
import { createContext } from '../lambdas/context.js';
import { lambdaHandler } from '../lambdas/http.js';
import { MemoryMetaStore, MemoryObjectStore } from '../storage/memory.js';
import { type DevServer, startDevServer } from './dev.js';

let server: DevServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

const context = () =>
  createContext({ meta: new MemoryMetaStore(), objects: new MemoryObjectStore() }, { env: {} });

it('serves a given route instead of the functions (the HTTP path alone, for benchmarks)', async () => {
  const seen: number[] = [];
  const route = lambdaHandler([
    {
      method: 'POST',
      path: '/put',
      handle: async (req) => {
        seen.push(req.body.length);
        return { status: 200, body: { ok: true } };
      },
    },
  ]);
  server = await startDevServer({ port: 0, context: context(), route, subscriptions: false });
  const body = new Uint8Array(70_000).fill(3);
  const res = await fetch(`${server.url}/put`, { method: 'POST', body });
  expect(res.status).toBe(200);
  expect(await res.json()).toEqual({ ok: true });
  expect(seen).toEqual([70_000]);
  // Sluice's own routes are not served by this server.
  expect((await fetch(`${server.url}/v1/topics`)).status).toBe(404);
});

it("serves Sluice's functions without a route", async () => {
  server = await startDevServer({ port: 0, context: context(), subscriptions: false });
  const res = await fetch(`${server.url}/v1/topics`);
  expect(res.status).toBe(200);
});

it('writes a chunked body as its chunks joined, and reads request bodies whole, declared or not', async () => {
  let answer: Uint8Array[] = [];
  const route = lambdaHandler([
    { method: 'POST', path: '/chunks', handle: async () => ({ status: 200, body: new ChunkedBody(answer) }) },
    { method: 'POST', path: '/echo', handle: async (req) => ({ status: 200, body: req.body.slice() }) },
  ]);
  server = await startDevServer({ port: 0, context: context(), route, subscriptions: false });
  const url = server.url;
  // Node's client: with `declared`, a content-length; without, chunked transfer encoding.
  const post = (path: string, parts: Uint8Array[], declared: boolean) =>
    new Promise<Buffer>((resolve, reject) => {
      const size = parts.reduce((n, p) => n + p.length, 0);
      const req = request(
        `${url}${path}`,
        { method: 'POST', headers: declared ? { 'content-length': size } : {} },
        (res) => {
          const got: Buffer[] = [];
          res.on('data', (c: Buffer) => got.push(c));
          res.on('end', () => resolve(Buffer.concat(got)));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      for (const p of parts) req.write(p);
      req.end();
    });
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.uint8Array({ maxLength: 100_000 }), { maxLength: 5 }),
      fc.boolean(),
      async (parts, declared) => {
        const joined = Buffer.concat(parts);
        answer = parts;
        expect((await post('/chunks', [], true)).equals(joined)).toBe(true);
        expect((await post('/echo', parts, declared)).equals(joined)).toBe(true);
      },
    ),
    { numRuns: 25 },
  );
});

it('names its inbox, and a start whose inbox cannot open fails and frees its port', async () => {
  const server = await startDevServer({ port: 0, env: { SLUICE_STORAGE: 'memory' } });
  expect(server.inbox).toBe('embedded queue (SQLite)');
  await server.close();
  // A fixed port, so that a server left behind would make the second start fail with EADDRINUSE.
  const probe = await startDevServer({ port: 0, env: { SLUICE_STORAGE: 'memory' } });
  const port = probe.port;
  await probe.close();
  const bad = { SLUICE_STORAGE: 'memory', SLUICE_INBOX_BACKEND: 'kinesys' };
  await expect(startDevServer({ port, env: bad })).rejects.toThrow(
    /SLUICE_INBOX_BACKEND must be sqs or kinesis/,
  );
  const again = await startDevServer({ port, env: { SLUICE_STORAGE: 'memory' } });
  expect(again.port).toBe(port);
  await again.close();
});
