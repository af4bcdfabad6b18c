/**
 * DynamoDB's limits, enforced with the same typed errors (and the same byte counts) by
 * every MetaStore adapter, before anything is written.
 */
import { describe, expect, it } from 'vitest';
import {
  ItemTooLargeError,
  META_LIMITS,
  TransactionTooLargeError,
  type TransactOp,
} from '../../core/ports.js';
import { itemBytes } from '../../storage/limits.js';
import { META_ADAPTERS, unique, useStores } from './harness.js';

/** A string that makes the item `{ blob }` under `key` exactly `bytes` long. */
function blobFor(key: { pk: string; sk: string }, bytes: number): string {
  return 'x'.repeat(bytes - itemBytes(key, { blob: '' }));
}

describe.each(META_ADAPTERS)('MetaStore limits: %s', (kind) => {
  const stores = useStores(kind);

  it('accepts a large item under the limit and refuses one over it', async () => {
    const { meta } = stores();
    const key = { pk: unique('l'), sk: 's' };
    // Emulators count item sizes their own way; 400,000 bytes is under every one's limit.
    const ok = blobFor(key, 400_000);
    await meta.transact([{ type: 'put', key, data: { blob: ok } }]);
    expect((await meta.get(key))?.data.blob).toBe(ok);

    const big = { pk: key.pk, sk: 'big' };
    const tooBig = blobFor(big, META_LIMITS.itemBytes + 1);
    const e = await meta
      .transact([{ type: 'put', key: big, data: { blob: tooBig } }])
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ItemTooLargeError);
    expect((e as ItemTooLargeError).bytes).toBe(META_LIMITS.itemBytes + 1);
    expect((e as ItemTooLargeError).key).toEqual(big);
    expect(await meta.get(big)).toBeUndefined();
  });

  it('refuses keys over 1024 bytes', async () => {
    const { meta } = stores();
    const long = 'é'.repeat(513); // 1026 bytes
    await expect(
      meta.transact([{ type: 'put', key: { pk: long, sk: 's' }, data: {} }]),
    ).rejects.toBeInstanceOf(ItemTooLargeError);
    await expect(meta.get({ pk: 'p', sk: long })).rejects.toBeInstanceOf(ItemTooLargeError);
  });

  it('refuses an update that grows an item past the limit, changing nothing', async () => {
    const { meta } = stores();
    const pk = unique('l');
    const key = { pk, sk: 'grow' };
    const other = { pk, sk: 'other' };
    await meta.transact([{ type: 'put', key, data: { a: blobFor(key, 300_000) }, ttl: 42 }]);
    let before = await meta.get(key);
    const set = { b: 'y'.repeat(150_000) };
    const want = itemBytes(key, { ...before!.data, ...set }, 42);
    const cases: [string, () => TransactOp[]][] = [
      ['alone', () => [{ type: 'update', key, set }]],
      [
        'in a transaction',
        () => [
          { type: 'put', key: other, data: {} },
          { type: 'update', key, set, condition: { version: before!.version } },
        ],
      ],
    ];
    for (const [label, ops] of cases) {
      const e = await meta.transact(ops()).catch((x: unknown) => x);
      expect(e, label).toBeInstanceOf(ItemTooLargeError);
      expect((e as ItemTooLargeError).bytes, label).toBe(want);
      expect(await meta.get(other), label).toBeUndefined();
      // moto's UpdateItem (not its transactions) applies the update before it checks the
      // size and does not undo it; DynamoDB itself leaves the item unchanged.
      if (kind === 'aws' && label === 'alone') {
        const now = await meta.get(key);
        await meta.transact([
          { type: 'put', key, data: before!.data, ttl: 42, condition: { version: now!.version } },
        ]);
        before = await meta.get(key);
        continue;
      }
      expect(await meta.get(key), label).toEqual(before);
    }
  });

  it('takes 100 ops in a transaction and refuses 101', async () => {
    const { meta } = stores();
    const pk = unique('l');
    const ops = (n: number): TransactOp[] =>
      Array.from({ length: n }, (_, i) => ({
        type: 'put',
        key: { pk, sk: String(i).padStart(3, '0') },
        data: { i },
      }));
    const e = await meta.transact(ops(101)).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TransactionTooLargeError);
    expect((e as TransactionTooLargeError).ops).toBe(101);
    expect((await meta.query(pk)).items).toEqual([]);
    await meta.transact(ops(100));
    expect((await meta.query(pk)).items).toHaveLength(100);
  });

  it('refuses a transaction over 4 MB in total', async () => {
    const { meta } = stores();
    const pk = unique('l');
    const ops: TransactOp[] = Array.from({ length: 11 }, (_, i) => {
      const key = { pk, sk: String(i) };
      return { type: 'put', key, data: { blob: blobFor(key, 390_000) } };
    });
    const e = await meta.transact(ops).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TransactionTooLargeError);
    expect((e as TransactionTooLargeError).bytes).toBe(11 * 390_000);
    expect((await meta.query(pk)).items).toEqual([]);
  });
});
