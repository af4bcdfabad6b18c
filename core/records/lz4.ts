/**
 * LZ4 as Kafka uses it since KIP-57: the standard LZ4 frame format with independent blocks.
 *
 *   magic      0x184D2204 (LE)                 4 bytes
 *   FLG        version(2) indep(1) blockChecksum(1) contentSize(1) contentChecksum(1) 0 dictId(1)
 *   BD         0 blockMaxSize(3) 0000          4 → 64 KiB … 7 → 4 MiB
 *   [content size u64 LE] [dict id u32 LE]  HC (1 byte)
 *   blocks     { size u32 LE (high bit: stored uncompressed), data[size], [checksum u32] } ...
 *   end mark   u32 0, [content checksum u32]
 *
 * Skippable frames (magic 0x184D2A50–5F, u32 LE size, payload) may sit between frames.
 * Before decompressing, the frame structure is walked to bound the output: a compressed block
 * never inflates beyond the frame's block max size, so hostile input is refused up front.
 */
import { CorruptRecordError } from '../errors.js';
import { lazyModule } from './lazy.js';

interface Lz4Module {
  compressFrameSync(data: Buffer): Buffer;
  decompressFrameSync(data: Buffer): Buffer;
}

const lz4 = lazyModule<Lz4Module>('lz4-napi');

const FRAME_MAGIC = 0x184d2204;
const BLOCK_MAX_SIZES = [0, 0, 0, 0, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024] as const;

/** Compresses `data` into one LZ4 frame (independent 64 KiB blocks, readable by the Java client). */
export function lz4Compress(data: Uint8Array): Uint8Array {
  return lz4().compressFrameSync(asBuffer(data));
}

/** Decompresses LZ4 frames; throws CorruptRecordError if they could inflate beyond `maxBytes`. */
export function lz4Decompress(data: Uint8Array, maxBytes: number): Uint8Array {
  const bound = lz4OutputBound(data);
  if (bound > maxBytes) {
    throw new CorruptRecordError(
      `lz4: frame may inflate to ${bound} bytes, more than the ${maxBytes} allowed`,
    );
  }
  let out: Buffer;
  try {
    out = lz4().decompressFrameSync(asBuffer(data));
  } catch (cause) {
    if (cause instanceof CorruptRecordError) throw cause;
    throw new CorruptRecordError('lz4: invalid frame', { cause });
  }
  if (out.length > maxBytes) throw new CorruptRecordError(`lz4: output exceeds ${maxBytes} bytes`);
  return out;
}

/** Walks the frames and returns the most bytes they can decompress to; throws on a malformed structure. */
export function lz4OutputBound(data: Uint8Array): number {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let pos = 0;
  let bound = 0;
  if (data.length === 0) throw new CorruptRecordError('lz4: empty input');
  while (pos < data.length) {
    need(data, pos, 4);
    const magic = view.getUint32(pos, true);
    pos += 4;
    if ((magic & 0xfffffff0) === 0x184d2a50) {
      need(data, pos, 4);
      const size = view.getUint32(pos, true);
      pos += 4;
      need(data, pos, size);
      pos += size;
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
    const blockChecksum = (flg & 0x10) !== 0;
    pos += ((flg & 0x08) !== 0 ? 8 : 0) + ((flg & 0x01) !== 0 ? 4 : 0) + 1;
    for (;;) {
      need(data, pos, 4);
      const word = view.getUint32(pos, true);
      pos += 4;
      if (word === 0) break;
      const stored = word >= 0x80000000;
      const size = word & 0x7fffffff;
      if (size > blockMax) throw new CorruptRecordError('lz4: block larger than the frame block size');
      pos += size + (blockChecksum ? 4 : 0);
      need(data, pos, 0);
      bound += stored ? size : blockMax;
    }
    if ((flg & 0x04) !== 0) pos += 4;
    need(data, pos, 0);
  }
  return bound;
}

function need(data: Uint8Array, pos: number, n: number): void {
  if (pos + n > data.length) throw new CorruptRecordError('lz4: truncated frame');
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}
