/**
 * Consumer groups end to end over HTTP (Function URL events through the real handler), on
 * the embedded SQLite store and on DynamoDB (moto): members are concurrent async clients,
 * each running its own heartbeat-and-commit loop, so writes to the group item race and must
 * resolve by compare-and-set retry. One member crashes mid-run; the others take over its
 * partitions once its session expires.
 */
import type { LambdaFunctionURLResult } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Clock } from '../../core/clock.js';
import { seededRandom } from '../../core/clock.js';
import { ConflictError, type TransactOp } from '../../core/ports.js';
import { groupRoutes } from '../../lambdas/groups.js';
import { lambdaHandler, toEvent } from '../../lambdas/http.js';
import { ForwardingMetaStore } from '../../storage/forwarding.js';
import { makeStores, type StoreKind, type TestStores } from '../helpers/stores.js';
import { FakeTopics } from './fakes.js';

/** Real time that tests can also jump forward; sleeps are real. */
class JumpClock implements Clock {
  private skew = 0;
  now(): number {
    return Date.now() + this.skew;
  }
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
  }
  jump(ms: number): void {
    this.skew += ms;
  }
}

/** Counts lost compare-and-set races. */
class ConflictCounter extends ForwardingMetaStore {
  conflicts = 0;
  override async transact(ops: readonly TransactOp[]): Promise<void> {
    try {
      await this.inner.transact(ops);
    } catch (err) {
      if (err instanceof ConflictError) this.conflicts++;
      throw err;
    }
  }
}

interface Assignment {
  topic: string;
  partitions: number[];
}

interface Member {
  name: string;
  id: string;
  epoch: number;
  assignment: Assignment[];
  crashed: boolean;
  /** Clock time when its last heartbeat was sent. */
  lastBeat: number;
  /** Heartbeats answered. */
  beats: number;
}

const TOPIC = 'events';
const PARTITIONS = 12;
const SESSION = 6000;

