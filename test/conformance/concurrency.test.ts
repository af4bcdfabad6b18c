/**
 * Concurrent writers on one item, on every MetaStore adapter: compare-and-set loses no
 * update, a create-only write has exactly one winner, a lease has exactly one holder.
 */
import { describe, expect, it } from 'vitest';
import { casUpdate } from '../../core/cas.js';
import { seededRandom } from '../../core/clock.js';
import { acquireLease } from '../../core/leases.js';
import { ConflictError, type Item } from '../../core/ports.js';
import { META_ADAPTERS, realClock, settle, unique, useStores } from './harness.js';

const WRITERS = 32;

describe.each(META_ADAPTERS)('MetaStore concurrency: %s', (kind) => {
  const stores = useStores(kind);

  it(`loses no update among ${WRITERS} concurrent casUpdate increments`, async () => {
    const { meta } = stores();
    const key = { pk: unique('cas'), sk: 'counter' };
    const increment = (cur: Item | undefined) => ({
      data: { n: ((cur?.data.n as number | undefined) ?? 0) + 1 },
    });
    const results = await Promise.all(
      Array.from({ length: WRITERS }, (_, i) =>
        casUpdate(meta, key, increment, {
          clock: realClock,
          random: seededRandom(i),
          baseDelayMs: 2,
          maxDelayMs: 25,
          maxAttempts: 100,
        }),
      ),
    );
    expect(await meta.get(key)).toMatchObject({ version: WRITERS, data: { n: WRITERS } });
    // Each writer saw a distinct version: exactly one won each.
    expect(new Set(results.map((r) => r?.version)).size).toBe(WRITERS);
  });

  it(`lets exactly one of ${WRITERS} concurrent create-only writes win`, async () => {
    const { meta } = stores();
    const key = { pk: unique('create'), sk: 'once' };
    const { ok, errors } = await settle(
      Array.from({ length: WRITERS }, (_, i) =>
        meta.transact([{ type: 'put', key, data: { writer: i }, condition: { absent: true } }]),
      ),
    );
    expect(ok).toHaveLength(1);
    expect(errors).toHaveLength(WRITERS - 1);
    const stored = await meta.get(key);
    for (const e of errors) {
      expect(e).toBeInstanceOf(ConflictError);
      expect((e as ConflictError).currentOf(key)).toEqual(stored);
    }
  });

  it('gives a lease to exactly one of many concurrent contenders', async () => {
    const { meta } = stores();
    const key = { pk: unique('lease'), sk: 'lease' };
    const leases = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        acquireLease(meta, key, `owner-${i}`, 60_000, {
          clock: realClock,
          random: seededRandom(i),
          maxAttempts: 100,
        }),
      ),
    );
    const held = leases.filter((l) => l !== undefined);
    expect(held).toHaveLength(1);
    expect(held[0]).toMatchObject({ epoch: 1, version: 1 });
  });
});
