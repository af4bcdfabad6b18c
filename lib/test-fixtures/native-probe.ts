/**
 * A stand-in handler for bundling tests: it loads the native packages the way the real code
 * does (a static import of @node-rs/crc32; snappy and lz4-napi through `require` at first use)
 * and answers with their results, so running the bundle proves the packages resolve from it.
 */
import { createRequire } from 'node:module';
import { crc32c } from '@node-rs/crc32';

const require = createRequire(import.meta.url);

export async function handler(): Promise<{ statusCode: number; body: string }> {
  const snappy = require('snappy') as {
    compressSync(b: Uint8Array): Buffer;
    uncompressSync(b: Uint8Array): Buffer;
  };
  const lz4 = require('lz4-napi') as {
    compressSync(b: Uint8Array): Buffer;
    uncompressSync(b: Uint8Array): Buffer;
  };
  const input = Buffer.from('123456789');
  const body = {
    crc32c: crc32c(input) >>> 0,
    snappy: snappy.uncompressSync(snappy.compressSync(input)).toString(),
    lz4: lz4.uncompressSync(lz4.compressSync(input)).toString(),
  };
  return { statusCode: 200, body: JSON.stringify(body) };
}
