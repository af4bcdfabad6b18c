/**
 * LZ4 as Kafka uses it since KIP-57: the standard LZ4 frame format.
 *
 *   magic      0x184D2204 (LE)                 4 bytes
 *   FLG        version(2) indep(1) blockChecksum(1) contentSize(1) contentChecksum(1) 0 dictId(1)
 *   BD         0 blockMaxSize(3) 0000          4 → 64 KiB … 7 → 4 MiB
 *   [content size u64 LE] [dict id u32 LE]  HC (1 byte)
 *   blocks     { size u32 LE (high bit: stored uncompressed), data[size], [checksum u32] } ...
 *   end mark   u32 0, [content checksum u32]
 *
 * Skippable frames (magic 0x184D2A50–5F, u32 LE size, payload) may sit between frames.
 * Compression is lz4-napi's one-shot frame encoder (independent blocks, which the Java client
 * requires). Decompression walks the frame here and inflates block by block with lz4-napi's
 * raw-block decoder, each into a buffer no larger than the block size or what is left of the
 * output budget: so the limit is exact and hostile input never makes us allocate beyond it.
 * xxHash checksums are not verified: the batch CRC32C already covers the compressed bytes.
 */
import { CorruptRecordError, SluiceError } from '../errors.js';
import { lazyModule } from './lazy.js';

interface Lz4Module {
  compressFrameSync(data: Buffer): Buffer;
  /** lz4_flex "size prepended" block: u32 LE capacity, then the raw block. */
  uncompressSync(data: Uint8Array, dict?: Uint8Array | null): Buffer;
}

const lz4 = lazyModule<Lz4Module>('lz4-napi');

const FRAME_MAGIC = 0x184d2204;
const BLOCK_MAX_SIZES = [0, 0, 0, 0, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024] as const;
/** Linked blocks may refer back this far into earlier output. */
const WINDOW = 64 * 1024;

/** Compresses `data` into one LZ4 frame with independent blocks (readable by the Java client). */
export function lz4Compress(data: Uint8Array): Uint8Array {
  return lz4().compressFrameSync(
    Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength),
  );
}

/** Decompresses LZ4 frames; throws CorruptRecordError on invalid input or output beyond `maxBytes`. */
export function lz4Decompress(data: Uint8Array, maxBytes: number): Uint8Array {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const out: Uint8Array[] = [];
  let total = 0;
  let pos = 0;
  if (data.length === 0) throw new CorruptRecordError('lz4: empty input');
  while (pos < data.length) {
    need(data, pos, 4);
    const magic = view.getUint32(pos, true);
    pos += 4;
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      need(data, pos, 4);
      pos += 4 + view.getUint32(pos, true);
      need(data, pos, 0);
      continue;
    }
    if (magic !== FRAME_MAGIC) throw new CorruptRecordError('lz4: bad frame magic');
    need(data, pos, 2);
    const flg = data[pos]!;
    const bd = data[pos + 1]!;
    pos += 2;
    if (flg >> 6 !== 1) throw new CorruptRecordError('lz4: unsupported frame version');
    const blockMax = BLOCK_MAX_SIZES[(bd >> 4) & 7]!;
    if (blockMax === 0) throw new CorruptRecordError('lz4: bad block max size');
    const independent = (flg & 0x20) !== 0;
    const blockChecksum = (flg & 0x10) !== 0;
    pos += ((flg & 0x08) !== 0 ? 8 : 0) + ((flg & 0x01) !== 0 ? 4 : 0) + 1;
    const frameStart = out.length;
    for (;;) {
      need(data, pos, 4);
      const word = view.getUint32(pos, true);
      pos += 4;
      if (word === 0) break;
      const size = word & 0x7fffffff;
      if (size > blockMax) throw new CorruptRecordError('lz4: block larger than the frame block size');
      need(data, pos, size + (blockChecksum ? 4 : 0));
      const block = data.subarray(pos, pos + size);
      pos += size + (blockChecksum ? 4 : 0);
      const inflated =
        word >= 0x80000000
          ? block
          : inflateBlock(
              block,
              Math.min(blockMax, maxBytes - total + 1),
              independent ? null : window(out, frameStart),
            );
      total += inflated.length;
      if (total > maxBytes) throw new CorruptRecordError(`lz4: output exceeds ${maxBytes} bytes`);
      out.push(inflated);
    }
    if ((flg & 0x04) !== 0) pos += 4;
    need(data, pos, 0);
  }
  return out.length === 1 ? out[0]! : Buffer.concat(out, total);
}

function inflateBlock(block: Uint8Array, capacity: number, dict: Uint8Array | null): Uint8Array {
  const framed = Buffer.allocUnsafe(4 + block.length);
  framed.writeUInt32LE(capacity, 0);
  framed.set(block, 4);
  try {
    return lz4().uncompressSync(framed, dict);
  } catch (cause) {
    if (cause instanceof SluiceError) throw cause; // corrupt, or the codec is not installed
    throw new CorruptRecordError(`lz4: invalid block or one inflating beyond ${capacity} bytes`, { cause });
  }
}

/** The last 64 KiB of this frame's output, the dictionary of a linked block. */
function window(out: readonly Uint8Array[], frameStart: number): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (let i = out.length - 1; i >= frameStart && size < WINDOW; i--) {
    parts.unshift(out[i]!);
    size += out[i]!.length;
  }
  const joined = Buffer.concat(parts, size);
  return joined.subarray(Math.max(0, size - WINDOW));
}

function need(data: Uint8Array, pos: number, n: number): void {
  if (pos + n > data.length) throw new CorruptRecordError('lz4: truncated frame');
}
