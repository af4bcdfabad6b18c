/**
 * Review: the group coordinator against API.md ("A request that fails changes nothing").
 */
import { describe, expect, it } from 'vitest';
import { ManualClock, seededRandom } from '../../core/clock.js';
import { GroupCoordinator } from '../../core/groups/index.js';
import { MemoryMetaStore } from '../../storage/memory.js';
import { FakeTopics } from '../groups/fakes.js';

describe('review: offset commits', () => {
  it('a commit of >98 offsets that is refused changes nothing (API.md: a failed request changes nothing)', async () => {
    const topics = new FakeTopics().create('t', 100);
    for (let p = 0; p < 100; p++) topics.produce('t', p, 10);
    const groups = new GroupCoordinator({
      meta: new MemoryMetaStore(),
      topics,
      clock: new ManualClock(1_700_000_000_000),
      random: seededRandom(1),
    });
    // Partition 99 is already committed at 5 (standalone commit: the group has no members).
    await groups.commitOffsets('g', { offsets: [{ topic: 't', partition: 99, offset: 5 }] });
    // One request: partitions 0..99 at 1. Partition 99 would go backwards: the request is refused…
    const all = Array.from({ length: 100 }, (_, p) => ({ topic: 't', partition: p, offset: 1 }));
    await expect(groups.commitOffsets('g', { offsets: all })).rejects.toMatchObject({
      code: 'OFFSET_OUT_OF_RANGE',
    });
    // …and must have changed nothing. It wrote partitions 0..97 (the first chunk).
    const { offsets } = await groups.fetchOffsets('g');
    expect(offsets.map((o) => `${o.partition}:${o.offset}`)).toEqual(['99:5']);
  });
});
