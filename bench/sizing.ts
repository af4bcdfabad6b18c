/**
 * What the SDK's batch sizing (issue 12 §3) costs a producer: `buildRequest` — records cut
 * into batches under the topic's `max.message.bytes` after compression, sequences
 * numbered — against its baseline in the same process, one `encodeBatch` of the same
 * records (what the SDK did before, for a request under the default limit). 1 MiB
 * requests of 1 KiB records on one partition; uncompressed and zstd; at the default limit
 * (one batch) and at a 64 KiB limit (16+ batches). Medians over interleaved rounds; CPU-time
 * ratios alongside, as the machine may be shared. Writes bench/results/sizing.json.
 *
 *   npm run bench -- sizing [--rounds=21] [--records=1000] [--value-bytes=1024]
 */
import { seededRandom } from '../core/clock.js';
import { Compression, encodeBatch, type RecordInput } from '../core/records/index.js';
import { parseProduceFrames } from '../core/wire.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../sdk/api.js';
import { buildRequest, type Job, type QueuedRecord, tpKey } from '../sdk/producer/request.js';
import { recordBound } from '../sdk/producer/sizing.js';
import { median, numberArg, printTable, round, sample, writeResults } from './lib.js';

const WORDS = 'order user click view cart item price sku region eu us ok true false id ts session page'.split(
  ' ',
);

function makeRecords(count: number, valueBytes: number): RecordInput[] {
  const random = seededRandom(42);
  return Array.from({ length: count }, (_, i) => {
    let text = '';
    while (text.length < valueBytes)
      text += `"${WORDS[Math.floor(random() * WORDS.length)]}":${Math.floor(random() * 1e6)},`;
    return {
      key: Buffer.from(`user-${i}`),
      value: Buffer.from(text.slice(0, valueBytes)),
      timestamp: 1_700_000_000_000 + i,
    };
  });
}

function job(records: RecordInput[], limit: number, compression: Compression): Job {
  const queued: QueuedRecord[] = records.map((record, index) => ({
    topic: 'events',
    partition: 0,
    record,
    size: recordBound(record),
    limit,
    index,
    topicIndex: 0,
  }));
  return {
    records: queued,
    partitions: new Set([tpKey('events', 0)]),
    bytes: 0,
    compression,
    at: 0,
    alone: false,
    resolve: () => {},
    reject: () => {},
  };
}

export async function run(args: string[]): Promise<void> {
  const rounds = numberArg(args, 'rounds', 21);
  const count = numberArg(args, 'records', 1000);
  const valueBytes = numberArg(args, 'value-bytes', 1024);
  const records = makeRecords(count, valueBytes);
  const identity = { producerId: 7n, epoch: 0, sequences: new Map<string, number>() };
  const now = 1_700_000_000_000;
  const cases: [string, Compression, number][] = [
    ['none, default limit', Compression.None, DEFAULT_MAX_MESSAGE_BYTES],
    ['none, 64 KiB limit', Compression.None, 64 * 1024],
    ['zstd, default limit', Compression.Zstd, DEFAULT_MAX_MESSAGE_BYTES],
    ['zstd, 64 KiB limit', Compression.Zstd, 64 * 1024],
  ];
  const metrics: Record<string, number> = {};
  const rows: (string | number)[][] = [
    ['case', 'baseline ms', 'sized ms', 'ratio (wall)', 'ratio (CPU)', 'batches'],
  ];
  for (const [name, compression, limit] of cases) {
    const j = job(records, limit, compression);
    const baseline = () =>
      encodeBatch(records, { compression, now, producerId: 7n, producerEpoch: 0, baseSequence: 0 });
    const sized = () => buildRequest([j], identity, now);
    const iterations = compression === Compression.None ? 10 : 3;
    await sample(baseline, iterations);
    await sample(sized, iterations);
    const wall = { baseline: [] as number[], sized: [] as number[] };
    const cpu = { baseline: [] as number[], sized: [] as number[] };
    for (let r = 0; r < rounds; r++) {
      for (const [k, fn] of [
        ['baseline', baseline],
        ['sized', sized],
      ] as const) {
        const s = await sample(fn, iterations);
        wall[k].push(s.wallMs);
        cpu[k].push(s.cpuMs);
      }
    }
    const batches = parseProduceFrames(sized().body).length;
    const ratio = median(wall.sized) / median(wall.baseline);
    const cpuRatio = median(cpu.sized) / median(cpu.baseline);
    const key = name.replace(/[^a-z0-9]+/gi, '_').replace(/_+$/, '');
    metrics[`${key}.baselineMs`] = round(median(wall.baseline), 3);
    metrics[`${key}.sizedMs`] = round(median(wall.sized), 3);
    metrics[`${key}.ratio`] = round(ratio);
    metrics[`${key}.cpuRatio`] = round(cpuRatio);
    metrics[`${key}.batches`] = batches;
    rows.push([
      name,
      round(median(wall.baseline), 2),
      round(median(wall.sized), 2),
      `${round(ratio)}×`,
      `${round(cpuRatio)}×`,
      batches,
    ]);
  }
  console.log(
    `sizing: ${count} records × ${valueBytes} B on one partition, ${rounds} rounds, node ${process.version}\n`,
  );
  printTable(rows);
  console.log(`\nwrote ${writeResults('sizing', metrics)}`);
}
