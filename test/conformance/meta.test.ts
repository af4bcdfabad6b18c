/**
 * The MetaStore contract, run against every adapter: versions, every op with every kind of
 * condition, all-or-nothing transactions, ConflictError carrying current items, batch
 * reads, queries with every range and across pages, TTL, JSON fidelity.
 */
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../core/errors.js';
import { type Condition, ConflictError, type Item, type ItemKey, type TransactOp } from '../../core/ports.js';
import { META_ADAPTERS, unique, useStores } from './harness.js';

async function conflictOf(p: Promise<unknown>): Promise<ConflictError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(ConflictError);
  return e as ConflictError;
}

describe.each(META_ADAPTERS)('MetaStore conformance: %s', (kind) => {
  const stores = useStores(kind);

  describe('single ops', () => {
    it('creates at version 1 and adds 1 per write; put replaces data and ttl', async () => {
      const { meta } = stores();
      const key = { pk: unique('p'), sk: 's' };
      expect(await meta.get(key)).toBeUndefined();
      await meta.transact([
        { type: 'put', key, data: { a: 1, b: 'x' }, ttl: 1_800_000_000, condition: { absent: true } },
      ]);
      expect(await meta.get(key)).toEqual({ ...key, version: 1, data: { a: 1, b: 'x' }, ttl: 1_800_000_000 });
      await meta.transact([{ type: 'put', key, data: { c: true } }]);
      expect(await meta.get(key)).toEqual({ ...key, version: 2, data: { c: true } });
      await meta.transact([{ type: 'put', key, data: {}, ttl: 5, condition: { version: 2 } }]);
      expect(await meta.get(key)).toEqual({ ...key, version: 3, data: {}, ttl: 5 });
    });

    it('updates: set replaces fields, add sums (missing counts 0), ttl and other fields kept', async () => {
      const { meta } = stores();
      const key = { pk: unique('p'), sk: 's' };
      await meta.transact([{ type: 'put', key, data: { n: 5, keep: [1, { x: 2 }], s: 'a' }, ttl: 77 }]);
      await meta.transact([
        { type: 'update', key, set: { s: 'b', m: { deep: null } }, add: { n: -2, fresh: 10 } },
      ]);
      expect(await meta.get(key)).toEqual({
        ...key,
        version: 2,
        data: { n: 3, keep: [1, { x: 2 }], s: 'b', m: { deep: null }, fresh: 10 },
        ttl: 77,
      });
      await meta.transact([{ type: 'update', key, condition: { version: 2 } }]);
      expect((await meta.get(key))?.version).toBe(3);
      await meta.transact([{ type: 'update', key, add: { n: 0.5 } }]);
      expect((await meta.get(key))?.data.n).toBe(3.5);
    });

    it('refuses an update of a missing item with a ConflictError', async () => {
      const { meta } = stores();
      const key = { pk: unique('p'), sk: 's' };
      const e = await conflictOf(meta.transact([{ type: 'update', key, set: { a: 1 } }]));
      expect(e.failures).toEqual([{ index: 0, key, current: undefined }]);
      expect(await meta.get(key)).toBeUndefined();
    });

    it('refuses to add to a non-numeric field, changing nothing', async () => {
      const { meta } = stores();
      const key = { pk: unique('p'), sk: 's' };
      await meta.transact([{ type: 'put', key, data: { s: 'text' } }]);
      await expect(meta.transact([{ type: 'update', key, add: { s: 1 } }])).rejects.toBeInstanceOf(
        InvalidRequestError,
      );
      expect(await meta.get(key)).toEqual({ ...key, version: 1, data: { s: 'text' } });
    });

    it('deletes; deleting a missing item is not an error', async () => {
      const { meta } = stores();
      const key = { pk: unique('p'), sk: 's' };
      await meta.transact([{ type: 'delete', key }]);
      await meta.transact([{ type: 'delete', key, condition: { absent: true } }]);
      await meta.transact([{ type: 'put', key, data: {} }]);
      await meta.transact([{ type: 'delete', key, condition: { version: 1 } }]);
      expect(await meta.get(key)).toBeUndefined();
      // Recreated items start over at version 1.
      await meta.transact([{ type: 'put', key, data: {}, condition: { absent: true } }]);
      expect((await meta.get(key))?.version).toBe(1);
    });

    it('stores JSON exactly', async () => {
      const { meta } = stores();
      const key = { pk: unique('p'), sk: 'json' };
      const data = {
        str: 'ünïcødé 😀 "quoted" \\ \n',
        empty: '',
        int: 9007199254740991,
        neg: -42,
        float: 0.1 + 0.2,
        tiny: 1e-129,
        huge: 1.5e125,
        zero: 0,
        t: true,
        f: false,
        nil: null,
        list: [1, 'two', [3], { four: 4 }, null, []],
        map: { nested: { deeper: { deepest: 'x' } }, 'key with spaces': 1, '#': 2 },
        emptyMap: {},
      };
      await meta.transact([{ type: 'put', key, data }]);
      expect((await meta.get(key))?.data).toEqual(data);
    });

    it('copies data in and out', async () => {
      const { meta } = stores();
      const key = { pk: unique('p'), sk: 's' };
      const data = { list: [1] };
      await meta.transact([{ type: 'put', key, data }]);
      data.list.push(2);
      const got = (await meta.get(key))!;
      (got.data.list as number[]).push(3);
      expect((await meta.get(key))?.data).toEqual({ list: [1] });
    });
  });

  describe('conditions', () => {
    type Case = { name: string; op: (key: ItemKey) => TransactOp; exists: boolean; holds: boolean };
    const v = (n: number): Condition => ({ version: n });
    const absent: Condition = { absent: true };
    // Every op kind × every condition kind, against an existing item (at version 1) or none.
    const cases: Case[] = [];
    const opsWith = (c: Condition | undefined): ((key: ItemKey) => TransactOp)[] => [
      (key) =>
        c ? { type: 'put', key, data: { w: 1 }, condition: c } : { type: 'put', key, data: { w: 1 } },
      (key) =>
        c ? { type: 'update', key, set: { w: 1 }, condition: c } : { type: 'update', key, set: { w: 1 } },
      (key) => (c ? { type: 'delete', key, condition: c } : { type: 'delete', key }),
    ];
    for (const [label, c] of [
      ['none', undefined],
      ['absent', absent],
      ['version 1', v(1)],
      ['version 2', v(2)],
    ] as const) {
      for (const exists of [true, false]) {
        for (const [i, op] of opsWith(c).entries()) {
          const type = ['put', 'update', 'delete'][i]!;
          const condHolds = c === undefined ? true : 'absent' in c ? !exists : exists && c.version === 1;
          cases.push({
            name: `${type} / ${label} / ${exists ? 'exists' : 'missing'}`,
            op,
            exists,
            holds: condHolds && (type !== 'update' || exists),
          });
        }
        if (c) {
          const condHolds = 'absent' in c ? !exists : exists && c.version === 1;
          cases.push({
            name: `check / ${label} / ${exists ? 'exists' : 'missing'}`,
            op: (key) => ({ type: 'check', key, condition: c }),
            exists,
            holds: condHolds,
          });
        }
      }
    }

    it.each(cases)('$name, alone and in a transaction (all or nothing)', async ({ op, exists, holds }) => {
      const { meta } = stores();
      const pk = unique('c');
      const target = { pk, sk: 'target' };
      const other = { pk, sk: 'other' };
      const created = { pk, sk: 'created' };
      if (exists) await meta.transact([{ type: 'put', key: target, data: { orig: true } }]);
      await meta.transact([{ type: 'put', key: other, data: { n: 0 } }]);
      const before = await meta.get(target);

      // In a transaction with two writes that would succeed on their own.
      const ops: TransactOp[] = [
        { type: 'update', key: other, add: { n: 1 }, condition: { version: 1 } },
        op(target),
        { type: 'put', key: created, data: {}, condition: { absent: true } },
      ];
      if (holds) {
        await meta.transact(ops);
        expect((await meta.get(other))?.data).toEqual({ n: 1 });
        expect(await meta.get(created)).toBeDefined();
      } else {
        const e = await conflictOf(meta.transact(ops));
        expect(e.failures).toEqual([{ index: 1, key: target, current: before }]);
        expect(e.failed(target)).toBe(true);
        expect(e.failed(other)).toBe(false);
        expect(e.currentOf(target)).toEqual(before);
        expect(await meta.get(target)).toEqual(before);
        expect(await meta.get(other)).toMatchObject({ version: 1, data: { n: 0 } });
        expect(await meta.get(created)).toBeUndefined();
        // Alone, the op fails the same way.
        const alone = await conflictOf(meta.transact([op(target)]));
        expect(alone.failures).toEqual([{ index: 0, key: target, current: before }]);
        expect(await meta.get(target)).toEqual(before);
      }
    });

    it('reports every failed op of a transaction with its current item', async () => {
      const { meta } = stores();
      const pk = unique('c');
      const a = { pk, sk: 'a' };
      const b = { pk, sk: 'b' };
      const c = { pk, sk: 'c' };
      await meta.transact([
        { type: 'put', key: a, data: { x: 'a' }, ttl: 9 },
        { type: 'put', key: b, data: { x: 'b' } },
      ]);
      await meta.transact([{ type: 'update', key: b, set: { y: 1 } }]);
      const e = await conflictOf(
        meta.transact([
          { type: 'put', key: a, data: {}, condition: { absent: true } },
          { type: 'check', key: b, condition: { version: 2 } },
          { type: 'update', key: c, set: { z: 1 } },
        ]),
      );
      expect(e.failures).toEqual([
        { index: 0, key: a, current: { ...a, version: 1, data: { x: 'a' }, ttl: 9 } },
        { index: 2, key: c, current: undefined },
      ]);
    });

    it('refuses two ops on one key and malformed ops with InvalidRequestError', async () => {
      const { meta } = stores();
      const key = { pk: unique('c'), sk: 's' };
      const bad: unknown[][] = [
        [
          { type: 'put', key, data: {} },
          { type: 'check', key, condition: { absent: true } },
        ],
        [{ type: 'put', key: { pk: '', sk: 's' }, data: {} }],
        [{ type: 'put', key: { pk: 'p', sk: '' }, data: {} }],
        [{ type: 'put', key, data: { n: Number.NaN } }],
        [{ type: 'put', key, data: { n: Number.POSITIVE_INFINITY } }],
        [{ type: 'put', key, data: { u: undefined } }],
        [{ type: 'put', key, data: { d: new Date() } }],
        [{ type: 'put', key, data: { '': 1 } }],
        [{ type: 'put', key, data: [] }],
        [{ type: 'put', key, data: {}, ttl: -1 }],
        [{ type: 'put', key, data: {}, ttl: 1.5 }],
        [{ type: 'put', key, data: {}, condition: { version: 0 } }],
        [{ type: 'update', key, set: { a: 1 }, add: { a: 1 } }],
        [{ type: 'update', key, add: { a: '1' } }],
        [{ type: 'check', key }],
        [{ type: 'nope', key }],
      ];
      for (const ops of bad) {
        await expect(meta.transact(ops as TransactOp[]), JSON.stringify(ops)).rejects.toBeInstanceOf(
          InvalidRequestError,
        );
      }
      expect(await meta.get(key)).toBeUndefined();
    });
  });

  describe('reads', () => {
    it('batch-reads in the order asked, duplicates and missing keys included, beyond 100 keys', async () => {
      const { meta } = stores();
      const pk = unique('b');
      const keys = Array.from({ length: 130 }, (_, i) => ({ pk, sk: String(i).padStart(3, '0') }));
      for (let i = 0; i < keys.length; i += 100) {
        await meta.transact(
          keys.slice(i, i + 100).map((key, j) => ({ type: 'put', key, data: { i: i + j } })),
        );
      }
      const ask = [...keys].reverse();
      ask.splice(5, 0, { pk, sk: 'missing' }, keys[3]!);
      const got = await meta.batchGet(ask);
      expect(got).toHaveLength(ask.length);
      got.forEach((item, i) => {
        const k = ask[i]!;
        if (k.sk === 'missing') expect(item).toBeUndefined();
        else expect(item).toEqual({ ...k, version: 1, data: { i: Number(k.sk) } });
      });
      expect(await meta.batchGet([])).toEqual([]);
    });

    describe('query', () => {
      const pk = unique('q');
      const sks = ['a', 'a#1', 'a#2', 'a#3', 'b', 'b#1', 'c', 'é', '\uFFFD', '😀'];
      let ready: Promise<void> | undefined;
      const seed = async () => {
        ready ??= stores().meta.transact([
          ...sks.map((sk): TransactOp => ({ type: 'put', key: { pk, sk }, data: { sk } })),
          { type: 'put', key: { pk: `${pk}x`, sk: 'a' }, data: {} },
        ]);
        await ready;
      };
      const skOf = (items: Item[]) => items.map((i) => i.sk);

      it('returns a partition in UTF-8 sort-key order, both directions', async () => {
        await seed();
        const { meta } = stores();
        expect(skOf((await meta.query(pk)).items)).toEqual(sks);
        expect(skOf((await meta.query(pk, undefined, { direction: 'desc' })).items)).toEqual(
          [...sks].reverse(),
        );
        expect((await meta.query(unique('none'))).items).toEqual([]);
      });

      it.each([
        [{ gte: 'a#2' }, ['a#2', 'a#3', 'b', 'b#1', 'c', 'é', '\uFFFD', '😀']],
        [{ gt: 'a#2' }, ['a#3', 'b', 'b#1', 'c', 'é', '\uFFFD', '😀']],
        [{ lte: 'b' }, ['a', 'a#1', 'a#2', 'a#3', 'b']],
        [{ lt: 'b' }, ['a', 'a#1', 'a#2', 'a#3']],
        [{ beginsWith: 'a#' }, ['a#1', 'a#2', 'a#3']],
        [{ beginsWith: 'zz' }, []],
        [{ gte: 'a#1', lt: 'a#3' }, ['a#1', 'a#2']],
        [{ gt: 'a#1', lte: 'b' }, ['a#2', 'a#3', 'b']],
        [{ gt: 'a', lt: 'b' }, ['a#1', 'a#2', 'a#3']],
        [{ gte: 'c', lte: 'c' }, ['c']],
        [{ gt: 'c', lt: 'c' }, []],
        [{ gte: 'c', lte: 'a' }, []],
        [{ beginsWith: 'a', gt: 'a#1' }, ['a#2', 'a#3']],
        [{ beginsWith: 'a#', lt: 'a#3' }, ['a#1', 'a#2']],
        [{ gte: 'é' }, ['é', '\uFFFD', '😀']],
        [{ beginsWith: '' }, sks],
        [{ gte: '', lt: 'a#1' }, ['a']],
        [{ gt: '' }, sks],
        [{ lte: '' }, []],
        [{ lt: '' }, []],
      ])('range %j', async (range, want) => {
        await seed();
        const { meta } = stores();
        expect(skOf((await meta.query(pk, range)).items)).toEqual(want);
        expect(skOf((await meta.query(pk, range, { direction: 'desc' })).items)).toEqual([...want].reverse());
      });

      it.each(['asc', 'desc'] as const)(
        'pages %s across page boundaries with limit and after',
        async (direction) => {
          await seed();
          const { meta } = stores();
          for (const [range, limit] of [
            [undefined, 3],
            [undefined, 1],
            [{ beginsWith: 'a' }, 2],
            [{ gt: 'a', lt: 'é' }, 4],
          ] as const) {
            const all = skOf((await meta.query(pk, range, { direction })).items);
            const seen: string[] = [];
            let after: string | undefined;
            let pages = 0;
            do {
              const page = await meta.query(pk, range, { direction, limit, after });
              expect(page.items.length).toBeLessThanOrEqual(limit);
              seen.push(...skOf(page.items));
              after = page.next;
              pages++;
            } while (after && pages < 50);
            expect(seen, JSON.stringify(range)).toEqual(all);
            expect(pages).toBeLessThanOrEqual(Math.ceil(all.length / limit) + 1);
          }
        },
      );

      it('refuses bad cursors and limits with InvalidRequestError', async () => {
        const { meta } = stores();
        await expect(meta.query(pk, undefined, { after: 'garbage!' })).rejects.toBeInstanceOf(
          InvalidRequestError,
        );
        await expect(meta.query(pk, undefined, { limit: 0 })).rejects.toBeInstanceOf(InvalidRequestError);
        await expect(meta.query('', undefined)).rejects.toBeInstanceOf(InvalidRequestError);
      });

      it('ends a page after about 1 MB of items even without a limit', async () => {
        const { meta } = stores();
        const big = unique('big');
        const blob = 'x'.repeat(100_000);
        for (let i = 0; i < 15; i += 5) {
          await meta.transact(
            Array.from(
              { length: 5 },
              (_, j): TransactOp => ({
                type: 'put',
                key: { pk: big, sk: String(i + j).padStart(2, '0') },
                data: { blob },
              }),
            ),
          );
        }
        const first = await meta.query(big);
        expect(first.items.length).toBeGreaterThanOrEqual(9);
        expect(first.items.length).toBeLessThan(15);
        expect(first.next).toBeDefined();
        const rest = await meta.query(big, undefined, { after: first.next });
        expect(first.items.length + rest.items.length).toBe(15);
        expect(rest.next).toBeUndefined();
      });
    });
  });
});
