import { describe, expect, it } from 'vitest';
import { itemBytes } from './limits.js';
import { MemoryMetaStore, MemoryObjectStore } from './memory.js';
import { Meter, MeteredMetaStore, MeteredObjectStore } from './metered.js';

describe('metered stores', () => {
  it('counts S3 requests and bytes, failed calls included', async () => {
    const meter = new Meter();
    const objects = new MeteredObjectStore(new MemoryObjectStore(), meter);
    await objects.put('a', new Uint8Array(100));
    await objects.put('a', new Uint8Array(10)).catch(() => undefined);
    await objects.get('a', { start: 10, end: 40 });
    await objects.get('a');
    await objects.list('');
    await objects.delete(Array.from({ length: 1500 }, (_, i) => `k${i}`));
    await objects.delete([]);
    expect(meter.snapshot().s3).toEqual({ put: 2, get: 2, delete: 2, list: 1, bytesIn: 110, bytesOut: 130 });
  });

  it('counts DynamoDB requests and capacity units', async () => {
    const meter = new Meter();
    const meta = new MeteredMetaStore(new MemoryMetaStore(), meter);
    const big = { pk: 'p', sk: 'big' };
    const small = { pk: 'p', sk: 'small' };
    const blob = 'x'.repeat(9000); // ~9 KB: 3 RCU (4 KB each), 9 WCU (1 KB each)
    const bigBytes = itemBytes(big, { blob });
    await meta.transact([{ type: 'put', key: big, data: { blob } }]);
    let d = meter.snapshot().dynamo;
    expect(d).toMatchObject({ transact: 1, writeItems: 1, wcu: Math.ceil(bigBytes / 1024), rcu: 0 });

    meter.reset();
    await meta.transact([
      { type: 'put', key: small, data: { a: 1 } },
      { type: 'check', key: big, condition: { version: 1 } },
    ]);
    d = meter.snapshot().dynamo;
    expect(d).toMatchObject({ transact: 1, writeItems: 2, wcu: 2 * 1 + 2 * 1 });

    meter.reset();
    await meta.get(big); // 3 RCU
    await meta.get({ pk: 'p', sk: 'missing' }); // 1 RCU
    await meta.batchGet([big, small, big, { pk: 'p', sk: 'missing' }]); // 3 + 1 + 1
    await meta.query('p'); // (big + small) / 4 KB, rounded up once
    await meta.transact([{ type: 'check', key: small, condition: { version: 1 } }]); // a read
    d = meter.snapshot().dynamo;
    const queryRcu = Math.ceil((bigBytes + itemBytes(small, { a: 1 })) / 4096);
    expect(d).toEqual({
      get: 2,
      batchGet: 1,
      query: 1,
      transact: 1,
      writeItems: 1,
      rcu: 3 + 1 + (3 + 1 + 1) + queryRcu + 1,
      wcu: 0,
    });
  });

  it('snapshots are copies; reset starts over', async () => {
    const meter = new Meter();
    const objects = new MeteredObjectStore(new MemoryObjectStore(), meter);
    await objects.put('a', new Uint8Array(1));
    const snap = meter.snapshot();
    snap.s3.put = 99;
    expect(meter.snapshot().s3.put).toBe(1);
    meter.reset();
    expect(meter.snapshot().s3.put).toBe(0);
  });

  it('leaves malformed ops to the store underneath', async () => {
    const meta = new MeteredMetaStore(new MemoryMetaStore());
    // biome-ignore lint/suspicious/noExplicitAny: deliberately malformed
    await expect(meta.transact([{ type: 'put', key: { pk: 'p', sk: 's' } } as any])).rejects.toMatchObject({
      name: 'InvalidRequestError',
    });
  });
});
