import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { pipeline } from 'node:stream/promises';
import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CorruptRecordError } from '../errors.js';
import { encodeBatch } from './batch-encode.js';
import { compress, decompress } from './compression.js';
import { Compression } from './types.js';
import { checkFramesComplete, zstdBackends } from './zstd.js';

const require = createRequire(import.meta.url);
const snappy = require('snappy') as { compressSync(b: Uint8Array): Buffer };
const codecs = [Compression.None, Compression.Gzip, Compression.Snappy, Compression.Lz4, Compression.Zstd];
const compressible = (n: number) => Buffer.from('sluice '.repeat(Math.ceil(n / 7)).slice(0, n));

describe('compress / decompress', () => {
  it('round-trips random and compressible data with every codec', () => {
    fc.assert(
      fc.property(fc.constantFrom(...codecs), fc.uint8Array({ maxLength: 100_000 }), (codec, data) => {
        expect(Buffer.from(decompress(codec, compress(codec, data)))).toEqual(Buffer.from(data));
      }),
      { numRuns: 60 },
    );
    for (const codec of codecs) {
      const data = compressible(200_000);
      const packed = compress(codec, data);
      if (codec !== Compression.None) expect(packed.length).toBeLessThan(data.length / 10);
      expect(Buffer.from(decompress(codec, packed))).toEqual(data);
    }
  });

  it('writes xerial-framed snappy in 32 KiB blocks, as the Java client does', () => {
    const packed = Buffer.from(compress(Compression.Snappy, compressible(100_000)));
    expect([...packed.subarray(0, 16)]).toEqual([0x82, ...Buffer.from('SNAPPY'), 0, 0, 0, 0, 1, 0, 0, 0, 1]);
    let blocks = 0;
    for (let pos = 16; pos < packed.length; pos += 4 + packed.readInt32BE(pos)) blocks++;
    expect(blocks).toBe(4);
  });

  it('reads raw (unframed) snappy, as kafkajs-snappy writes it', () => {
    const data = compressible(5000);
    expect(Buffer.from(decompress(Compression.Snappy, snappy.compressSync(data)))).toEqual(data);
  });

  it('writes LZ4 frames with independent blocks (KIP-57, readable by the Java client)', () => {
    const packed = compress(Compression.Lz4, compressible(1000));
    expect([...packed.subarray(0, 4)]).toEqual([0x04, 0x22, 0x4d, 0x18]);
    const flg = packed[4]!;
    expect(flg >> 6).toBe(1);
    expect(flg & 0x20).toBe(0x20);
  });

  it('refuses output beyond the limit for every codec (decompression bombs)', () => {
    const bomb = Buffer.alloc(4 * 1024 * 1024);
    for (const codec of codecs) {
      const packed = compress(codec, bomb);
      expect(() => decompress(codec, packed, 1024 * 1024), Compression[codec]).toThrow(CorruptRecordError);
      expect(decompress(codec, packed, bomb.length).length).toBe(bomb.length);
    }
  });

  it('refuses a snappy block that declares a huge length before allocating it', () => {
    // Varint preamble 0xffffffff0f = 4 GiB, then garbage.
    const hostile = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0, 0]);
    expect(() => decompress(Compression.Snappy, hostile)).toThrow(/declares 4294967295 bytes/);
  });

  it('bounds LZ4 exactly, block by block, whatever the frame block size', () => {
    const data = Buffer.from('0123456789abcdef'.repeat(20_000)); // 320 KB, one 4 MiB-max block
    const packed = compress(Compression.Lz4, data);
    expect(Buffer.from(decompress(Compression.Lz4, packed, data.length))).toEqual(data);
    expect(() => decompress(Compression.Lz4, packed, data.length - 1)).toThrow(CorruptRecordError);
  });

  it('reads LZ4 frames with linked (dependent) blocks, block checksums and content size', () => {
    // Hand-built frame: FLG = v01, linked blocks, block checksum, content size; BD = 64 KiB.
    const lz4raw = require('lz4-napi') as { compressSync(b: Buffer, dict?: Buffer): Buffer };
    const part1 = Buffer.from('abcdefgh'.repeat(100));
    // A linked block: compressed against the previous block's output, unreadable without it.
    const part2 = Buffer.from('the quick brown fox jumps over the lazy dog. '.repeat(3));
    const history = Buffer.concat([part1, part2.subarray(0, 45)]);
    const block2 = lz4raw.compressSync(part2.subarray(45), history).subarray(4);
    const block1b = lz4raw.compressSync(history).subarray(4); // drop lz4_flex's size prefix
    const stored = Buffer.from('stored!');
    const u32 = (n: number) => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(n >>> 0);
      return b;
    };
    const contentSize = Buffer.alloc(8);
    contentSize.writeBigUInt64LE(BigInt(part1.length + part2.length + stored.length));
    const frame = Buffer.concat([
      u32(0x184d2204),
      Buffer.from([0b01011000, 0x40]),
      contentSize,
      Buffer.from([0]),
      u32(block1b.length),
      block1b,
      u32(0),
      u32(block2.length),
      block2,
      u32(0),
      u32(0x80000000 | stored.length),
      stored,
      u32(0),
      u32(0),
    ]);
    expect(Buffer.from(decompress(Compression.Lz4, frame)).toString()).toBe(
      part1.toString() + part2.toString() + stored.toString(),
    );
    expect(block2.length).toBeLessThan(20); // it really is made of back-references into block 1
  });

  it('turns garbage into CorruptRecordError for every codec', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(Compression.Gzip, Compression.Snappy, Compression.Lz4, Compression.Zstd),
        fc.uint8Array({ maxLength: 300 }),
        (codec, garbage) => {
          try {
            decompress(codec, garbage);
          } catch (e) {
            expect(e).toBeInstanceOf(CorruptRecordError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('rejects truncated and bit-flipped compressed streams', () => {
    for (const codec of [Compression.Gzip, Compression.Snappy, Compression.Lz4, Compression.Zstd]) {
      const packed = Buffer.from(compress(codec, compressible(50_000)));
      expect(() => decompress(codec, packed.subarray(0, packed.length - 7)), Compression[codec]).toThrow(
        CorruptRecordError,
      );
    }
  });

  it('rejects an unknown codec', () => {
    expect(() => compress(7 as Compression, new Uint8Array(1))).toThrow(CorruptRecordError);
    expect(() => decompress(5 as Compression, new Uint8Array(1))).toThrow(CorruptRecordError);
  });
});

describe('zstd backends', () => {
  it(`has zstd-napi${typeof (zlib as { zstdCompressSync?: unknown }).zstdCompressSync === 'function' ? ' and node:zlib' : ''}`, () => {
    expect(zstdBackends.map((b) => b.name)).toContain('zstd-napi');
  });

  it('checkFramesComplete accepts whole frames (and skippable ones) and rejects every truncation', () => {
    const napi = zstdBackends.find((b) => b.name === 'zstd-napi')!;
    const frame = Buffer.from(napi.compress(compressible(200_000)));
    const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
    checkFramesComplete(frame);
    checkFramesComplete(Buffer.concat([skippable, frame, frame]));
    for (let cut = 0; cut < frame.length; cut += Math.max(1, Math.floor(frame.length / 200))) {
      expect(() => checkFramesComplete(frame.subarray(0, cut))).toThrow(CorruptRecordError);
    }
    expect(() => checkFramesComplete(frame.subarray(0, frame.length - 1))).toThrow(/truncated/);
    expect(() => checkFramesComplete(Buffer.concat([frame, Buffer.from([1, 2])]))).toThrow(
      CorruptRecordError,
    );
  });

  for (const backend of zstdBackends) {
    it(`${backend.name}: frames interoperate with every other backend`, () => {
      const data = compressible(70_000);
      for (const other of zstdBackends) {
        expect(Buffer.from(other.decompress(backend.compress(data), data.length))).toEqual(data);
      }
    });

    it(`${backend.name}: bounds frames that do not declare their size (as the Java client streams them)`, async () => {
      const { CompressStream } = require('zstd-napi') as { CompressStream: new () => NodeJS.ReadWriteStream };
      const chunks: Buffer[] = [];
      const stream = new CompressStream();
      stream.on('data', (c: Buffer) => chunks.push(c));
      const source = async function* () {
        for (let i = 0; i < 16; i++) yield Buffer.alloc(256 * 1024, i);
      };
      await pipeline(source, stream);
      const frame = Buffer.concat(chunks);
      expect(require('zstd-napi/binding').getFrameContentSize(frame)).toBeNull();
      expect(backend.decompress(frame, 4 * 1024 * 1024).length).toBe(4 * 1024 * 1024);
      expect(() => backend.decompress(frame, 4 * 1024 * 1024 - 1)).toThrow(CorruptRecordError);
      expect(() => backend.decompress(frame.subarray(0, frame.length - 3), 8 * 1024 * 1024)).toThrow(
        CorruptRecordError,
      );
    });
  }
});

describe('lazy loading', () => {
  it('never loads snappy, lz4-napi or zstd-napi for uncompressed and gzip batches', () => {
    const script = `
      const { encodeBatch, decodeBatch, Compression } = await import('./core/records/index.ts');
      for (const compression of [Compression.None, Compression.Gzip]) {
        decodeBatch(encodeBatch([{ value: new Uint8Array(10), timestamp: 1 }], { compression }));
      }
      const { createRequire } = await import('node:module');
      const loaded = Object.keys(createRequire(import.meta.url).cache).filter((p) => /snappy|lz4|zstd/.test(p));
      console.log(JSON.stringify(loaded));
    `;
    const out = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('../..', import.meta.url).pathname,
      encoding: 'utf8',
    });
    expect(out.stderr).toBe('');
    expect(JSON.parse(out.stdout.trim())).toEqual([]);
  });
});

