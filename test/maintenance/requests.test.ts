/**
 * What small-object compaction buys a reader: a partition written by many small
 * multi-partition requests costs one GET per request to read back; once compacted, 64 MiB
 * of it costs at most 8 GETs (8 MiB objects). Counted with the metered decorators.
 */
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import { Reader } from '../../core/fetch.js';
import { resolveMaintenanceOptions, runMaintenancePass } from '../../core/maintenance/index.js';
import { Meter, MeteredMetaStore, MeteredObjectStore } from '../../storage/metered.js';
import { batchOf, engine, memoryStores, T0 } from './harness.js';

const MiB = 1024 * 1024;

async function read64MiB(reader: Reader): Promise<number> {
  let offset = 0;
  let bytes = 0;
  while (bytes < 64 * MiB) {
    const r = await reader.fetchBatches('big', 0, offset, { maxBytes: MiB });
    for (const b of r.batches) {
      if (b.header.baseOffset + b.header.lastOffsetDelta < offset) continue;
      bytes += b.bytes.length;
      offset = b.header.baseOffset + b.header.lastOffsetDelta + 1;
    }
  }
  return bytes;
}

describe('request counts', () => {
  it('reads 64 MiB of a compacted partition with at most 8 GETs', async () => {
    const clock = new ManualClock(T0, { autoAdvance: true });
    const meter = new Meter();
    const inner = memoryStores(clock);
    const stores = {
      meta: new MeteredMetaStore(inner.meta, meter),
      objects: new MeteredObjectStore(inner.objects, meter),
    };
    const e = engine({ stores, clock });
    await e.topics.create('big', 2, { 'retention.ms': -1 });
    // 512 requests, each one object holding 128 KiB for partition 0 and a record for partition 1.
    const value = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 512; i++) {
      await e.appender.append([
        { topic: 'big', partition: 0, batches: [batchOf([{ value }, { value }], clock.now())] },
        { topic: 'big', partition: 1, batches: [batchOf([{ value: `${i}` }], clock.now())] },
      ]);
    }
    const newReader = () => new Reader({ ...stores, topics: e.topics, clock });

    meter.reset();
    const before = await read64MiB(newReader());
    const getsBefore = meter.snapshot().s3.get;
    expect(getsBefore).toBe(512);

    meter.reset();
    const { report } = await runMaintenancePass(e.deps, resolveMaintenanceOptions());
    const pass = meter.snapshot();
    expect(report.errors).toEqual([]);
    // Partition 1's run of tiny entries is still open (young, far from 8 MiB): it waits.
    expect(report.entriesCompacted).toBe(512);
    expect(report.objectsWritten).toBe(8);
    expect(report.objectsDeleted).toBe(0);

    meter.reset();
    const after = await read64MiB(newReader());
    const getsAfter = meter.snapshot().s3.get;
    expect(after).toBe(before);
    expect(getsAfter).toBeLessThanOrEqual(8);
    console.log(
      `64 MiB read: ${getsBefore} GETs before compaction, ${getsAfter} after; ` +
        `compaction pass: ${pass.s3.get} GETs, ${pass.s3.put} PUTs, ${pass.s3.delete} DeleteObjects, ` +
        `${pass.dynamo.transact} transactions (${pass.dynamo.wcu} WCU), ${pass.dynamo.query} queries, ` +
        `${report.objectsWritten} objects written`,
    );

    // Once partition 1's run is old enough it is rewritten too, and the small objects go.
    clock.advance(600_000);
    const later = await runMaintenancePass(e.deps, resolveMaintenanceOptions());
    expect(later.report).toMatchObject({ entriesCompacted: 512, objectsWritten: 1, objectsDeleted: 512 });
    expect((await e.objects.list('data/')).objects).toHaveLength(9);
  });
});
