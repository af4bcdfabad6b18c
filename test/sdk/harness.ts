/**
 * A `sluice dev` server over fresh test stores, and the SDK pointed at it: what the SDK
 * suites run against. The server is the real one (HTTP on a free port, real handlers).
 */
import { startDevServer } from '../../bin/dev.js';
import { createContext } from '../../lambdas/context.js';
import { logLevel, Sluice, type SluiceConfig } from '../../sdk/index.js';
import { makeStores, type StoreKind } from '../helpers/stores.js';

export interface Harness {
  url: string;
  sluice: Sluice;
  /** Another client of the same server, e.g. with a wrapped transport. */
  client(config?: Partial<SluiceConfig>): Sluice;
  close(): Promise<void>;
}

export async function startHarness(kind: StoreKind): Promise<Harness> {
  const stores = await makeStores(kind);
  const server = await startDevServer({ port: 0, context: createContext(stores, { topicCacheTtlMs: 1000 }) });
  const client = (config: Partial<SluiceConfig> = {}) =>
    new Sluice({ endpoint: server.url, logLevel: logLevel.NOTHING, ...config });
  return {
    url: server.url,
    sluice: client(),
    client,
    async close() {
      await server.close();
      // Long polls of aborted fetches finish server-side first (maxWaitMs in these suites ≤ 500).
      await new Promise((r) => setTimeout(r, 600));
      await stores.cleanup();
    },
  };
}

/** Polls `check` until it is true (or throws after `timeoutMs`). */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  timeoutMs = 15_000,
  what = 'condition',
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

let counter = 0;
/** A topic name unique in this process. */
export function topicName(prefix: string): string {
  return `${prefix}-${process.pid}-${++counter}`;
}
