import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { ObjectExistsError } from '../core/ports.js';
import { decodeSegment, encodeSegment, FsObjectStore } from './fs.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-fs-'));
  dirs.push(dir);
  return dir;
}
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

describe('segment encoding', () => {
  it('round-trips, stays a safe name, and never collides on case-insensitive file systems', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme' }), fc.string({ unit: 'grapheme' }), (a, b) => {
        const ea = encodeSegment(a);
        expect(decodeSegment(ea)).toBe(a);
        expect(ea).toMatch(/^[a-z0-9._%A-F-]+$/);
        expect(ea).not.toMatch(/^\.\.?$/);
        if (a !== b) expect(ea.toLowerCase()).not.toBe(encodeSegment(b).toLowerCase());
      }),
      { numRuns: 2000 },
    );
    expect(encodeSegment('Ab.c')).toBe('%41b.c');
    expect(encodeSegment('')).toBe('%');
    expect(encodeSegment('..')).toBe('%2E%2E');
  });
});

describe('FsObjectStore', () => {
  it('leaves no temporary files behind, whether a put wins or loses', async () => {
    const root = await tempDir();
    const objects = new FsObjectStore(root);
    await objects.put('data/a.seg', new Uint8Array([1]));
    await expect(objects.put('data/a.seg', new Uint8Array([2]))).rejects.toBeInstanceOf(ObjectExistsError);
    expect(await readdir(join(root, '~tmp'))).toEqual([]);
    expect((await objects.list('')).objects.map((o) => o.key)).toEqual(['data/a.seg']);
  });

  it('shares one directory safely between two stores (two processes)', async () => {
    const root = await tempDir();
    const a = new FsObjectStore(root);
    const b = new FsObjectStore(root);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).put('data/x.seg', new Uint8Array([i]))),
    );
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    expect(await b.get('data/x.seg')).toEqual(await a.get('data/x.seg'));
  });

  it('keeps an object and the objects under its name as a prefix apart', async () => {
    const objects = new FsObjectStore(await tempDir());
    await objects.put('a/b', new Uint8Array([1]));
    await objects.put('a/b/c', new Uint8Array([2]));
    expect(await objects.get('a/b')).toEqual(new Uint8Array([1]));
    expect((await objects.list('a/')).objects.map((o) => o.key)).toEqual(['a/b', 'a/b/c']);
  });
});
