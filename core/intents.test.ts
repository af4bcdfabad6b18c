/**
 * Cross-instance combining (core/intents.ts) under faults, in virtual time: several
 * instances (separate Appenders, caches and randomness) append to one partition for
 * idempotent producers over DynamoDB's modelled timing (overlapping transactions cancel
 * each other), with lost answers, injected conflicts, failed polls, and instances that
 * crash right after storing a write intent or right after a combined commit. Producers
 * retry on another instance, as a Lambda client does.
 */
import { describe, expect, it } from 'vitest';
import { FaultInjector, FaultyMetaStore } from '../storage/faulty.js';
import { MemoryMetaStore, MemoryObjectStore } from '../storage/memory.js';
import { ModelledMetaStore, ModelledObjectStore } from '../storage/modelled.js';
import { records, run } from '../test/helpers/engine.js';
import { drive } from '../test/helpers/virtual-time.js';
import { Appender, type AppendResult } from './append.js';
import { ManualClock, type Random, seededRandom } from './clock.js';
import { keys } from './keys.js';
import type { ItemKey, MetaStore, QueryOptions, SortKeyRange, TransactOp } from './ports.js';
import { Topics } from './topics.js';

const counts = { intents: 0, combined: 0, crashAfterIntent: 0, crashAfterCombined: 0 };

/**
 * A meta store that dies: after a transaction storing intents (or committing some), with
 * probability `rate`, the instance crashes before learning the outcome, and no call of it
 * reaches the store after.
 */
class CrashingMetaStore implements MetaStore {
  crashed = false;
  constructor(
    private readonly inner: MetaStore,
    private readonly random: Random,
    private readonly rate: number,
  ) {}
  private check(): void {
    if (this.crashed) throw new Error('instance crashed');
  }
  async get(key: ItemKey) {
    this.check();
    return this.inner.get(key);
  }
  async batchGet(keys: readonly ItemKey[]) {
    this.check();
    return this.inner.batchGet(keys);
  }
  async query(pk: string, range?: SortKeyRange, options?: QueryOptions) {
    this.check();
    return this.inner.query(pk, range, options);
  }
  async transact(ops: readonly TransactOp[]) {
    this.check();
    await this.inner.transact(ops);
    const intents = ops.filter((op) => op.type === 'put' && op.key.sk.startsWith(keys.intentPrefix)).length;
    const combined =
      ops.some((op) => op.key.sk === 'head') && ops.some((op) => op.key.sk.startsWith(keys.intentPrefix));
    counts.intents += intents;
    if (combined) counts.combined++;
    if ((intents > 0 || combined) && this.random() < this.rate) {
      this.crashed = true;
      if (combined) counts.crashAfterCombined++;
      else counts.crashAfterIntent++;
      this.check();
    }
  }
}

const INSTANCES = 6;
const PRODUCERS = 8;
const REQUESTS = 6;
const RECORDS = 2;

async function scenario(seed: number, combine: boolean) {
  const clock = new ManualClock(1_700_000_000_000);
  const random = seededRandom(seed);
  const inner = new MemoryMetaStore();
  const modelled = new ModelledMetaStore(inner, { clock, random });
  const objects = new ModelledObjectStore(new MemoryObjectStore(), { clock, random });
  const topic = await drive(clock, new Topics(modelled, { clock, random }).create('t', 1));
  let generation = 0;
  const instance = () => {
    const n = ++generation;
    const r = seededRandom(seed * 1000 + n);
    const faults = new FaultInjector({
      seed: seed * 1000 + n,
      rates: {
        transact: { after: 0.08, conflict: 0.05, throttle: 0.02 },
        query: { before: 0.05 },
        batchGet: { before: 0.05 },
      },
    });
    const meta = new CrashingMetaStore(new FaultyMetaStore(modelled, faults), r, combine ? 0.1 : 0);
    const topics = new Topics(meta, { clock, random: r });
    return { meta, appender: new Appender({ meta, objects, topics, clock, random: r, combine }) };
  };
  const instances = Array.from({ length: INSTANCES }, instance);
  let crashes = 0;
  const acks: { producer: number; request: number; result: AppendResult }[] = [];
  const producer = async (p: number) => {
    for (let request = 0; request < REQUESTS; request++) {
      const batch = run('t', 0, records(RECORDS, { prefix: `p${p}-r${request}-` }), {
        id: BigInt(1000 + p),
        epoch: 0,
        seq: request * RECORDS,
      });
      for (let attempt = 0; ; attempt++) {
        if (attempt > 50) throw new Error(`p${p} r${request}: no ack after 50 attempts`);
        const slot = (p + attempt) % INSTANCES;
        const target = instances[slot]!;
        try {
          const [result] = await target.appender.append([batch]);
          if (target.meta.crashed) throw new Error('crashed: the answer never left');
          acks.push({ producer: p, request, result: result! });
          break;
        } catch {
          // A crashed instance is replaced (its client saw the connection drop).
          if (target.meta.crashed && instances[slot] === target) {
            instances[slot] = instance();
            crashes++;
          }
          await clock.sleep(5 + 20 * random());
        }
      }
    }
  };
  await drive(clock, Promise.all(Array.from({ length: PRODUCERS }, (_, p) => producer(p))));
  const head = (await inner.get(keys.head(topic.id, 0)))?.data as { next: number };
  return { acks, head, crashes, inner, topicId: topic.id };
}

describe('combining across instances under faults', () => {
  it('acks every request exactly once at its offsets, in producer order, through crashes around intents', async () => {
    for (const key of Object.keys(counts)) counts[key as keyof typeof counts] = 0;
    const { acks, head, crashes } = await scenario(3, true);
    // Nothing lost, nothing duplicated: every request acked, the log holds exactly the
    // acked records, and their offsets tile it.
    expect(acks).toHaveLength(PRODUCERS * REQUESTS);
    expect(head.next).toBe(PRODUCERS * REQUESTS * RECORDS);
    const bases = acks.map((a) => a.result.baseOffset).sort((a, b) => a - b);
    expect(bases).toEqual(Array.from({ length: PRODUCERS * REQUESTS }, (_, i) => i * RECORDS));
    // Order per producer: each one's requests landed in the order it sent them.
    for (let p = 0; p < PRODUCERS; p++) {
      const mine = acks.filter((a) => a.producer === p);
      expect(mine.map((a) => a.request)).toEqual([...Array(REQUESTS).keys()]);
      const offsets = mine.map((a) => a.result.baseOffset);
      expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
    }
    // The run went through what it is about.
    expect(counts.intents).toBeGreaterThan(20);
    expect(counts.combined).toBeGreaterThan(5);
    expect(counts.crashAfterIntent).toBeGreaterThan(0);
    expect(counts.crashAfterCombined).toBeGreaterThan(0);
    expect(crashes).toBeGreaterThan(1);
  }, 60_000);

  it('racing only (combine: false) under the same faults also loses and duplicates nothing, and stores no intent', async () => {
    for (const key of Object.keys(counts)) counts[key as keyof typeof counts] = 0;
    const { acks, head, inner, topicId } = await scenario(4, false);
    expect(acks).toHaveLength(PRODUCERS * REQUESTS);
    expect(head.next).toBe(PRODUCERS * REQUESTS * RECORDS);
    expect(counts.intents).toBe(0);
    const pending = await inner.query(keys.partitionPk(topicId, 0), { beginsWith: keys.intentPrefix });
    expect(pending.items).toEqual([]);
  }, 60_000);
});
