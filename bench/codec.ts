/**
 * Record codec throughput, ours against kafkajs in one process: the same 1,000 records of
 * 1 KiB encoded and decoded by both, uncompressed and zstd (kafkajs gets a zstd-napi codec,
 * as @kafkajs/zstd would give it). MB/s are over the uncompressed batch size in both cases,
 * medians over interleaved rounds (wall clock); the CPU-time ratios are printed alongside
 * because this machine may be shared. Writes bench/results/codec.json.
 *
 *   npm run bench -- codec [--rounds=21] [--records=1000] [--value-bytes=1024]
 */
import { seededRandom } from '../core/clock.js';
import { Compression, decodeBatch, encodeBatch, type RecordInput } from '../core/records/index.js';
import {
  type KafkajsRecordIn,
  kafkajsDecode,
  kafkajsEncode,
  registerKafkajsCodecs,
} from '../core/records/testing/kafkajs-oracle.js';
import { mbPerSecond, median, numberArg, printTable, round, sample, writeResults } from './lib.js';

const WORDS = 'order user click view cart item price sku region eu us ok true false id ts session page'.split(
  ' ',
);

/** JSON-ish values from a seeded generator: compressible like real events, not trivially. */
function makeRecords(count: number, valueBytes: number): RecordInput[] {
  const random = seededRandom(42);
  const t0 = 1_700_000_000_000;
  return Array.from({ length: count }, (_, i) => {
    let text = '';
    while (text.length < valueBytes) {
      text += `"${WORDS[Math.floor(random() * WORDS.length)]}":${Math.floor(random() * 1e6)},`;
    }
    return {
      key: Buffer.from(`user-${Math.floor(random() * 1e6)}`),
      value: Buffer.from(text.slice(0, valueBytes)),
      headers: [{ key: 'trace-id', value: Buffer.from(`t${i}`) }],
      timestamp: t0 + i,
    };
  });
}

function asKafkajs(records: readonly RecordInput[]): KafkajsRecordIn[] {
  return records.map((r) => ({
    key: r.key ? Buffer.from(r.key) : null,
    value: r.value ? Buffer.from(r.value) : null,
    headers: Object.fromEntries((r.headers ?? []).map((h) => [h.key, Buffer.from(h.value!)])),
    timestamp: r.timestamp!,
  }));
}

interface Figures {
  encode: number;
  decode: number;
  kafkajsEncode: number;
  kafkajsDecode: number;
  /** kafkajs time / our time, in process CPU time: robust to other processes' load. */
  cpuEncodeRatio: number;
  cpuDecodeRatio: number;
  batchBytes: number;
}

async function measure(records: RecordInput[], compression: Compression, rounds: number): Promise<Figures> {
  const theirRecords = asKafkajs(records);
  const kafkajsBatch = {
    compression,
    baseOffset: 0,
    partitionLeaderEpoch: -1,
    transactional: false,
    producerId: -1n,
    producerEpoch: -1,
    baseSequence: -1,
  };
  const ours = encodeBatch(records, { compression });
  const theirs = await kafkajsEncode({ ...kafkajsBatch, records: theirRecords });
  // Each side must read the other's batch, or the comparison means nothing.
  if (decodeBatch(theirs).records.length !== records.length) throw new Error('we cannot read kafkajs batch');
  if ((await kafkajsDecode(ours)).records.length !== records.length)
    throw new Error('kafkajs cannot read our batch');

  const logicalBytes = encodeBatch(records).length;
  const iterations = compression === Compression.None ? 10 : 3;
  const cases = {
    encode: () => encodeBatch(records, { compression }),
    kafkajsEncode: () => kafkajsEncode({ ...kafkajsBatch, records: asKafkajs(records) }),
    decode: () => decodeBatch(ours),
    kafkajsDecode: () => kafkajsDecode(theirs),
  };
  type Case = keyof typeof cases;
  const wall: Record<Case, number[]> = { encode: [], kafkajsEncode: [], decode: [], kafkajsDecode: [] };
  const cpu: Record<Case, number[]> = { encode: [], kafkajsEncode: [], decode: [], kafkajsDecode: [] };
  for (const fn of Object.values(cases)) await sample(fn, iterations); // warm-up
  // Rounds interleave the four cases so that load from other processes hits them alike.
  for (let r = 0; r < rounds; r++) {
    for (const name of Object.keys(cases) as Case[]) {
      const { wallMs, cpuMs } = await sample(cases[name], iterations);
      wall[name].push(wallMs);
      cpu[name].push(cpuMs);
    }
  }
  const rate = (ms: number[]) => mbPerSecond(logicalBytes, median(ms));
  return {
    encode: rate(wall.encode),
    decode: rate(wall.decode),
    kafkajsEncode: rate(wall.kafkajsEncode),
    kafkajsDecode: rate(wall.kafkajsDecode),
    cpuEncodeRatio: median(cpu.kafkajsEncode) / median(cpu.encode),
    cpuDecodeRatio: median(cpu.kafkajsDecode) / median(cpu.decode),
    batchBytes: ours.length,
  };
}

