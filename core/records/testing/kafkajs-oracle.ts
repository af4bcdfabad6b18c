/**
 * kafkajs as an independent peer for compatibility tests and the codec benchmark: its own
 * RecordBatch v2 encoder/decoder (kafkajs/src/protocol/recordBatch/v0), with snappy, lz4 and
 * zstd codecs registered through its CompressionCodecs map as thin adapters over the npm
 * libraries (the way kafkajs-snappy, kafkajs-lz4 and @kafkajs/zstd plug in). The adapters
 * deliberately do not reuse our compression code, so the oracle stays independent.
 *
 * Test and bench only: kafkajs is a devDependency and runtime code never imports this file.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface KafkajsEncoder {
  buffer: Buffer;
}
interface KafkajsRecordOut {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | null | (Buffer | null)[]>;
}
/** What kafkajs's batch decoder returns (the fields we compare). */
export interface KafkajsBatchOut {
  firstOffset: string;
  firstTimestamp: string;
  maxTimestamp: string;
  partitionLeaderEpoch: number;
  inTransaction: boolean;
  isControlBatch: boolean;
  lastOffsetDelta: number;
  producerId: string;
  producerEpoch: number;
  firstSequence: number;
  timestampType: number;
  records: KafkajsRecordOut[];
}

/** A record as kafkajs's encoder takes it: headers as an object, repeated keys as arrays. */
export interface KafkajsRecordIn {
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, Buffer | Buffer[]>;
  timestamp: number;
}

export interface KafkajsBatchIn {
  compression: number;
  baseOffset: number;
  partitionLeaderEpoch: number;
  transactional: boolean;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  records: KafkajsRecordIn[];
}

type Codec = { compress(e: KafkajsEncoder): Promise<Buffer>; decompress(b: Buffer): Promise<Buffer> };

const Long = require('kafkajs/src/utils/long') as {
  fromValue(v: unknown): unknown;
  fromString(s: string): unknown;
};
const Decoder = require('kafkajs/src/protocol/decoder') as new (buffer: Buffer) => unknown;
const decodeRecordBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder') as (
  d: unknown,
) => Promise<KafkajsBatchOut>;
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0') as {
  RecordBatch(args: Record<string, unknown>): Promise<KafkajsEncoder>;
};
const Record = require('kafkajs/src/protocol/recordBatch/record/v0') as (
  args: Record<string, unknown>,
) => unknown;
const { CompressionCodecs, CompressionTypes } = require('kafkajs') as {
  CompressionCodecs: Record<number, () => Codec>;
  CompressionTypes: Record<'GZIP' | 'Snappy' | 'LZ4' | 'ZSTD', number>;
};

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);

/** Registers snappy/lz4/zstd adapters in kafkajs (gzip is built in). Idempotent. */
export function registerKafkajsCodecs(): void {
  const snappy = require('snappy') as {
    compressSync(b: Buffer): Buffer;
    uncompressSync(b: Buffer, o: { asBuffer: true }): Buffer;
  };
  const lz4 = require('lz4-napi') as {
    compressFrameSync(b: Buffer): Buffer;
    decompressFrameSync(b: Buffer): Buffer;
  };
  const zstd = require('zstd-napi') as { compress(b: Buffer): Buffer; decompress(b: Buffer): Buffer };
  // As kafkajs-snappy: writes one raw snappy block, reads raw or xerial-framed.
  const snappyCodec: Codec = {
    compress: async (e) => snappy.compressSync(e.buffer),
    async decompress(b) {
      if (b.length < 16 || !b.subarray(0, 8).equals(XERIAL_MAGIC))
        return snappy.uncompressSync(b, { asBuffer: true });
      const parts: Buffer[] = [];
      for (let pos = 16; pos + 4 <= b.length; ) {
        const size = b.readUInt32BE(pos);
        parts.push(snappy.uncompressSync(b.subarray(pos + 4, pos + 4 + size), { asBuffer: true }));
        pos += 4 + size;
      }
      return Buffer.concat(parts);
    },
  };
  const lz4Codec: Codec = {
    compress: async (e) => lz4.compressFrameSync(e.buffer),
    decompress: async (b) => lz4.decompressFrameSync(b),
  };
  const zstdCodec: Codec = {
    compress: async (e) => zstd.compress(e.buffer),
    decompress: async (b) => zstd.decompress(b),
  };
  CompressionCodecs[CompressionTypes.Snappy] = () => snappyCodec;
  CompressionCodecs[CompressionTypes.LZ4] = () => lz4Codec;
  CompressionCodecs[CompressionTypes.ZSTD] = () => zstdCodec;
}

/** Decodes one batch with kafkajs's RecordBatch v2 decoder. */
export function kafkajsDecode(bytes: Uint8Array): Promise<KafkajsBatchOut> {
  return decodeRecordBatch(new Decoder(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)));
}

/** Encodes one batch with kafkajs's RecordBatch v2 encoder, as its producer does. */
export async function kafkajsEncode(batch: KafkajsBatchIn): Promise<Buffer> {
  const first = batch.records[0]?.timestamp ?? 0;
  const max = batch.records.reduce((m, r) => Math.max(m, r.timestamp), Number.NEGATIVE_INFINITY);
  const encoder = await RecordBatch({
    compression: batch.compression,
    firstOffset: Long.fromValue(batch.baseOffset),
    firstTimestamp: first,
    maxTimestamp: max,
    partitionLeaderEpoch: batch.partitionLeaderEpoch,
    lastOffsetDelta: batch.records.length - 1,
    transactional: batch.transactional,
    producerId: Long.fromString(batch.producerId.toString()),
    producerEpoch: batch.producerEpoch,
    firstSequence: batch.baseSequence,
    records: batch.records.map((r, i) =>
      Record({
        offsetDelta: i,
        timestampDelta: r.timestamp - first,
        key: r.key,
        value: r.value,
        headers: r.headers,
      }),
    ),
  });
  return encoder.buffer;
}
