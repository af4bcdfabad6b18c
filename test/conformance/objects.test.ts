/**
 * The ObjectStore contract, run against every adapter: create-only puts, ranges at the
 * edges of objects, deletes, listing order and pagination, argument checks.
 */
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../core/errors.js';
import { ObjectExistsError, ObjectNotFoundError } from '../../core/ports.js';
import { bytes, OBJECT_ADAPTERS, settle, unique, useStores } from './harness.js';

describe.each(OBJECT_ADAPTERS)('ObjectStore conformance: %s', (kind) => {
  const stores = useStores(kind);

  it('stores bytes that read back whole, and refuses a second put of a key', async () => {
    const { objects } = stores();
    const key = `${unique('put')}/a.seg`;
    const body = bytes(1000);
    await objects.put(key, body);
    body[0] = 99; // the store must have copied, not kept a reference
    expect(await objects.get(key)).toEqual(bytes(1000));
    await expect(objects.put(key, bytes(10, 7))).rejects.toBeInstanceOf(ObjectExistsError);
    expect(await objects.get(key)).toEqual(bytes(1000));
  });

  it('stores an empty object', async () => {
    const { objects } = stores();
    const key = unique('empty');
    await objects.put(key, new Uint8Array(0));
    expect(await objects.get(key)).toEqual(new Uint8Array(0));
    expect(await objects.get(key, { start: 0, end: 10 })).toEqual(new Uint8Array(0));
    expect((await objects.list(key)).objects).toMatchObject([{ key, size: 0 }]);
  });

  it('reads ranges at the edges of an object, clipping past the end', async () => {
    const { objects } = stores();
    const key = unique('range');
    await objects.put(key, bytes(100));
    const cases: [number, number, Uint8Array][] = [
      [0, 1, bytes(1)],
      [0, 100, bytes(100)],
      [99, 100, bytes(1, 99)],
      [10, 20, bytes(10, 10)],
      [90, 1000, bytes(10, 90)],
      [0, 1_000_000, bytes(100)],
      [50, 50, new Uint8Array(0)],
      [100, 100, new Uint8Array(0)],
      [100, 200, new Uint8Array(0)],
      [150, 200, new Uint8Array(0)],
    ];
    for (const [start, end, want] of cases) {
      expect(await objects.get(key, { start, end }), `[${start}, ${end})`).toEqual(want);
    }
  });

  it('throws ObjectNotFoundError for a missing key, with or without a range', async () => {
    const { objects } = stores();
    const key = unique('missing');
    await expect(objects.get(key)).rejects.toBeInstanceOf(ObjectNotFoundError);
    await expect(objects.get(key, { start: 0, end: 10 })).rejects.toBeInstanceOf(ObjectNotFoundError);
    await expect(objects.get(key, { start: 3, end: 3 })).rejects.toBeInstanceOf(ObjectNotFoundError);
    const err = (await objects.get(key).catch((e: unknown) => e)) as ObjectNotFoundError;
    expect(err.key).toBe(key);
  });

  it('refuses bad keys and ranges with InvalidRequestError', async () => {
    const { objects } = stores();
    await expect(objects.put('', bytes(1))).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(objects.put('x'.repeat(1025), bytes(1))).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(objects.get('k', { start: 5, end: 4 })).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(objects.get('k', { start: -1, end: 4 })).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(objects.get('k', { start: 0.5, end: 4 })).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(objects.list('p', { limit: 0 })).rejects.toBeInstanceOf(InvalidRequestError);
  });

  it('round-trips keys with awkward characters', async () => {
    const { objects } = stores();
    const base = unique('chars');
    const keys = [
      `${base}/with space+plus%pct`,
      `${base}/UPPER/lower`,
      `${base}/ünï©ødé/😀`,
      `${base}/./..`,
      `${base}/trailing/`,
      `${base}/a~b!c*d'e(f)`,
    ];
    for (const [i, key] of keys.entries()) await objects.put(key, bytes(5, i));
    for (const [i, key] of keys.entries()) expect(await objects.get(key)).toEqual(bytes(5, i));
    const listed = (await objects.list(`${base}/`)).objects.map((o) => o.key);
    expect(listed).toEqual([...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
  });

  it('deletes keys; deleting missing keys is not an error', async () => {
    const { objects } = stores();
    const base = unique('del');
    await objects.put(`${base}/a`, bytes(3));
    await objects.put(`${base}/b`, bytes(3));
    await objects.delete([`${base}/a`, `${base}/missing`, `${base}/a`]);
    await expect(objects.get(`${base}/a`)).rejects.toBeInstanceOf(ObjectNotFoundError);
    expect(await objects.get(`${base}/b`)).toEqual(bytes(3));
    await objects.delete([]);
    expect((await objects.list(`${base}/`)).objects.map((o) => o.key)).toEqual([`${base}/b`]);
    // A deleted key can be created again.
    await objects.put(`${base}/a`, bytes(2));
    expect(await objects.get(`${base}/a`)).toEqual(bytes(2));
  });

  it('deletes more keys than one request takes (1000)', async () => {
    const { objects } = stores();
    const base = unique('many');
    const keys = Array.from({ length: 1003 }, (_, i) => `${base}/${String(i).padStart(4, '0')}`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((k) => objects.put(k, bytes(1))));
    }
    await objects.delete(keys);
    expect((await objects.list(`${base}/`)).objects).toEqual([]);
  });

  it('lists by prefix in UTF-8 byte order with sizes and times', async () => {
    const { objects } = stores();
    const base = unique('list');
    const before = Date.now();
    // '-' < '/' < 'B' < 'a' < 'é' < '\uFFFD' < '😀' in UTF-8 byte order ('😀' sorts first in UTF-16).
    const names = ['a', 'a-b', 'a/b', 'B', 'é', '\uFFFD', '😀'];
    for (const [i, name] of names.entries()) await objects.put(`${base}/${name}`, bytes(i + 1));
    await objects.put(`${base}x/other`, bytes(1));
    const page = await objects.list(`${base}/`);
    expect(page.next).toBeUndefined();
    expect(page.objects.map((o) => o.key)).toEqual(
      ['B', 'a', 'a-b', 'a/b', 'é', '\uFFFD', '😀'].map((n) => `${base}/${n}`),
    );
    expect(page.objects.find((o) => o.key === `${base}/a/b`)?.size).toBe(3);
    for (const o of page.objects) {
      expect(o.lastModified).toBeGreaterThanOrEqual(before - 2000);
      expect(o.lastModified).toBeLessThanOrEqual(Date.now() + 2000);
    }
    expect((await objects.list(`${base}/a`)).objects.map((o) => o.key)).toEqual(
      ['a', 'a-b', 'a/b'].map((n) => `${base}/${n}`),
    );
    expect((await objects.list(`${base}/zzz`)).objects).toEqual([]);
  });

  it('paginates a listing across page boundaries with after and limit', async () => {
    const { objects } = stores();
    const base = unique('page');
    const keys = Array.from({ length: 23 }, (_, i) => `${base}/${String(i).padStart(3, '0')}`);
    await Promise.all(keys.map((k) => objects.put(k, bytes(1))));
    const seen: string[] = [];
    const sizes: number[] = [];
    let after: string | undefined;
    do {
      const page = await objects.list(`${base}/`, { after, limit: 5 });
      sizes.push(page.objects.length);
      seen.push(...page.objects.map((o) => o.key));
      after = page.next;
    } while (after);
    expect(seen).toEqual(keys);
    expect(sizes).toEqual([5, 5, 5, 5, 3]);
    // An exact multiple of the page size ends without an empty page.
    const exact = await objects.list(`${base}/`, { after: keys[12], limit: 10 });
    expect(exact.objects.map((o) => o.key)).toEqual(keys.slice(13));
    expect(exact.next).toBeUndefined();
    // `after` need not be a listed key.
    const between = await objects.list(`${base}/`, { after: `${base}/004x`, limit: 2 });
    expect(between.objects.map((o) => o.key)).toEqual(keys.slice(5, 7));
    expect(between.next).toBe(keys[6]);
  });

  it('lets exactly one of 32 concurrent create-only puts of a key win', async () => {
    const { objects } = stores();
    const key = unique('race');
    const { ok, errors } = await settle(Array.from({ length: 32 }, (_, i) => objects.put(key, bytes(64, i))));
    expect(ok).toHaveLength(1);
    expect(errors).toHaveLength(31);
    for (const e of errors) expect(e).toBeInstanceOf(ObjectExistsError);
    const stored = await objects.get(key);
    expect(Array.from({ length: 32 }, (_, i) => bytes(64, i))).toContainEqual(stored);
  });
});
