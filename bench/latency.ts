/**
 * `npm run bench -- latency [--requests=N]`: produce and fetch latency of the engine over
 * the modelled S3 and DynamoDB (storage/modelled.ts, published latencies), against the
 * floor of the same calls made directly: produce = one PUT then one transaction of the
 * same items; fetch = head read + index query + ranged GET. Small (10 × 100 B) and 1 MiB
 * (1,000 × 1 KiB) requests, one at a time on a warm instance; the first request of a
 * fresh instance (cold: topic metadata not cached yet) is reported apart.
 *
 * Modelled time is virtual (bench/lib.ts VirtualClock); the CPU the engine spends is real:
 * each request's latency is its virtual time plus the process's CPU time during it, for
 * system and floor alike (CPU rather than wall time: this machine is shared, and its wall
 * time mostly measured the other processes — single requests 100+ ms late).
 * System and floor draw their store latencies from the same numbers (common random numbers:
 * the stores' generator is reseeded with the request's seed before each side runs), so a
 * request that makes the floor's calls in the floor's order waits exactly the floor's
 * modelled time, and Δ is what the engine adds: its CPU, and any call the floor does not
 * make or makes in parallel. Without it, p99 over a few hundred requests compared two
 * different draws of S3's tail (±50 ms of noise).
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
  /** The stores' latency draws, reseeded per request by {@link reseed}. */
  let draws = seededRandom(0);
  const reseed = (seed: number) => {
    draws = seededRandom(seed);
  };
  const storeRandom = () => draws();
  const meta = new ModelledMetaStore(new MemoryMetaStore(), { clock, random: storeRandom });
  const stored = new MemoryObjectStore();
  const objects = new ModelledObjectStore(stored, { clock, random: storeRandom });
  /** Drops every object read already: 600 MiB of kept 1 MiB objects made GC pauses the p99. */
  const dropObjects = async () => {
    const page = await stored.list('');
    await stored.delete(page.objects.map((o) => o.key));
  };
  const topic = await clock.run(new Topics(meta, { clock, random }).create('t', 2));
  // Catalog reads (a cold instance's topic lookup, the cache's background refresh) draw from
  // a stream of their own, so that they leave the data path's draws paired with the floor's.
  const catalog = new ModelledMetaStore(meta.inner, { clock, random: seededRandom(12) });
  const instance = () => {
    const topics = new Topics(catalog, { clock, random });
    return {
      appender: new Appender({ meta, objects, topics, clock, random }),
      reader: new Reader({ meta, objects, topics, clock }),
    };
  };
  /**
   * Virtual plus CPU milliseconds of `fn`, its store latencies drawn from `seed`. CPU, not
   * wall: on a shared machine wall time mostly measures the other processes.
   */
  const time = async (seed: number, fn: () => Promise<unknown>): Promise<number> => {
    reseed(seed);
    const v0 = clock.now();
    const c0 = process.cpuUsage();
    await clock.run(fn());
    const cpu = process.cpuUsage(c0);
    return clock.now() - v0 + (cpu.user + cpu.system) / 1000;
  };
  /** The floor's state: a partition of its own per case, written with the bare calls. */
  const floors = new Map<string, { version: number; next: number; keys: string[] }>();
  /** Floor of a produce: the same PUT, then one transaction of the same three items. */
  const floorProduce = async (name: string, bytes: Uint8Array, records: number): Promise<void> => {
    const f = floors.get(name) ?? { version: 0, next: 0, keys: [] };
    floors.set(name, f);
    const key = objectKeys.segment(`floor-${name}-${f.keys.length}`);
    await objects.put(key, bytes);
    await meta.transact([
      {
        type: 'put',
        key: { pk: `floor-${name}`, sk: 'head' },
        data: { next: f.next + records, start: 0, size: 0, p: {} },
        condition: f.version === 0 ? { absent: true } : { version: f.version },
      },
      {
        type: 'put',
        key: { pk: `floor-${name}`, sk: `i${String(f.next + records - 1).padStart(20, '0')}` },
        data: { o: key, pos: 0, len: bytes.length, base: f.next },
        condition: { absent: true },
      },
      { type: 'put', key: keys.objectRef(key), data: { refs: 1 }, condition: { absent: true } },
    ]);
    f.version++;
    f.next += records;
    f.keys.push(key);
  };
  /** Floor of a fetch of the last batch written: head read, then index query, then ranged GET. */
  const floorFetch = async (name: string, length: number): Promise<void> => {
    const f = floors.get(name)!;
    await meta.get({ pk: `floor-${name}`, sk: 'head' });
    await meta.query(`floor-${name}`, { gte: `i${String(f.next - 1).padStart(20, '0')}` }, { limit: 1 });
    await objects.get(f.keys.at(-1)!, { start: 0, end: length });
  };
  const segmentOf = (r: AppendRun) =>
    encodeSegment([{ topic: r.topic, partition: 9, batches: r.batches.map((b) => b.bytes) }]).bytes;
  const runOf = (partition: number, size: { records: number; bytes: number }): AppendRun => {
    const value = new Uint8Array(size.bytes).fill(3);
    return {
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
    };
  };
  const metrics: Record<string, number> = { requests };
  const rows: (string | number)[][] = [
    ['case', 'p50 ms', 'p99 ms', 'floor p50', 'floor p99', 'Δp50', 'Δp99', 'paired Δ p50', 'paired Δ p99'],
  ];
  const report = (k: string, system: number[], floor: number[]) => {
    const s50 = quantile(system, 0.5);
    const s99 = quantile(system, 0.99);
    const f50 = quantile(floor, 0.5);
    const f99 = quantile(floor, 0.99);
    const d = system.map((v, i) => v - floor[i]!);
    Object.assign(metrics, {
      [`${k}_p50_ms`]: round(s50, 1),
      [`${k}_p99_ms`]: round(s99, 1),
      [`${k}_floor_p50_ms`]: round(f50, 1),
      [`${k}_floor_p99_ms`]: round(f99, 1),
      [`${k}_delta_p50_ms`]: round(s50 - f50, 1),
      [`${k}_delta_p99_ms`]: round(s99 - f99, 1),
      [`${k}_paired_delta_p50_ms`]: round(quantile(d, 0.5), 2),
      [`${k}_paired_delta_p99_ms`]: round(quantile(d, 0.99), 2),
    });
    rows.push([
      k,
      round(s50, 1),
      round(s99, 1),
      round(f50, 1),
      round(f99, 1),
      round(s50 - f50, 1),
      round(s99 - f99, 1),
      round(quantile(d, 0.5), 2),
      round(quantile(d, 0.99), 2),
    ]);
  };
  const warm = instance();
  let seed = 1;
  for (const [name, size] of Object.entries(SIZES)) {
    const partition = name === 'small' ? 0 : 1;
    const produce: number[] = [];
    const produceFloor: number[] = [];
    const fetch: number[] = [];
    const fetchFloor: number[] = [];
    // One request body for every round: the bench's own 1 MiB allocations would otherwise
    // bring on collections that land inside the timed requests.
    const r = runOf(partition, size);
    const bytes = segmentOf(r);
    for (let i = 0; i < requests; i++) {
      const produceSeed = seed++;
      const fetchSeed = seed++;
      let base = 0;
      produce.push(
        await time(produceSeed, async () => {
          base = (await warm.appender.append([r]))[0]!.baseOffset;
        }),
      );
      produceFloor.push(await time(produceSeed, () => floorProduce(name, bytes, size.records)));
      fetch.push(
        await time(fetchSeed, () => warm.reader.fetchBatches('t', partition, base, { maxBytes: 2 << 20 })),
      );
      fetchFloor.push(await time(fetchSeed, () => floorFetch(name, bytes.length)));
      await dropObjects();
    }
    report(`produce_${name}`, produce, produceFloor);
    report(`fetch_${name}`, fetch, fetchFloor);
  }
  // Cold instances: the first produce and the first fetch of a fresh instance (topic
  // metadata and heads not cached yet), small requests, against the same floor.
  const coldProduce: number[] = [];
  const coldProduceFloor: number[] = [];
  const coldFetch: number[] = [];
  const coldFetchFloor: number[] = [];
  for (let i = 0; i < 20; i++) {
    const r = runOf(0, SIZES.small);
    const bytes = segmentOf(r);
    const produceSeed = seed++;
    const fetchSeed = seed++;
    const cold = instance();
    let base = 0;
    coldProduce.push(
      await time(produceSeed, async () => {
        base = (await cold.appender.append([r]))[0]!.baseOffset;
      }),
    );
    coldProduceFloor.push(await time(produceSeed, () => floorProduce('small', bytes, SIZES.small.records)));
    const other = instance();
    coldFetch.push(
      await time(fetchSeed, () => other.reader.fetchBatches('t', 0, base, { maxBytes: 1 << 16 })),
    );
    coldFetchFloor.push(await time(fetchSeed, () => floorFetch('small', bytes.length)));
  }
  report('cold_produce_small', coldProduce, coldProduceFloor);
  report('cold_fetch_small', coldFetch, coldFetchFloor);
  void topic;
  printTable(rows);
  console.log(`wrote ${writeResults('latency', metrics)}`);
}
