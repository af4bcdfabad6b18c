/**
 * Snappy as Kafka uses it: xerial snappy-java's block framing, which the Java client writes
 * (SnappyOutputStream) and every client can read:
 *
 *   magic   [0x82 'S' 'N' 'A' 'P' 'P' 'Y' 0x00]  8 bytes
 *   version int32 BE (1)
 *   compat  int32 BE (1)
 *   blocks  { length int32 BE, raw snappy block[length] } ...   each block ≤ 32 KiB uncompressed
 *
 * A raw snappy block starts with its uncompressed length as an unsigned varint. Decode also
 * accepts one raw block without framing, as kafkajs-snappy writes (snappy-java reads that
 * too). That leading length lets us refuse oversized output before allocating it.
 */
import { CorruptRecordError, SluiceError } from '../errors.js';
import { lazyModule } from './lazy.js';

interface SnappyModule {
  compressSync(data: Uint8Array): Buffer;
  uncompressSync(data: Uint8Array, options?: { asBuffer?: boolean }): Buffer | string;
}

const snappy = lazyModule<SnappyModule>('snappy');

const XERIAL_MAGIC = [0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00] as const;
const XERIAL_HEADER_SIZE = 16;
/** snappy-java's default block size (SnappyOutputStream), which Kafka's Java client uses. */
const XERIAL_BLOCK_SIZE = 32 * 1024;

/** Compresses `data` into xerial-framed snappy, as the Java client does. */
export function snappyCompress(data: Uint8Array): Uint8Array {
  const { compressSync } = snappy();
  const blocks: Buffer[] = [];
  let total = XERIAL_HEADER_SIZE;
  for (let start = 0; start < data.length; start += XERIAL_BLOCK_SIZE) {
    const block = compressSync(data.subarray(start, Math.min(data.length, start + XERIAL_BLOCK_SIZE)));
    blocks.push(block);
    total += 4 + block.length;
  }
  const out = Buffer.allocUnsafe(total);
  out.set(XERIAL_MAGIC, 0);
  out.writeInt32BE(1, 8);
  out.writeInt32BE(1, 12);
  let pos = XERIAL_HEADER_SIZE;
  for (const block of blocks) {
    out.writeInt32BE(block.length, pos);
    out.set(block, pos + 4);
    pos += 4 + block.length;
  }
  return out;
}

/** Decompresses xerial-framed or raw snappy; throws CorruptRecordError beyond `maxBytes` of output. */
export function snappyDecompress(data: Uint8Array, maxBytes: number): Uint8Array {
  if (!isXerial(data)) return rawBlock(data, maxBytes);
  const blocks: Uint8Array[] = [];
  let total = 0;
  let pos = XERIAL_HEADER_SIZE;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  while (pos < data.length) {
    if (pos + 4 > data.length) throw new CorruptRecordError('snappy: truncated xerial block length');
    const length = view.getInt32(pos);
    pos += 4;
    if (length < 0 || length > data.length - pos)
      throw new CorruptRecordError('snappy: bad xerial block length');
    const block = rawBlock(data.subarray(pos, pos + length), maxBytes - total);
    total += block.length;
    blocks.push(block);
    pos += length;
  }
  if (blocks.length === 1) return blocks[0]!;
  return Buffer.concat(blocks, total);
}

function isXerial(data: Uint8Array): boolean {
  if (data.length < XERIAL_HEADER_SIZE) return false;
  for (let i = 0; i < XERIAL_MAGIC.length; i++) if (data[i] !== XERIAL_MAGIC[i]) return false;
  return true;
}

function rawBlock(block: Uint8Array, maxBytes: number): Uint8Array {
  const declared = uncompressedLength(block);
  if (declared > maxBytes) {
    throw new CorruptRecordError(
      `snappy: block declares ${declared} bytes, more than the ${maxBytes} allowed`,
    );
  }
  let out: Buffer | string;
  try {
    out = snappy().uncompressSync(block, { asBuffer: true });
  } catch (cause) {
    if (cause instanceof SluiceError) throw cause; // corrupt, or the codec is not installed
    throw new CorruptRecordError('snappy: invalid compressed block', { cause });
  }
  if (typeof out === 'string' || out.length !== declared) {
    throw new CorruptRecordError('snappy: block does not match its declared length');
  }
  return out;
}

/** The unsigned varint (≤ 32 bits) that opens every raw snappy block. */
function uncompressedLength(block: Uint8Array): number {
  let value = 0;
  for (let i = 0; i < 5; i++) {
    if (i >= block.length) break;
    const b = block[i]!;
    value += (b & 0x7f) * 2 ** (7 * i);
    if (b < 0x80) return value;
  }
  throw new CorruptRecordError('snappy: bad block length preamble');
}
