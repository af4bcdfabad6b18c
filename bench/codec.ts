/**
 * Record codec throughput, ours against kafkajs in one process: the same 1,000 records of
 * 1 KiB encoded and decoded by both, uncompressed and zstd (kafkajs gets a zstd-napi codec,
 * as @kafkajs/zstd would give it). MB/s are over the uncompressed batch size in both cases,
 * medians over rounds. Writes bench/results/codec.json.
 *
 *   npm run bench -- codec [--rounds=15] [--records=1000] [--value-bytes=1024]
 */
import { seededRandom } from '../core/clock.js';
import { Compression, decodeBatch, encodeBatch, type RecordInput } from '../core/records/index.js';
import {
  type KafkajsRecordIn,
  kafkajsDecode,
  kafkajsEncode,
  registerKafkajsCodecs,
} from '../core/records/testing/kafkajs-oracle.js';
import { mbPerSecond, median, numberArg, printTable, round, timeRounds, writeResults } from './lib.js';

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
  const iterations = compression === Compression.None ? 20 : 5;
  // Rounds interleave the four cases so that load from other processes hits them alike.
  const cases = {
    encode: () => encodeBatch(records, { compression }),
    kjsEncode: () => kafkajsEncode({ ...kafkajsBatch, records: asKafkajs(records) }),
    decode: () => decodeBatch(ours),
    kjsDecode: () => kafkajsDecode(theirs),
  };
  const times = {
    encode: [] as number[],
    kjsEncode: [] as number[],
    decode: [] as number[],
    kjsDecode: [] as number[],
  };
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(cases) as [keyof typeof cases, () => unknown][]) {
      times[name].push(...(await timeRounds(fn, { rounds: 1, iterations, warmup: r === 0 ? 2 : 0 })));
    }
  }
  const [encodeMs, kjsEncodeMs, decodeMs, kjsDecodeMs] = [
    times.encode,
    times.kjsEncode,
    times.decode,
    times.kjsDecode,
  ];
  return {
    encode: mbPerSecond(logicalBytes, median(encodeMs)),
    decode: mbPerSecond(logicalBytes, median(decodeMs)),
    kafkajsEncode: mbPerSecond(logicalBytes, median(kjsEncodeMs)),
    kafkajsDecode: mbPerSecond(logicalBytes, median(kjsDecodeMs)),
    batchBytes: ours.length,
  };
}

export async function run(args: string[]): Promise<void> {
  const rounds = numberArg(args, 'rounds', 15);
  const count = numberArg(args, 'records', 1000);
  const valueBytes = numberArg(args, 'value-bytes', 1024);
  registerKafkajsCodecs();
  const records = makeRecords(count, valueBytes);

  const plain = await measure(records, Compression.None, rounds);
  const zstd = await measure(records, Compression.Zstd, rounds);

  console.log(`codec: ${count} records × ${valueBytes} B, ${rounds} rounds, node ${process.version}\n`);
  printTable([
    ['case', 'ours MB/s', 'kafkajs MB/s', 'ratio', 'batch bytes'],
    [
      'encode',
      round(plain.encode, 1),
      round(plain.kafkajsEncode, 1),
      `${round(plain.encode / plain.kafkajsEncode)}×`,
      plain.batchBytes,
    ],
    [
      'decode',
      round(plain.decode, 1),
      round(plain.kafkajsDecode, 1),
      `${round(plain.decode / plain.kafkajsDecode)}×`,
      plain.batchBytes,
    ],
    [
      'zstd encode',
      round(zstd.encode, 1),
      round(zstd.kafkajsEncode, 1),
      `${round(zstd.encode / zstd.kafkajsEncode)}×`,
      zstd.batchBytes,
    ],
    [
      'zstd decode',
      round(zstd.decode, 1),
      round(zstd.kafkajsDecode, 1),
      `${round(zstd.decode / zstd.kafkajsDecode)}×`,
      zstd.batchBytes,
    ],
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
    batch_bytes: plain.batchBytes,
    zstd_batch_bytes: zstd.batchBytes,
    records: count,
    value_bytes: valueBytes,
    rounds,
  });
  console.log(`\nwrote ${path}`);
}
