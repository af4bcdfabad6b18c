import { describe, expect, it } from 'vitest';
import { engine, indexOf, objectKeysOf, produce, type Rec, readAll } from '../../test/maintenance/harness.js';
import { seededRandom } from '../clock.js';
import { headFromItem } from '../heads.js';
import { keys } from '../keys.js';
import { Compression } from '../records/index.js';
import type { TopicMeta } from '../topics.js';
import { resolveMaintenanceOptions } from './options.js';
import { runMaintenancePass } from './run.js';

const HOUR = 3_600_000;
const options = resolveMaintenanceOptions({ minSmallEntries: 1000, targetObjectBytes: 4096 });

interface Written {
  offset: number;
  key: string | null;
  value: string | null;
}

/**
 * Produces `requests` requests of 5 records over keys k0..k7 (some tombstones; with `keyless`,
 * some without key, which only a topic that is not compacted accepts).
 */
async function writeLog(
  e: ReturnType<typeof engine>,
  topic: string,
  requests: number,
  seed: number,
  keyless = false,
) {
  const random = seededRandom(seed);
  const written: Written[] = [];
  let offset = (await e.reader.listOffset(topic, 0, 'latest')).offset;
  for (let i = 0; i < requests; i++) {
    const recs: Rec[] = [];
    for (let j = 0; j < 5; j++) {
      const roll = random();
      const key = keyless && roll < 0.05 ? null : `k${Math.floor(random() * 8)}`;
      const value = roll > 0.9 && key ? null : `v${offset}`;
      recs.push({ key, value });
      written.push({ offset: offset++, key, value });
    }
    await produce(e, topic, { 0: recs }, i % 2 ? Compression.Zstd : Compression.None);
  }
  return written;
}

/**
 * Makes a topic compacted in the store, as a log written before produce refused keyless records
 * on compacted topics (topic-rules.ts) is: it still holds keyless records for compaction to keep.
 */
async function switchToCompact(e: ReturnType<typeof engine>, t: TopicMeta): Promise<void> {
  const config = { ...t.config, 'cleanup.policy': 'compact' as const };
  await e.meta.transact([
    {
      type: 'put',
      key: keys.topic(t.name),
      data: { id: t.id, partitions: t.partitions, config, createdAt: t.createdAt },
    },
  ]);
  await e.topics.load(t.name);
}

function latestByKey(records: readonly { key: string | null; value: string | null; offset: number }[]) {
  const latest = new Map<string, { value: string | null; offset: number }>();
  for (const r of records) if (r.key !== null) latest.set(r.key, { value: r.value, offset: r.offset });
  return latest;
}

