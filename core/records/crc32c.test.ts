import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c, crc32cBackend, crc32cPortable } from './crc32c.js';

const native = (createRequire(import.meta.url)('@node-rs/crc32') as { crc32c(b: Uint8Array): number }).crc32c;

describe('crc32c', () => {
  it('matches the standard check value on both backends', () => {
    const check = new TextEncoder().encode('123456789');
    expect(crc32cPortable(check)).toBe(0xe3069283);
    expect(crc32c(check)).toBe(0xe3069283);
    expect(crc32cPortable(new Uint8Array(0))).toBe(0);
  });

  it('uses the native package where it is installed', () => {
    expect(crc32cBackend()).toBe('native');
  });

  it('portable and native agree on any bytes, at any offset of a shared buffer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(7), (bytes, skip) => {
        const view = bytes.subarray(Math.min(skip, bytes.length));
        expect(crc32cPortable(view)).toBe(native(view) >>> 0);
      }),
    );
  });

  it('falls back to the portable code when the native binary cannot load, and imports fine', () => {
    const script = `
      const Module = (await import('node:module')).default;
      const load = Module._load;
      Module._load = function (request, ...rest) {
        if (request.startsWith('@node-rs/crc32')) throw Object.assign(new Error('no binary'), { code: 'MODULE_NOT_FOUND' });
        return load.call(this, request, ...rest);
      };
      const { encodeBatch, decodeBatch } = await import('./core/records/index.ts');
      const { crc32cBackend } = await import('./core/records/crc32c.ts');
      const batch = decodeBatch(encodeBatch([{ value: new Uint8Array([1, 2, 3]), timestamp: 1 }]));
      console.log(JSON.stringify([crc32cBackend(), batch.records.length]));
    `;
    const out = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('../..', import.meta.url).pathname,
      encoding: 'utf8',
    });
    expect(out.stderr).toBe('');
    expect(JSON.parse(out.stdout.trim())).toEqual(['portable', 1]);
  });
});
