/**
 * Test helpers that build deliberately broken batches. "Forging" recomputes the CRC after a
 * mutation so that the bytes get past the checksum and reach the parser, which is what a
 * fuzzer must exercise. Test only.
 */
import { ATTRIBUTES_OFFSET } from '../batch-header.js';
import { crc32c } from '../crc32c.js';

/** A copy of `batch` with its CRC (at offset 17) recomputed over [21, end). */
export function forgeCrc(batch: Uint8Array): Uint8Array {
  const copy = Uint8Array.from(batch);
  if (copy.length < ATTRIBUTES_OFFSET) return copy;
  new DataView(copy.buffer).setUint32(17, crc32c(copy.subarray(ATTRIBUTES_OFFSET)));
  return copy;
}

/** A copy of `bytes` with a big-endian int32 overwritten at `pos` (if it fits). */
export function withInt32(bytes: Uint8Array, pos: number, value: number): Uint8Array {
  const copy = Uint8Array.from(bytes);
  if (pos + 4 <= copy.length) new DataView(copy.buffer).setInt32(pos, value);
  return copy;
}