describe('compacted topics', () => {
  it('keeps the latest record per key at its original offset', async () => {
    const e = engine();
    // Written before keyless records were refused: as a delete topic, then switched.
    const t = await e.topics.create('ct', 1, { 'delete.retention.ms': HOUR });
    const written = await writeLog(e, 'ct', 40, 7, true);
    await switchToCompact(e, t);
    const byOffset = new Map(written.map((w) => [w.offset, w]));
    const sizeBefore = headFromItem(await e.meta.get(keys.head(t.id, 0))).data.size;

    const { report } = await runMaintenancePass(e.deps, options);
    expect(report.errors).toEqual([]);
    expect(report.recordsCleaned).toBeGreaterThan(100);
    const read = await readAll(e, 'ct', 0);
    // Every record read is the one written at that offset.
    for (const r of read)
      expect({ offset: r.offset, key: r.key, value: r.value }).toEqual(byOffset.get(r.offset));
    // The consumer ends with the latest value of every key.
    expect(latestByKey(read)).toEqual(latestByKey(written));
    // Records without a key are all kept.
    expect(read.filter((r) => r.key === null)).toHaveLength(written.filter((w) => w.key === null).length);
    // The tail entry (the last request) is untouched; before it, one record per key at most.
    const tailStart = written.length - 5;
    const cleaned = read.filter((r) => r.offset < tailStart && r.key !== null);
    expect(new Set(cleaned.map((r) => r.key)).size).toBe(cleaned.length);
    expect(read.filter((r) => r.offset >= tailStart)).toHaveLength(5);
    // Sizes follow: the head counts what is left.
    const head = headFromItem(await e.meta.get(keys.head(t.id, 0)));
    const index = await indexOf(e, t.id, 0);
    expect(head.data.size).toBe(index.reduce((s, x) => s + x.len, 0));
    expect(head.data.size).toBeLessThan(sizeBefore / 2);
    expect(head.data).toMatchObject({ start: 0, next: written.length });
    // Only referenced objects remain.
    expect(new Set(await objectKeysOf(e.objects))).toEqual(new Set(index.map((x) => x.o)));
  });

  it('drops tombstones only after delete.retention.ms', async () => {
    const e = engine();
    await e.topics.create('tomb', 1, { 'cleanup.policy': 'compact', 'delete.retention.ms': HOUR });
    await produce(e, 'tomb', {
      0: [
        { key: 'a', value: '1' },
        { key: 'b', value: '1' },
      ],
    });
    await produce(e, 'tomb', { 0: [{ key: 'a', value: null }] });
    await produce(e, 'tomb', { 0: [{ key: 'c', value: '1' }] });
    const pass = () => runMaintenancePass(e.deps, resolveMaintenanceOptions({ minCleanableDirtyRatio: 0 }));
    await pass();
    expect((await readAll(e, 'tomb', 0)).map((r) => [r.offset, r.key, r.value])).toEqual([
      [1, 'b', '1'],
      [2, 'a', null],
      [3, 'c', '1'],
    ]);
    e.clock.advance(HOUR + 1);
    await produce(e, 'tomb', { 0: [{ key: 'd', value: '1' }] });
    await pass();
    expect((await readAll(e, 'tomb', 0)).map((r) => [r.offset, r.key, r.value])).toEqual([
      [1, 'b', '1'],
      [3, 'c', '1'],
      [4, 'd', '1'],
    ]);
    // Reading at an offset compaction removed lands on the next record.
    const at2 = await e.reader.fetchRecords('tomb', 0, 2);
    expect(at2.records.map((r) => r.offset)).toEqual([3, 4]);
    const at0 = await e.reader.fetchRecords('tomb', 0, 0);
    expect(at0.records[0]!.offset).toBe(1);
  });

  it('cleans again as new data makes the log dirty, converging to one record per key', async () => {
    const e = engine();
    const t = await e.topics.create('again', 1, { 'cleanup.policy': 'compact', 'delete.retention.ms': 0 });
    const all: Written[] = [];
    for (let round = 0; round < 4; round++) {
      all.push(...(await writeLog(e, 'again', 15, 100 + round)));
      e.clock.advance(1000);
      const { report } = await runMaintenancePass(e.deps, options);
      expect(report.errors).toEqual([]);
      const read = await readAll(e, 'again', 0);
      const expected = latestByKey(all);
      for (const [k, v] of latestByKey(read)) {
        // A key's tombstone may be gone (delete.retention.ms = 0) but never resurrect an old value.
        expect(v).toEqual(expected.get(k));
      }
      for (const [k, v] of expected) if (v.value !== null) expect(latestByKey(read).get(k)).toEqual(v);
    }
    const state = await e.meta.get(keys.maintenance(t.id, 0));
    expect(state?.data.kc).toBeGreaterThan(0);
  });

  it('does not clean below the dirty ratio', async () => {
    const e = engine();
    await e.topics.create('lazy', 1, { 'cleanup.policy': 'compact' });
    await writeLog(e, 'lazy', 10, 3);
    const { report } = await runMaintenancePass(
      e.deps,
      resolveMaintenanceOptions({ minSmallEntries: 1000, minCleanableDirtyRatio: 0.95 }),
    );
    expect(report.recordsCleaned).toBe(0);
  });
});
