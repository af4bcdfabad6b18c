/**
 * `npm run bench -- latency [--requests=N]`: produce and fetch latency of the engine over
 * the modelled S3 and DynamoDB (storage/modelled.ts, published latencies), against the
 * floor of the same calls made directly: produce = one PUT then one transaction of the
 * same items; fetch = head read + index query + ranged GET. Small (10 × 100 B) and 1 MiB
 * (1,000 × 1 KiB) requests, one at a time on a warm instance; the first request of a
 * fresh instance (cold: topic metadata not cached yet) is reported apart.
 *
 * Modelled time is virtual (bench/lib.ts VirtualClock); the CPU the engine spends is real:
 * each request's latency is its virtual time plus its wall time, for system and floor alike.
 * Writes bench/results/latency.json.
 */
import { Appender, type AppendRun } from '../core/append.js';
import { seededRandom } from '../core/clock.js';
import { Reader } from '../core/fetch.js';
import { keys, objectKeys } from '../core/keys.js';
import { encodeBatch, encodeSegment, verifyBatch } from '../core/records/index.js';
import { Topics } from '../core/topics.js';
import { MemoryMetaStore, MemoryObjectStore } from '../storage/memory.js';
import { ModelledMetaStore, ModelledObjectStore } from '../storage/modelled.js';
import { numberArg, printTable, quantile, round, VirtualClock, writeResults } from './lib.js';

const SIZES = { small: { records: 10, bytes: 100 }, mib: { records: 1000, bytes: 1024 } } as const;

export async function run(args: string[]): Promise<void> {
  const requests = numberArg(args, 'requests', 200);
  const clock = new VirtualClock();
  const random = seededRandom(11);
  const meta = new ModelledMetaStore(new MemoryMetaStore(), { clock, random });
  const objects = new ModelledObjectStore(new MemoryObjectStore(), { clock, random });
  const topic = await clock.run(new Topics(meta, { clock, random }).create('t', 2));
  const instance = () => {
    const topics = new Topics(meta, { clock, random });
    return {
      appender: new Appender({ meta, objects, topics, clock, random }),
      reader: new Reader({ meta, objects, topics, clock }),
    };
  };
  /** Virtual plus wall milliseconds of `fn`. */
  const time = async (fn: () => Promise<unknown>): Promise<number> => {
    const v0 = clock.now();
    const w0 = performance.now();
    await clock.run(fn());
    return clock.now() - v0 + (performance.now() - w0);
  };
  const metrics: Record<string, number> = { requests };
  const rows: (string | number)[][] = [
    ['case', 'p50 ms', 'p99 ms', 'floor p50', 'floor p99', 'Δp50', 'Δp99'],
  ];
  const warm = instance();
  for (const [name, size] of Object.entries(SIZES)) {
    const partition = name === 'small' ? 0 : 1;
    const value = new Uint8Array(size.bytes).fill(3);
    const runOf = (): AppendRun => ({
      topic: 't',
      partition,
      trusted: true,
      batches: [
        verifyBatch(
          encodeBatch(
            Array.from({ length: size.records }, (_, i) => ({ value, timestamp: i })),
            { now: 0 },
          ),
        ),
      ],
    });
    const produce: number[] = [];
    const produceFloor: number[] = [];
    const fetch: number[] = [];
    const fetchFloor: number[] = [];
    let floorVersion = 0;
    let floorNext = 0;
    for (let i = 0; i < requests; i++) {
      const r = runOf();
      let base = 0;
      produce.push(
        await time(async () => {
          base = (await warm.appender.append([r]))[0]!.baseOffset;
        }),
      );
      fetch.push(await time(() => warm.reader.fetchBatches('t', partition, base, { maxBytes: 2 << 20 })));
      // Floor: the same PUT and a transaction of the same three items, on a partition of its own.
      const bytes = encodeSegment([
        { topic: 't', partition: 9, batches: r.batches.map((b) => b.bytes) },
      ]).bytes;
      produceFloor.push(
        await time(async () => {
          const key = objectKeys.segment(`floor-${name}-${i}`);
          await objects.put(key, bytes);
          await meta.transact([
            {
              type: 'put',
              key: { pk: `floor-${name}`, sk: 'head' },
              data: { next: floorNext + size.records, start: 0, size: 0, p: {} },
              condition: floorVersion === 0 ? { absent: true } : { version: floorVersion },
            },
            {
              type: 'put',
              key: { pk: `floor-${name}`, sk: `i${floorNext + size.records - 1}` },
              data: { o: key, pos: 0, len: bytes.length, base: floorNext },
              condition: { absent: true },
            },
            { type: 'put', key: keys.objectRef(key), data: { refs: 1 }, condition: { absent: true } },
          ]);
          floorVersion++;
          floorNext += size.records;
        }),
      );
      const floorKey = objectKeys.segment(`floor-${name}-${i}`);
      fetchFloor.push(
        await time(async () => {
          await meta.get({ pk: `floor-${name}`, sk: 'head' });
          await meta.query(`floor-${name}`, { gte: 'i' }, { limit: 1 });
          await objects.get(floorKey, { start: 0, end: bytes.length });
        }),
      );
    }
    for (const [what, system, floor] of [
      ['produce', produce, produceFloor],
      ['fetch', fetch, fetchFloor],
    ] as const) {
      const s50 = quantile(system, 0.5);
      const s99 = quantile(system, 0.99);
      const f50 = quantile(floor, 0.5);
      const f99 = quantile(floor, 0.99);
      const k = `${what}_${name}`;
      Object.assign(metrics, {
        [`${k}_p50_ms`]: round(s50, 1),
        [`${k}_p99_ms`]: round(s99, 1),
        [`${k}_floor_p50_ms`]: round(f50, 1),
        [`${k}_floor_p99_ms`]: round(f99, 1),
        [`${k}_delta_p50_ms`]: round(s50 - f50, 1),
        [`${k}_delta_p99_ms`]: round(s99 - f99, 1),
      });
      rows.push([
        k,
        round(s50, 1),
        round(s99, 1),
        round(f50, 1),
        round(f99, 1),
        round(s50 - f50, 1),
        round(s99 - f99, 1),
      ]);
    }
  }
  // Cold instances: the first produce and the first fetch of a fresh instance.
  const coldProduce: number[] = [];
  const coldFetch: number[] = [];
  for (let i = 0; i < 20; i++) {
    const cold = instance();
    const r: AppendRun = {
      topic: 't',
      partition: 0,
      trusted: true,
      batches: [verifyBatch(encodeBatch([{ value: new Uint8Array(100), timestamp: 0 }], { now: 0 }))],
    };
    coldProduce.push(await time(() => cold.appender.append([r])));
    const other = instance();
    coldFetch.push(await time(() => other.reader.fetchBatches('t', 0, 0, { maxBytes: 1 << 16 })));
  }
  metrics.cold_produce_p50_ms = round(quantile(coldProduce, 0.5), 1);
  metrics.cold_fetch_p50_ms = round(quantile(coldFetch, 0.5), 1);
  rows.push(['cold produce (first request)', metrics.cold_produce_p50_ms, '', '', '', '', '']);
  rows.push(['cold fetch (first request)', metrics.cold_fetch_p50_ms, '', '', '', '', '']);
  void topic;
  printTable(rows);
  console.log(`wrote ${writeResults('latency', metrics)}`);
}
