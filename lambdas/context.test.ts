import { describe, expect, it } from 'vitest';
import { ManualClock, seededRandom } from '../core/clock.js';
import { keys } from '../core/keys.js';
import type { TransactOp } from '../core/ports.js';
import { FaultInjector, FaultyMetaStore } from '../storage/faulty.js';
import { ForwardingMetaStore } from '../storage/forwarding.js';
import { MemoryMetaStore, MemoryObjectStore } from '../storage/memory.js';
import { records, run } from '../test/helpers/engine.js';
import { createContext } from './context.js';

/** Counts the write intents stored through it. */
class IntentCounter extends ForwardingMetaStore {
  intents = 0;
  override async transact(ops: readonly TransactOp[]) {
    await this.inner.transact(ops);
    this.intents += ops.filter((op) => op.type === 'put' && op.key.sk.startsWith(keys.intentPrefix)).length;
  }
}

/** Ten appends through a context whose commits lose half their races; the intents stored. */
async function intentsWith(env: NodeJS.ProcessEnv): Promise<number> {
  const stores = { meta: new MemoryMetaStore(), objects: new MemoryObjectStore() };
  const clock = new ManualClock(1_700_000_000_000, { autoAdvance: true });
  await createContext(stores, { env: {}, clock }).topics.create('t', 1);
  const faults = new FaultInjector({ seed: 3, rates: { transact: { conflict: 0.5 } } });
  const meta = new IntentCounter(new FaultyMetaStore(stores.meta, faults));
  const ctx = createContext({ meta, objects: stores.objects }, { env, clock, random: seededRandom(3) });
  for (let i = 0; i < 10; i++) await ctx.appender.append([run('t', 0, records(1))]);
  expect((await stores.meta.get(keys.head((await ctx.topics.get('t')).id, 0)))?.data.next).toBe(10);
  return meta.intents;
}

describe('SLUICE_COMBINE', () => {
  it('combines lost races through write intents by default and with 1; 0 races only', async () => {
    expect(await intentsWith({})).toBeGreaterThan(0);
    expect(await intentsWith({ SLUICE_COMBINE: '1' })).toBeGreaterThan(0);
    expect(await intentsWith({ SLUICE_COMBINE: '0' })).toBe(0);
  });
});

describe('engine objects', () => {
  it('are built once, on first use, over one shared topic cache', async () => {
    const stores = { meta: new MemoryMetaStore(), objects: new MemoryObjectStore() };
    const clock = new ManualClock(1_700_000_000_000, { autoAdvance: true });
    const ctx = createContext(stores, { env: {}, clock });
    expect(ctx.appender).toBe(ctx.appender);
    expect(ctx.reader).toBe(ctx.reader);
    expect(ctx.topicView).toBe(ctx.topicView);
    expect(ctx.transactions).toBe(ctx.transactions);
    expect(ctx.schemaValidator).toBe(ctx.schemaValidator);
    expect(ctx.telemetry).toBe(ctx.telemetry);
    await ctx.topics.create('t', 2);
    await ctx.appender.append([run('t', 1, records(3))]);
    expect(await ctx.reader.highWatermarks('t', [0, 1])).toEqual([0, 3]);
    expect(await ctx.topicView.partitionCount('t')).toBe(2);
    expect(await ctx.topicView.partitionCount('absent')).toBeUndefined();
  });
});