const flat = (a: Assignment[]) => a.flatMap((x) => x.partitions.map((p) => `${x.topic}-${p}`));
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each<StoreKind>(['sqlite', 'aws'])('consumer groups over HTTP on %s', (kind) => {
  let stores: TestStores;
  beforeAll(async () => {
    stores = await makeStores(kind);
  });
  afterAll(async () => {
    await stores?.cleanup();
  });

  it('concurrent members share partitions without overlap, survive a crash, and commit fenced offsets', async () => {
    const clock = new JumpClock();
    const meta = new ConflictCounter(stores.meta);
    const topics = new FakeTopics().create(TOPIC, PARTITIONS);
    for (let p = 0; p < PARTITIONS; p++) topics.produce(TOPIC, p, 1_000_000);
    const handle = lambdaHandler(groupRoutes({ meta, topics, clock, random: seededRandom(11) }));
    const call = async (method: string, url: string, body?: unknown) => {
      const res = (await handle(
        toEvent({
          method,
          url,
          headers: { 'content-type': 'application/json' },
          body: body === undefined ? undefined : Buffer.from(JSON.stringify(body)),
        }),
      )) as LambdaFunctionURLResult & { statusCode: number; body: string };
      return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
    };

    // The process-wide view of who consumes what: checked on every response.
    const consuming = new Map<string, string>();
    const violations: string[] = [];
    /** Partitions of the crashed member: taken over only once its session can have expired. */
    const orphaned = new Map<string, Member>();
    const commits = { ok: 0, refused: [] as string[], last: new Map<number, number>() };
    let nextOffset = 1;

    const take = (m: Member, assignment: Assignment[]) => {
      // Revoked partitions are dropped before the heartbeat that reports them released.
      for (const [tp, owner] of consuming) if (owner === m.name) consuming.delete(tp);
      for (const tp of flat(assignment)) {
        const zombie = orphaned.get(tp);
        if (zombie && clock.now() < zombie.lastBeat + SESSION) violations.push(`${tp} taken before expiry`);
        orphaned.delete(tp);
        const other = consuming.get(tp);
        if (other !== undefined && other !== m.name) violations.push(`${tp}: ${m.name} and ${other}`);
        consuming.set(tp, m.name);
      }
      m.assignment = assignment;
    };

    const join = async (name: string): Promise<Member> => {
      const r = await call('POST', '/v1/groups/g/heartbeat', {
        memberEpoch: 0,
        topics: [TOPIC],
        sessionTimeoutMs: SESSION,
      });
      expect(r.status).toBe(200);
      const m: Member = {
        name,
        id: r.body.memberId,
        epoch: r.body.memberEpoch,
        assignment: [],
        crashed: false,
        lastBeat: clock.now(),
        beats: 0,
      };
      take(m, r.body.assignment);
      return m;
    };

    const step = async (m: Member) => {
      m.lastBeat = clock.now();
      const r = await call('POST', '/v1/groups/g/heartbeat', {
        memberId: m.id,
        memberEpoch: m.epoch,
        ownedPartitions: m.assignment,
      });
      expect(r.status, JSON.stringify(r.body)).toBe(200);
      m.epoch = r.body.memberEpoch;
      m.beats++;
      take(m, r.body.assignment);
      const mine = flat(m.assignment);
      if (mine.length === 0) return;
      const partition = Number(mine[nextOffset % mine.length]!.split('-')[1]);
      const offset = nextOffset++;
      const c = await call('POST', '/v1/groups/g/offsets', {
        memberId: m.id,
        memberEpoch: m.epoch,
        offsets: [{ topic: TOPIC, partition, offset }],
      });
      if (c.status === 200) {
        commits.ok++;
        commits.last.set(partition, offset);
      } else commits.refused.push(`${m.name}: ${c.body.error.code}`);
    };

    const loop = async (m: Member, until: () => boolean) => {
      while (!until() && !m.crashed) {
        await step(m);
        await pause(Math.floor(Math.random() * 5));
      }
    };

    // Four members join at the same instant: their writes race.
    const members = await Promise.all(['m0', 'm1', 'm2', 'm3'].map(join));
    const racedJoins = meta.conflicts;

    // Phase 1: everyone loops until the group is stable.
    let stable = false;
    const watch = async () => {
      for (let i = 0; i < 400 && !stable; i++) {
        await pause(20);
        stable = (await call('GET', '/v1/groups/g')).body.state === 'stable';
      }
    };
    await Promise.all([watch(), ...members.map((m) => loop(m, () => stable))]);
    expect(stable).toBe(true);
    for (const m of members) expect(flat(m.assignment)).toHaveLength(3);

    // Phase 2: m0 crashes; time runs on (in steps, so live members refresh their sessions).
    const crashed = members[0]!;
    crashed.crashed = true;
    await pause(50); // its last request lands
    for (const tp of flat(crashed.assignment)) {
      consuming.delete(tp);
      orphaned.set(tp, crashed);
    }
    const survivors = members.slice(1);
    let ticking = true;
    // Time moves in lockstep with the survivors (each heartbeats between two jumps), so a
    // slow machine cannot make a live member miss its session.
    const ticker = async () => {
      for (let t = 0; t < (SESSION * 1.5) / 500 + 4; t++) {
        const seen = survivors.map((m) => m.beats);
        while (survivors.some((m, i) => m.beats === seen[i])) await pause(2);
        clock.jump(500);
      }
      ticking = false;
    };
    await Promise.all([ticker(), ...survivors.map((m) => loop(m, () => !ticking))]);

    // Phase 3: survivors settle on all twelve partitions, four each.
    stable = false;
    await Promise.all([watch(), ...survivors.map((m) => loop(m, () => stable))]);
    expect(stable).toBe(true);
    const described = (await call('GET', '/v1/groups/g')).body;
    expect(described.members.map((m: { memberId: string }) => m.memberId).sort()).toEqual(
      survivors.map((m) => m.id).sort(),
    );
    const owned = survivors.flatMap((m) => flat(m.assignment)).sort();
    expect(owned).toEqual(Array.from({ length: PARTITIONS }, (_, p) => `${TOPIC}-${p}`).sort());
    for (const m of survivors) expect(flat(m.assignment)).toHaveLength(4);

    // The crashed member is a zombie now: it can neither heartbeat nor commit.
    const zombie = await call('POST', '/v1/groups/g/offsets', {
      memberId: crashed.id,
      memberEpoch: crashed.epoch,
      offsets: [{ topic: TOPIC, partition: 0, offset: nextOffset++ }],
    });
    expect([zombie.status, zombie.body.error.code]).toEqual([404, 'UNKNOWN_MEMBER_ID']);

    expect(violations).toEqual([]);
    expect(orphaned.size).toBe(0);
    expect(commits.refused).toEqual([]);
    expect(commits.ok).toBeGreaterThan(10);
    expect(racedJoins).toBeGreaterThan(0);

    // Each partition's offset is the last one committed to it (offsets only grew).
    const offsets = (await call('GET', '/v1/groups/g/offsets')).body.offsets as {
      partition: number;
      offset: number;
    }[];
    expect(new Map(offsets.map((o) => [o.partition, o.offset]))).toEqual(commits.last);
    expect(described.lag.every((l: { lag: number | null }) => l.lag === null || l.lag > 0)).toBe(true);
  });
});
