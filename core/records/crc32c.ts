/**
 * CRC32C (Castagnoli), the checksum of Kafka's RecordBatch v2 and of segment objects.
 *
 * Two backends, chosen on first use: `@node-rs/crc32` (SSE4.2 / ARMv8 CRC instructions) when
 * its native binary loads, else a portable slice-by-8 table implementation. The native package
 * is optional: the SDK and any Lambda bundle work without it (a producer bundle stays small),
 * and a missing or wrong-platform binary never fails an import — it only costs speed.
 */
import { nodeRequire } from './lazy.js';

type Crc32c = (bytes: Uint8Array) => number;

/** The reflected Castagnoli polynomial. */
const POLY = 0x82f63b78;

/** 8 tables of 256 entries: T[k][b] is the CRC of byte b followed by k zero bytes. */
const TABLES = (() => {
  const t = new Int32Array(8 * 256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1;
    t[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    for (let k = 1; k < 8; k++) {
      const prev = t[(k - 1) * 256 + n]!;
      t[k * 256 + n] = (prev >>> 8) ^ t[prev & 0xff]!;
    }
  }
  return t;
})();

/**
 * CRC32C in portable JavaScript (slice-by-8), for runtimes without the native package.
 *
 * @example
 * crc32cPortable(new TextEncoder().encode('123456789')); // 0xe3069283
 */
export function crc32cPortable(bytes: Uint8Array): number {
  const t = TABLES;
  let crc = -1;
  let i = 0;
  const end8 = bytes.length - (bytes.length % 8);
  for (; i < end8; i += 8) {
    const a = (crc ^ (bytes[i]! | (bytes[i + 1]! << 8) | (bytes[i + 2]! << 16) | (bytes[i + 3]! << 24))) | 0;
    crc =
      t[1792 + (a & 0xff)]! ^
      t[1536 + ((a >>> 8) & 0xff)]! ^
      t[1280 + ((a >>> 16) & 0xff)]! ^
      t[1024 + (a >>> 24)]! ^
      t[768 + bytes[i + 4]!]! ^
      t[512 + bytes[i + 5]!]! ^
      t[256 + bytes[i + 6]!]! ^
      t[bytes[i + 7]!]!;
  }
  for (; i < bytes.length; i++) crc = (crc >>> 8) ^ t[(crc ^ bytes[i]!) & 0xff]!;
  return (crc ^ -1) >>> 0;
}

let impl: Crc32c | undefined;
let backend: 'native' | 'portable' | undefined;

function load(): Crc32c {
  try {
    const native = (nodeRequire()('@node-rs/crc32') as { crc32c: (b: Uint8Array) => number }).crc32c;
    backend = 'native';
    return (bytes) => native(bytes) >>> 0;
  } catch {
    backend = 'portable';
    return crc32cPortable;
  }
}

/**
 * CRC32C of `bytes`, unsigned.
 *
 * @example
 * crc32c(new TextEncoder().encode('123456789')); // 0xe3069283
 */
export function crc32c(bytes: Uint8Array): number {
  impl ??= load();
  return impl(bytes);
}

/** Which backend {@link crc32c} uses in this process (loads it if not yet loaded). */
export function crc32cBackend(): 'native' | 'portable' {
  impl ??= load();
  return backend!;
}
