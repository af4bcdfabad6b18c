/**
 * The five codecs of Kafka's `attributes & 0x07`, as synchronous byte-to-byte functions.
 * Native codecs (snappy, lz4-napi, zstd-napi) load on first use, so the uncompressed and
 * gzip paths never need them. Every decompression is bounded: hostile input gets a
 * CorruptRecordError, never a multi-gigabyte allocation.
 */
import * as zlib from 'node:zlib';
import { CorruptRecordError } from '../errors.js';
import { lz4Compress, lz4Decompress } from './lz4.js';
import { snappyCompress, snappyDecompress } from './snappy.js';
import { Compression } from './types.js';
import { zstd } from './zstd.js';

/** Default ceiling on decompressed output: far above any sane batch, far below a memory blow-up. */
export const DEFAULT_MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024;

/**
 * Compresses `data` with `codec` in the framing Kafka's Java client writes.
 *
 * @example
 * const packed = compress(Compression.Zstd, recordsBytes);
 */
export function compress(codec: Compression, data: Uint8Array): Uint8Array {
  switch (codec) {
    case Compression.None:
      return data;
    case Compression.Gzip:
      return zlib.gzipSync(data);
    case Compression.Snappy:
      return snappyCompress(data);
    case Compression.Lz4:
      return lz4Compress(data);
    case Compression.Zstd:
      return zstd.compress(data);
    default:
      throw new CorruptRecordError(`unknown compression codec ${String(codec)}`);
  }
}

/**
 * Decompresses `data`, refusing (CorruptRecordError) output beyond `maxBytes` and any invalid input.
 *
 * @example
 * const records = decompress(header.compression, payload, 8 * 1024 * 1024);
 */
export function decompress(
  codec: Compression,
  data: Uint8Array,
  maxBytes: number = DEFAULT_MAX_DECOMPRESSED_BYTES,
): Uint8Array {
  switch (codec) {
    case Compression.None:
      if (data.length > maxBytes) throw new CorruptRecordError(`records exceed ${maxBytes} bytes`);
      return data;
    case Compression.Gzip:
      try {
        // unzip, as kafkajs does: it also takes a zlib-wrapped stream, which costs nothing to allow.
        return zlib.unzipSync(data, { maxOutputLength: maxBytes });
      } catch (cause) {
        throw new CorruptRecordError(`gzip: invalid stream or output beyond ${maxBytes} bytes`, { cause });
      }
    case Compression.Snappy:
      return snappyDecompress(data, maxBytes);
    case Compression.Lz4:
      return lz4Decompress(data, maxBytes);
    case Compression.Zstd:
      return zstd.decompress(data, maxBytes);
    default:
      throw new CorruptRecordError(`unknown compression codec ${String(codec)}`);
  }
}
