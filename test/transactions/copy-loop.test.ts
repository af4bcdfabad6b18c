/**
 * Kafka's TransactionsTest, Sluice's way: a consume-transform-produce loop copies an input
 * topic to an output topic in transactions (records and the group's offsets committed
 * together) and is killed at random, many times, by a seeded schedule: it dies before a
 * storage call, dies after one (the answer lost), or freezes and comes back as a zombie
 * after its successor has started. Some transactions are aborted on purpose.
 *
 * The output must equal the input exactly: per partition the same records in the same
 * order, 0 duplicates, 0 losses — so nothing aborted, nothing a zombie sent, and no partial
 * transaction ever became visible (the output is checked after every death, as any reader
 * would see it). Every zombie must be fenced.
 *
 * 100,000 records on files+SQLite; moto is slower per call, so its run is scaled down.
 */
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../core/clock.js';
import { SluiceError } from '../../core/errors.js';
import type { MetaStore, ObjectStore } from '../../core/ports.js';
import type { RecordInput } from '../../core/records/index.js';
import { run } from '../helpers/engine.js';
import { Killed, type KillMode, KillSwitch, killable } from '../helpers/killable.js';
import { makeStores } from '../helpers/stores.js';
import { txEngine } from '../helpers/transactions.js';

const PARTITIONS = 4;
const dec = new TextDecoder();
const ID = 'copier';
const GROUP = 'copy';

interface Stats {
  copiers: number;
  kills: Record<KillMode, number>;
  zombiesFenced: number;
  commits: number;
  aborts: number;
}

/** One copier process: its own engine (caches, clock) over stores that may kill it. */
class Copier {
  readonly e;
  private producer?: { producerId: string; epoch: number; transaction: number };
  constructor(
    stores: { meta: MetaStore; objects: ObjectStore },
    readonly sw: KillSwitch,
    seed: number,
    private readonly perTx: number,
    private readonly stats: Stats,
  ) {
    this.e = txEngine(killable(stores, sw), seed);
  }

  /** A pause is armed after the init: a zombie is a producer that had taken the id. */
  async init(): Promise<void> {
    if (this.sw.mode === 'pause') this.sw.armed = false;
    this.producer = await this.e.tx.init(ID);
    this.sw.armed = true;
  }

  /** Copies until the group's offsets reach the input's end. */
  async run(ends: number[]): Promise<void> {
    const p = this.producer!;
    for (;;) {
      const committed = new Map(
        (
          await this.e.groups
            .fetchOffsets(GROUP)
            .catch(() => ({ offsets: [] as { partition: number; offset: number }[] }))
        ).offsets.map((o) => [o.partition, o.offset]),
      );
      const from = ends.map((_, i) => committed.get(i) ?? 0);
      if (from.every((f, i) => f === ends[i])) return;
      let seq = 0;
      const offsets: { topic: string; partition: number; offset: number }[] = [];
      for (let part = 0; part < PARTITIONS; part++) {
        if (from[part] === ends[part]) continue;
        const got = await this.e.reader.fetchRecords('in', part, from[part]!, {
          maxRecords: this.perTx,
          maxBytes: 8 << 20,
        });
        const recs: RecordInput[] = got.records.map((r) => ({
          key: r.key,
          value: r.value,
          timestamp: r.timestamp,
        }));
        if (recs.length === 0) continue;
        await this.e.tx.send(ID, p, p.transaction, seq++, [run('out', part, recs)]);
        offsets.push({ topic: 'in', partition: part, offset: got.records.at(-1)!.offset + 1 });
      }
      await this.e.tx.sendOffsets(ID, p, p.transaction, seq++, { groupId: GROUP, offsets });
      if (this.e.random() < 0.15) {
        await this.e.tx.abort(ID, p, p.transaction);
        this.stats.aborts++;
      } else {
        await this.e.tx.commit(ID, p, p.transaction);
        this.stats.commits++;
      }
      p.transaction++;
    }
  }
}