describe('a codec this runtime lacks', () => {
  it('refuses a zstd batch as UNSUPPORTED_COMPRESSION_TYPE (not CORRUPT_MESSAGE) without node:zlib zstd or zstd-napi', () => {
    const batch = Buffer.from(
      encodeBatch([{ value: new Uint8Array(100).fill(7), timestamp: 1 }], { compression: Compression.Zstd }),
    ).toString('hex');
    // The child hides zstd-napi and, on Node ≥ 22.15, node:zlib's zstd, then decodes the batch.
    const script = `
      const Module = (await import('node:module')).default;
      const zlib = (await import('node:zlib')).default;
      delete zlib.zstdCompressSync;
      delete zlib.zstdDecompressSync;
      Module.syncBuiltinESMExports();
      const load = Module._load;
      Module._load = function (request, ...rest) {
        if (request.startsWith('zstd-napi')) throw Object.assign(new Error('not installed'), { code: 'MODULE_NOT_FOUND' });
        return load.call(this, request, ...rest);
      };
      const { decodeBatch } = await import('./core/records/index.ts');
      try {
        decodeBatch(Buffer.from('${batch}', 'hex'));
        console.log('decoded');
      } catch (err) {
        console.log(JSON.stringify([err.name, err.code, err.status, err.retriable]));
      }
    `;
    const out = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('../..', import.meta.url).pathname,
      encoding: 'utf8',
    });
    expect(out.stderr).toBe('');
    expect(JSON.parse(out.stdout.trim())).toEqual([
      'CodecUnavailableError',
      'UNSUPPORTED_COMPRESSION_TYPE',
      400,
      false,
    ]);
  });
});
