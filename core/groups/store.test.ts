import { describe, expect, it } from 'vitest';
import { MemoryMetaStore } from '../../storage/memory.js';
import { ManualClock, seededRandom } from '../clock.js';
import { UnavailableError } from '../errors.js';
import { keys } from '../keys.js';
import type { MetaStore } from '../ports.js';
import { emptyGroup } from './model.js';
import { readGroup, updateGroup } from './store.js';

function deps(meta: MetaStore, maxAttempts = 5) {
  return { meta, clock: new ManualClock(0, { autoAdvance: true }), random: seededRandom(1), maxAttempts };
}

describe('updateGroup', () => {
  it('creates the group with its catalog entry, and deletes both', async () => {
    const meta = new MemoryMetaStore();
    await updateGroup(deps(meta), 'g', () => ({ result: 1, group: { put: emptyGroup() } }));
    expect((await meta.get(keys.groupCatalog('g')))?.data).toEqual({});
    expect((await readGroup(meta, 'g')).state).toEqual(emptyGroup());
    await updateGroup(deps(meta), 'g', () => ({ result: 1, group: { delete: true } }));
    expect(await meta.get(keys.group('g'))).toBeUndefined();
    expect(await meta.get(keys.groupCatalog('g'))).toBeUndefined();
  });

  it('retries a lost race on the state the conflict carries, without re-reading', async () => {
    const inner = new MemoryMetaStore();
    await updateGroup(deps(inner), 'g', () => ({ result: 0, group: { put: emptyGroup() } }));
    let reads = 0;
    let raced = false;
    const meta: MetaStore = {
      get: (k) => {
        reads++;
        return inner.get(k);
      },
      batchGet: (k) => inner.batchGet(k),
      query: (...a) => inner.query(...a),
      async transact(ops) {
        if (!raced) {
          raced = true;
          await updateGroup(deps(inner), 'g', ({ state }) => ({
            result: 0,
            group: { put: { ...state!, epoch: 41 } },
          }));
        }
        return inner.transact(ops);
      },
    };
    const seen: number[] = [];
    await updateGroup(deps(meta), 'g', ({ state }) => {
      seen.push(state!.epoch);
      return { result: 0, group: { put: { ...state!, epoch: state!.epoch + 1 } } };
    });
    expect(seen).toEqual([0, 41]);
    expect(reads).toBe(1);
    expect((await readGroup(inner, 'g')).state?.epoch).toBe(42);
  });

  it('gives up with a retriable UnavailableError after maxAttempts lost races', async () => {
    const inner = new MemoryMetaStore();
    await updateGroup(deps(inner), 'g', () => ({ result: 0, group: { put: emptyGroup() } }));
    const meta: MetaStore = {
      get: (k) => inner.get(k),
      batchGet: (k) => inner.batchGet(k),
      query: (...a) => inner.query(...a),
      async transact(ops) {
        await updateGroup(deps(inner), 'g', ({ state }) => ({
          result: 0,
          group: { put: { ...state!, epoch: state!.epoch + 1 } },
        }));
        return inner.transact(ops);
      },
    };
    const attempt = updateGroup(deps(meta, 3), 'g', () => ({ result: 0, group: { check: true } }));
    await expect(attempt).rejects.toBeInstanceOf(UnavailableError);
    await expect(attempt).rejects.toMatchObject({ retriable: true });
  });
});