async function copyLoop(
  kind: 'sqlite' | 'aws',
  total: number,
  perTx: number,
  rounds: number,
  killWindow: number,
  seed: number,
) {
  const stores = await makeStores(kind);
  try {
    const admin = txEngine(stores, seed);
    await admin.topics.create('in', PARTITIONS);
    await admin.topics.create('out', PARTITIONS);
    const enc = new TextEncoder();
    const input: string[][] = Array.from({ length: PARTITIONS }, () => []);
    for (let start = 0; start < total; start += 2000) {
      const runs = Array.from({ length: PARTITIONS }, (_, part) => {
        const recs: RecordInput[] = [];
        for (let i = start + part; i < Math.min(total, start + 2000); i += PARTITIONS) {
          recs.push({ key: enc.encode(`k${i}`), value: enc.encode(`v${i}`), timestamp: 1000 + i });
          input[part]!.push(`v${i}`);
        }
        return run('in', part, recs);
      });
      await admin.appender.append(runs);
    }
    const ends = input.map((l) => l.length);

    const random = seededRandom(seed);
    const stats: Stats = {
      copiers: 0,
      kills: { before: 0, after: 0, pause: 0 },
      zombiesFenced: 0,
      commits: 0,
      aborts: 0,
    };
    /** What any reader sees of the output is a prefix of the input, partition by partition. */
    const seen = input.map(() => 0);
    const checkPrefix = async () => {
      for (let part = 0; part < PARTITIONS; part++) {
        const hwm = (await admin.reader.highWatermarks('out', [part]))[0]!;
        while (seen[part]! < hwm) {
          const got = await admin.reader.fetchRecords('out', part, seen[part]!, { maxBytes: 8 << 20 });
          const values = got.records.map((r) => dec.decode(r.value!));
          expect(values).toEqual(input[part]!.slice(seen[part]!, seen[part]! + values.length));
          seen[part] = got.nextOffset;
        }
      }
    };
    let zombie: { copier: Copier; done: Promise<unknown> } | undefined;
    for (let round = 0; ; round++) {
      expect(round).toBeLessThan(2000);
      const modes: KillMode[] = ['before', 'after', 'pause'];
      const mode = modes[Math.floor(random() * 3)]!;
      // Late rounds run unkilled so the copy ends.
      const killAt = round < rounds ? 1 + Math.floor(random() * killWindow) : Number.POSITIVE_INFINITY;
      const copier = new Copier(stores, new KillSwitch(killAt, mode), seed * 1000 + round, perTx, stats);
      stats.copiers++;
      try {
        await copier.init();
      } catch (err) {
        if (!(err instanceof Killed)) throw err;
        stats.kills[mode]++;
        if (mode === 'pause') throw new Error('unreachable: a pause does not throw');
        continue;
      }
      if (zombie) {
        // The frozen predecessor wakes up after its successor took the id: it is fenced.
        zombie.copier.sw.release();
        const outcome = await zombie.done;
        expect(outcome === 'fenced' || outcome === 'finished').toBe(true);
        if (outcome === 'fenced') stats.zombiesFenced++;
        zombie = undefined;
      }
      const done = copier.run(ends).then(
        () => 'finished',
        (err: unknown) => {
          if (err instanceof Killed) return 'killed';
          if (err instanceof SluiceError && err.code === 'INVALID_PRODUCER_EPOCH') return 'fenced';
          throw err;
        },
      );
      const first = await Promise.race([done, copier.sw.paused.then(() => 'paused')]);
      if (first === 'paused') {
        stats.kills.pause++;
        zombie = { copier, done };
        await checkPrefix();
        continue;
      }
      if (first === 'finished') break;
      expect(first).toBe('killed');
      stats.kills[mode]++;
      await checkPrefix();
    }
    // A zombie left frozen at the end is released too (TypeScript cannot see the loop set it).
    const last = zombie as { copier: Copier; done: Promise<unknown> } | undefined;
    if (last) {
      last.copier.sw.release();
      await last.done;
    }
    for (let part = 0; part < PARTITIONS; part++) {
      const out = await admin.readAll('out', part);
      expect(out.map((r) => r.value)).toEqual(input[part]); // exact: order, no duplicate, no loss
      expect(out.map((r) => r.offset)).toEqual(input[part]!.map((_, i) => i));
    }
    expect((await admin.groups.fetchOffsets(GROUP)).offsets.map((o) => o.offset)).toEqual(ends);
    return stats;
  } finally {
    await stores.cleanup();
  }
}

describe('copy loop killed at random (exactly-once)', () => {
  it('copies 100,000 records exactly on files+SQLite', { timeout: 120_000 }, async () => {
    const stats = await copyLoop('sqlite', 100_000, 1_000, 60, 300, 15);
    console.log('sqlite copy loop', JSON.stringify(stats));
    expect(stats.kills.before + stats.kills.after + stats.kills.pause).toBeGreaterThanOrEqual(30);
    expect(stats.zombiesFenced).toBeGreaterThan(3);
    expect(stats.aborts).toBeGreaterThan(0);
  });

  it('copies exactly on moto (scaled: 800 records, 12 killed copiers)', { timeout: 120_000 }, async () => {
    const stats = await copyLoop('aws', 800, 50, 12, 60, 16);
    console.log('moto copy loop', JSON.stringify(stats));
    expect(stats.kills.before + stats.kills.after + stats.kills.pause).toBeGreaterThanOrEqual(8);
    expect(stats.zombiesFenced).toBeGreaterThanOrEqual(2);
    expect(stats.aborts).toBeGreaterThan(0);
  });
});
