/**
 * Review findings on the read path. Regression tests: each failed before its fix.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { Reader } from '../../core/fetch.js';
import { keys } from '../../core/keys.js';
import { maintainPartition, resolveMaintenanceOptions } from '../../core/maintenance/index.js';
import type { MetaStore } from '../../core/ports.js';
import { engine, memoryStores, produce, T0 } from '../maintenance/harness.js';

const dec = new TextDecoder();

describe('review: fetch vs small-object compaction', () => {
  it('a fetch whose index query pages across a compaction swap returns each offset once, in order', async () => {
    const clock = new ManualClock(T0, { autoAdvance: true });
    const stores = memoryStores(clock);
    const e = engine({ stores, clock });
    const { id } = await e.topics.create('t', 2, { 'retention.ms': -1 });
    // 40 requests, each to both partitions: 40 small entries per partition, in objects
    // shared by the two partitions (so compacting partition 0 does not delete them).
    for (let i = 0; i < 40; i++) {
      await produce(e, 't', { 0: [{ key: `k${i}`, value: `v${i}` }], 1: [{ key: `k${i}`, value: `w${i}` }] });
    }
    const options = resolveMaintenanceOptions({ minSmallEntries: 2, maxCompactionDelayMs: 0 });
    // A meta store that runs partition 0's maintenance just before the reader's second index page.
    let armed = true;
    const pk = keys.partitionPk(id, 0);
    const meta = new Proxy(stores.meta, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver);
        if (prop !== 'query') return typeof value === 'function' ? value.bind(target) : value;
        return async (...args: Parameters<MetaStore['query']>) => {
          if (armed && args[0] === pk && args[2]?.after !== undefined) {
            armed = false;
            await maintainPartition(e.deps, options, {
              kind: 'partition',
              topic: 't',
              topicId: id,
              partition: 0,
            });
          }
          return target.query(...args);
        };
      },
    }) as MetaStore;
    const reader = new Reader({ meta, objects: stores.objects, topics: e.topics, clock });
    const r = await reader.fetchRecords('t', 0, 0, { maxBytes: 1 << 20 });
    expect(armed).toBe(false); // the swap happened mid-read
    const offsets = r.records.map((x) => x.offset);
    expect(offsets).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(r.records.map((x) => dec.decode(x.value!))).toEqual(Array.from({ length: 40 }, (_, i) => `v${i}`));
  });
});
