/** What the registry costs in DynamoDB requests (metered adapter over the memory store). */
import { describe, expect, it } from 'vitest';
import { MemoryMetaStore } from '../../storage/memory.js';
import { Meter, MeteredMetaStore } from '../../storage/metered.js';
import { ManualClock, seededRandom } from '../clock.js';
import { DEFAULT_TOPIC_CONFIG, type TopicMeta } from '../topics.js';
import { SchemaRegistry } from './registry.js';
import type { SchemaDefinition } from './types.js';
import { SchemaValidator } from './validation.js';

const def = (fields: object[]): SchemaDefinition => ({
  schemaType: 'AVRO',
  schema: JSON.stringify({ type: 'record', name: 'R', fields }),
  references: [],
});

describe('schema registry cost', () => {
  it('counts requests of registering, re-registering and validating', async () => {
    const meter = new Meter();
    const meta = new MeteredMetaStore(new MemoryMetaStore(), meter);
    const clock = new ManualClock();
    const registry = new SchemaRegistry({ meta, clock, random: seededRandom(1) });
    const measure = async (f: () => Promise<unknown>) => {
      meter.reset();
      await f();
      const d = meter.snapshot().dynamo;
      return { reads: d.get + d.batchGet + d.query, transacts: d.transact, wcu: d.wcu };
    };
    const v1 = def([{ name: 'a', type: 'string' }]);
    const first = await measure(() => registry.register('t-value', v1));
    const again = await measure(() => registry.register('t-value', v1));
    const v2 = def([
      { name: 'a', type: 'string' },
      { name: 'b', type: 'int', default: 0 },
    ]);
    const second = await measure(() => registry.register('t-value', v2));
    // A new schema: the id counter (CAS), fingerprint + schema (one transaction), the version (one).
    expect(first.transacts).toBe(3);
    // The same schema again writes nothing.
    expect(again.transacts).toBe(0);
    expect(second.transacts).toBe(3);

    const topic: TopicMeta = {
      name: 't',
      id: 'x',
      partitions: 1,
      createdAt: 0,
      config: { ...DEFAULT_TOPIC_CONFIG, 'value.schema.validation': true },
    };
    const validator = new SchemaValidator(registry, clock);
    const value = new Uint8Array([0, 0, 0, 0, 1, 9]);
    const cold = await measure(() => validator.check(topic, [{ value }], String));
    const warm = await measure(() =>
      validator.check(
        topic,
        Array.from({ length: 100 }, () => ({ value })),
        String,
      ),
    );
    expect(cold.reads).toBe(1); // one query of the subject's versions
    expect(warm.reads).toBe(0); // cached: 100 records, no request
  });
});
