/**
 * Model-based test of the group coordinator: random sequences of joins, heartbeats (that
 * release promptly, slowly, or implicitly, and some whose response is lost), pauses
 * (crashes, GC pauses) and resumptions, leaves, subscription changes, partition additions,
 * time jumps and commits from current and stale members. After every step the invariants of
 * {@link World.checkInvariants} hold; `Settle` steps (and the end of every run) check that
 * the group converges to a balanced assignment with exactly one owner per partition.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ManualClock, seededRandom } from '../../core/clock.js';
import { GroupCoordinator } from '../../core/groups/coordinator.js';
import { FaultInjector, FaultyMetaStore } from '../../storage/faulty.js';
import { MemoryMetaStore } from '../../storage/memory.js';
import { FakeTopics } from './fakes.js';
import { type BeatMode, World } from './world.js';

const TOPICS = ['a', 'b', 'c'];
const SLOTS = 3;

type Cmd = fc.AsyncCommand<World, World>;

const cmd = (name: string, check: (w: World) => boolean, run: (w: World) => Promise<void>): Cmd => ({
  check,
  async run(_m, w) {
    await run(w);
    await w.checkInvariants();
  },
  toString: () => name,
});

const slot = fc.nat(SLOTS - 1);
const topicsArb = fc.subarray(TOPICS, { minLength: 1 });

const beat = fc
  .tuple(slot, fc.constantFrom<BeatMode>('release', 'release', 'slow', 'omit'), fc.nat(9))
  .map(([i, mode, dice]) => {
    const lose = dice < 2;
    return cmd(
      `Beat(${i}, ${mode}${lose ? ', lost' : ''})`,
      (w) => w.clients[i]!.active && !w.clients[i]!.paused,
      (w) => w.beat(w.clients[i]!, mode, lose),
    );
  });

const join = fc.tuple(slot, topicsArb, fc.constantFrom(6000, 12_000)).map(([i, topics, session]) =>
  cmd(
    `Join(${i}, ${topics}, ${session})`,
    (w) => !w.clients[i]!.active || w.clients[i]!.paused,
    (w) => w.join(w.clients[i]!, topics, session),
  ),
);

/** Heartbeats are most of what a group sees, and joins make groups: weighted up. */
const commands = [
  beat,
  beat,
  beat,
  beat,
  beat,
  join,
  join,
  fc.tuple(slot, topicsArb).map(([i, topics]) =>
    cmd(
      `Subscribe(${i}, ${topics})`,
      (w) => w.clients[i]!.active && !w.clients[i]!.paused,
      (w) => w.beat(w.clients[i]!, 'release', false, topics),
    ),
  ),
  slot.map((i) =>
    cmd(
      `Pause(${i})`,
      (w) => w.clients[i]!.active && !w.clients[i]!.paused,
      async (w) => {
        w.clients[i]!.paused = true;
      },
    ),
  ),
  slot.map((i) =>
    cmd(
      `Resume(${i})`,
      (w) => w.clients[i]!.paused,
      async (w) => {
        const c = w.clients[i]!;
        c.paused = false;
        if (c.active) await w.beat(c, 'release');
      },
    ),
  ),
  slot.map((i) =>
    cmd(
      `Leave(${i})`,
      (w) => w.clients[i]!.active && !w.clients[i]!.paused,
      (w) => w.leave(w.clients[i]!),
    ),
  ),
  fc.tuple(fc.constantFrom(...TOPICS), fc.integer({ min: 1, max: 2 })).map(([topic, n]) =>
    cmd(
      `AddPartitions(${topic}, ${n})`,
      () => true,
      async (w) => {
        const count = (await w.topics.partitionCount(topic))!;
        if (count + n > 8) return;
        w.topics.addPartitions(topic, n);
        for (let p = count; p < count + n; p++) w.topics.produce(topic, p, 1000);
      },
    ),
  ),
  fc.constantFrom(500, 2000, 3000, 7000, 20_000).map((ms) =>
    cmd(
      `Advance(${ms})`,
      () => true,
      async (w) => w.clock.advance(ms),
    ),
  ),
  fc
    .tuple(
      slot,
      fc.boolean(),
      fc.nat(20),
      fc.integer({ min: -3, max: 8 }),
      fc.constantFrom<0 | 1 | 2>(0, 0, 0, 1, 2),
    )
    .map(([i, fromHolds, pick, delta, lag]) =>
      cmd(
        `Commit(${i}, ${fromHolds ? 'held' : 'any'} #${pick}, ${delta > 0 ? '+' : ''}${delta}, lag ${lag})`,
        (w) => w.clients[i]!.active && w.clients[i]!.epoch - lag >= 1,
        async (w) => {
          const c = w.clients[i]!;
          const candidates: [string, number][] = [];
          if (fromHolds)
            for (const [t, ps] of Object.entries(c.holds)) for (const p of ps) candidates.push([t, p]);
          if (candidates.length === 0) {
            for (const t of TOPICS) {
              const count = (await w.topics.partitionCount(t))!;
              for (let p = 0; p < count; p++) candidates.push([t, p]);
            }
          }
          const [topic, partition] = candidates[pick % candidates.length]!;
          const base = w.committed.get(`${topic}#${partition}`) ?? 0;
          await w.commit(c, topic, partition, Math.max(0, base + delta), lag);
        },
      ),
    ),
  fc.constant(
    cmd(
      'Settle',
      () => true,
      (w) => w.settle(),
    ),
  ),
];

function world(seed: number, conflicts = 0): World {
  const clock = new ManualClock();
  const memory = new MemoryMetaStore();
  // Real DynamoDB cancels transactions that overlap on an item (TransactionConflict).
  const meta = conflicts
    ? new FaultyMetaStore(memory, new FaultInjector({ seed, rates: { transact: { conflict: conflicts } } }))
    : memory;
  const topics = new FakeTopics().create('a', 3).create('b', 2).create('c', 1);
  for (const [t, n] of [
    ['a', 3],
    ['b', 2],
    ['c', 1],
  ] as const)
    for (let p = 0; p < n; p++) topics.produce(t, p, 1000);
  const groups = new GroupCoordinator({ meta, topics, clock, random: seededRandom(seed) });
  return new World(groups, meta, topics, clock, SLOTS);
}

describe('group coordinator (model-based)', () => {
  it('keeps one owner per partition, fences stale commits, and settles balanced', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.commands(commands, { maxCommands: 50, size: 'max' }),
        fc.nat(),
        async (cmds, seed) => {
          const w = world(seed);
          try {
            await fc.asyncModelRun(() => ({ model: w, real: w }), cmds);
            await w.settle();
          } catch (err) {
            (err as Error).message += `\n--- log ---\n${w.log.join('\n')}`;
            throw err;
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps the same promises when DynamoDB cancels transactions for conflicts', async () => {
    let cancelled = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.commands(commands, { maxCommands: 50, size: 'max' }),
        fc.nat(),
        async (cmds, seed) => {
          const w = world(seed, 0.2);
          try {
            await fc.asyncModelRun(() => ({ model: w, real: w }), cmds);
            await w.settle();
            cancelled += w.cancelled;
          } catch (err) {
            (err as Error).message += `\n--- log ---\n${w.log.join('\n')}`;
            throw err;
          }
        },
      ),
      { numRuns: 100 },
    );
    expect(cancelled).toBeGreaterThan(100);
  });
});
