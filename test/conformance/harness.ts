/**
 * What the conformance suites share: the adapters they run against and a hook that gives
 * each `describe` block its own fresh stores. Besides the real adapters, `decorated` runs
 * the memory stores through the metered and faulty decorators (with no faults), proving
 * the decorators change nothing.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll } from 'vitest';
import type { Clock } from '../../core/clock.js';
import { FaultInjector, FaultyMetaStore, FaultyObjectStore } from '../../storage/faulty.js';
import { MeteredMetaStore, MeteredObjectStore } from '../../storage/metered.js';
import { makeStores, type StoreKind, type TestStores } from '../helpers/stores.js';

export type AdapterKind = StoreKind | 'decorated';

/** Object store adapters: memory, files, S3 (on the emulator), and the decorators. */
export const OBJECT_ADAPTERS: AdapterKind[] = ['memory', 'fs', 'aws', 'decorated'];
/** Meta store adapters: memory, SQLite, DynamoDB (on the emulator), and the decorators. */
export const META_ADAPTERS: AdapterKind[] = ['memory', 'sqlite', 'aws', 'decorated'];

async function make(kind: AdapterKind): Promise<TestStores> {
  if (kind !== 'decorated') return makeStores(kind);
  const inner = await makeStores('memory');
  const faults = new FaultInjector({ seed: 1 });
  return {
    ...inner,
    objects: new FaultyObjectStore(new MeteredObjectStore(inner.objects), faults),
    meta: new FaultyMetaStore(new MeteredMetaStore(inner.meta), faults),
    describe: 'memory through metered + faulty (no faults)',
  };
}

/** Fresh stores for the enclosing `describe`, cleaned up after it. */
export function useStores(kind: AdapterKind): () => TestStores {
  let stores: TestStores | undefined;
  beforeAll(async () => {
    stores = await make(kind);
  });
  afterAll(async () => {
    await stores?.cleanup();
  });
  return () => {
    if (!stores) throw new Error('stores are only available inside tests');
    return stores;
  };
}

/** A name no other test uses, for keys and partitions. */
export function unique(label: string): string {
  return `${label}-${randomBytes(4).toString('hex')}`;
}

/** The wall clock, for retries in concurrency tests. */
export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Bytes 0, 1, 2, … of length `n`, so any range's content is predictable. */
export function bytes(n: number, offset = 0): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i + offset) % 251);
}

/** Settles all promises and counts outcomes. */
export async function settle<T>(promises: Promise<T>[]): Promise<{ ok: T[]; errors: unknown[] }> {
  const results = await Promise.allSettled(promises);
  return {
    ok: results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : [])),
    errors: results.flatMap((r) => (r.status === 'rejected' ? [r.reason] : [])),
  };
}
