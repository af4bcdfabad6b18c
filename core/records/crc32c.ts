import { crc32c as nativeCrc32c } from '@node-rs/crc32';

/**
 * CRC32C (Castagnoli), the checksum of Kafka's RecordBatch v2 and of segment objects.
 * Native (SSE4.2 / ARMv8 CRC instructions), so checking every batch on every decode is cheap.
 *
 * @example
 * crc32c(new TextEncoder().encode('123456789')); // 0xe3069283
 */
export function crc32c(bytes: Uint8Array): number {
  return nativeCrc32c(bytes) >>> 0;
}