function row(
  name: string,
  ours: number,
  theirs: number,
  cpuRatio: number,
  bytes: number,
): (string | number)[] {
  return [name, round(ours, 1), round(theirs, 1), `${round(ours / theirs)}×`, `${round(cpuRatio)}×`, bytes];
}

export async function run(args: string[]): Promise<void> {
  const rounds = numberArg(args, 'rounds', 21);
  const count = numberArg(args, 'records', 1000);
  const valueBytes = numberArg(args, 'value-bytes', 1024);
  registerKafkajsCodecs();
  const records = makeRecords(count, valueBytes);

  const plain = await measure(records, Compression.None, rounds);
  const zstd = await measure(records, Compression.Zstd, rounds);

  console.log(`codec: ${count} records × ${valueBytes} B, ${rounds} rounds, node ${process.version}\n`);
  printTable([
    ['case', 'ours MB/s', 'kafkajs MB/s', 'ratio', 'ratio (CPU time)', 'batch bytes'],
    row('encode', plain.encode, plain.kafkajsEncode, plain.cpuEncodeRatio, plain.batchBytes),
    row('decode', plain.decode, plain.kafkajsDecode, plain.cpuDecodeRatio, plain.batchBytes),
    row('zstd encode', zstd.encode, zstd.kafkajsEncode, zstd.cpuEncodeRatio, zstd.batchBytes),
    row('zstd decode', zstd.decode, zstd.kafkajsDecode, zstd.cpuDecodeRatio, zstd.batchBytes),
  ]);

  const path = writeResults('codec', {
    encode_ratio: round(plain.encode / plain.kafkajsEncode),
    decode_ratio: round(plain.decode / plain.kafkajsDecode),
    encode_mb_s: round(plain.encode, 1),
    decode_mb_s: round(plain.decode, 1),
    kafkajs_encode_mb_s: round(plain.kafkajsEncode, 1),
    kafkajs_decode_mb_s: round(plain.kafkajsDecode, 1),
    zstd_encode_ratio: round(zstd.encode / zstd.kafkajsEncode),
    zstd_decode_ratio: round(zstd.decode / zstd.kafkajsDecode),
    zstd_encode_mb_s: round(zstd.encode, 1),
    zstd_decode_mb_s: round(zstd.decode, 1),
    zstd_kafkajs_encode_mb_s: round(zstd.kafkajsEncode, 1),
    zstd_kafkajs_decode_mb_s: round(zstd.kafkajsDecode, 1),
    cpu_encode_ratio: round(plain.cpuEncodeRatio),
    cpu_decode_ratio: round(plain.cpuDecodeRatio),
    zstd_cpu_encode_ratio: round(zstd.cpuEncodeRatio),
    zstd_cpu_decode_ratio: round(zstd.cpuDecodeRatio),
    batch_bytes: plain.batchBytes,
    zstd_batch_bytes: zstd.batchBytes,
    records: count,
    value_bytes: valueBytes,
    rounds,
  });
  console.log(`\nwrote ${path}`);
}
