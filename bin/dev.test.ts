import { afterEach, expect, it } from 'vitest';
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
