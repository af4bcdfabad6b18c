/**
 * A simulated consumer-group world for model-based tests: clients that join, heartbeat,
 * pause (a crash or a long GC pause), lose responses, change subscriptions and commit,
 * against a {@link GroupCoordinator} on a ManualClock. The clients' knowledge is the model;
 * {@link World.checkInvariants} compares it with the group item after every step.
 */
import { expect } from 'vitest';
import type { ManualClock } from '../../core/clock.js';
import { SluiceError } from '../../core/errors.js';
import type { GroupCoordinator } from '../../core/groups/coordinator.js';
import type { HeartbeatResponse } from '../../core/groups/membership.js';
import { type GroupState, held, isLive } from '../../core/groups/model.js';
import {
  EMPTY,
  equals,
  fromList,
  has,
  intersect,
  isEmpty,
  minus,
  type TopicPartitions,
  union,
} from '../../core/groups/partition-sets.js';
import { readGroup } from '../../core/groups/store.js';
import type { MetaStore } from '../../core/ports.js';
import type { FakeTopics } from './fakes.js';

export const GROUP = 'model';

export interface Client {
  slot: number;
  memberId: string | undefined;
  epoch: number;
  /** The assignment of the last response received. */
  assignment: TopicPartitions;
  /** What the client consumes: its assignment plus revoked partitions not yet released. */
  holds: TopicPartitions;
  topics: string[];
  sessionTimeoutMs: number;
  active: boolean;
  paused: boolean;
}

/** How a heartbeat reports ownership. */
export type BeatMode = 'release' | 'slow' | 'omit';

export class World {
  readonly clients: Client[];
  /** The last offset known committed per `topic#partition`. */
  readonly committed = new Map<string, number>();
  readonly log: string[] = [];
  /** Calls refused as retriable (and sent again). */
  cancelled = 0;

  constructor(
    readonly groups: GroupCoordinator,
    readonly meta: MetaStore,
    readonly topics: FakeTopics,
    readonly clock: ManualClock,
    slots: number,
  ) {
    this.clients = Array.from({ length: slots }, (_, slot) => ({
      slot,
      memberId: undefined,
      epoch: 0,
      assignment: EMPTY,
      holds: EMPTY,
      topics: [],
      sessionTimeoutMs: 6000,
      active: false,
      paused: false,
    }));
  }

  /**
   * Calls the coordinator as a client does: a retriable refusal (a transaction DynamoDB
   * cancelled for a conflict, injected by the `faulty` decorator) changed nothing, so the
   * call is sent again.
   */
  private async retried<T>(call: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await call();
      } catch (err) {
        if (!(err instanceof SluiceError) || !err.retriable || attempt >= 50) throw err;
        this.cancelled++;
      }
    }
  }

  private reset(c: Client): void {
    c.active = false;
    c.epoch = 0;
    c.assignment = EMPTY;
    c.holds = EMPTY;
  }

  private accept(c: Client, r: HeartbeatResponse): void {
    expect(r.memberEpoch).toBeGreaterThanOrEqual(1);
    c.memberId = r.memberId;
    c.epoch = r.memberEpoch;
    c.assignment = fromList(r.assignment);
    // New partitions are consumed at once; revoked ones until the client releases them.
    c.holds = union(c.holds, c.assignment);
  }

  async join(c: Client, topics: string[], sessionTimeoutMs: number): Promise<void> {
    this.reset(c);
    c.paused = false;
    c.topics = topics;
    c.sessionTimeoutMs = sessionTimeoutMs;
    const r = await this.retried(() =>
      this.groups.heartbeat(GROUP, {
        memberId: c.memberId ?? null,
        memberEpoch: 0,
        topics,
        sessionTimeoutMs,
      }),
    );
    c.active = true;
    this.accept(c, r);
    this.log.push(`join ${c.slot} ${topics} -> ${r.memberEpoch} ${JSON.stringify(r.assignment)}`);
  }

  /**
   * One heartbeat. `release`: stop consuming revoked partitions first; `slow`: keep
   * consuming them (reported in ownedPartitions); `omit`: release, and send no
   * ownedPartitions. `lose`: the server acts but the response never arrives.
   */
  async beat(c: Client, mode: BeatMode, lose = false, topics?: string[]): Promise<void> {
    if (mode !== 'slow') c.holds = c.assignment;
    try {
      const r = await this.retried(() =>
        this.groups.heartbeat(GROUP, {
          memberId: c.memberId!,
          memberEpoch: c.epoch,
          ownedPartitions:
            mode === 'omit'
              ? null
              : Object.entries(c.holds).map(([topic, partitions]) => ({
                  topic,
                  partitions: [...partitions],
                })),
          topics: topics ?? null,
        }),
      );
      if (topics) c.topics = topics;
      if (!lose) this.accept(c, r);
      this.log.push(
        `beat ${c.slot} ${mode}${lose ? ' lost' : ''} -> ${r.memberEpoch} ${JSON.stringify(r.assignment)}`,
      );
    } catch (err) {
      if (!(err instanceof SluiceError)) throw err;
      expect(['UNKNOWN_MEMBER_ID', 'FENCED_MEMBER_EPOCH']).toContain(err.code);
      this.log.push(`beat ${c.slot} -> ${err.code}`);
      this.reset(c);
    }
  }

  async leave(c: Client): Promise<void> {
    await this.retried(() => this.groups.heartbeat(GROUP, { memberId: c.memberId!, memberEpoch: -1 }));
    this.log.push(`leave ${c.slot}`);
    this.reset(c);
  }

  async state(): Promise<GroupState | undefined> {
    return (await readGroup(this.meta, GROUP)).state;
  }

  /** Commits `offset` for a partition at an epoch `lag` behind the client's, checking the outcome. */
  async commit(c: Client, topic: string, partition: number, offset: number, lag: 0 | 1 | 2): Promise<void> {
    const now = this.clock.now();
    const state = await this.state();
    const member = state?.members[c.memberId!];
    const live = member !== undefined && isLive(member, now);
    const epoch = c.epoch - lag;
    const key = `${topic}#${partition}`;
    const committed = this.committed.get(key);
    const heldByOther = Object.entries(state?.members ?? {}).some(
      ([id, m]) => id !== c.memberId && isLive(m, now) && has(held(m), topic, partition),
    );
    let outcome = 'OK';
    try {
      await this.retried(() =>
        this.groups.commitOffsets(GROUP, {
          memberId: c.memberId!,
          memberEpoch: epoch,
          offsets: [{ topic, partition, offset }],
        }),
      );
    } catch (err) {
      if (!(err instanceof SluiceError)) throw err;
      outcome = err.code;
    }
    this.log.push(`commit ${c.slot} ${key}@${offset} epoch ${epoch} (server ${member?.epoch}) -> ${outcome}`);
    if (!live) expect(outcome).toBe('UNKNOWN_MEMBER_ID');
    else if (epoch !== member.epoch && epoch !== member.previousEpoch)
      expect(outcome).toBe('FENCED_MEMBER_EPOCH');
    else if (heldByOther) expect(outcome).toBe('FENCED_MEMBER_EPOCH');
    if (outcome === 'OK') {
      // Accepted only from the holder, at its epoch, forward.
      expect(live).toBe(true);
      const allowed = epoch === member!.epoch ? held(member!) : minus(held(member!), member!.granted);
      expect(has(allowed, topic, partition)).toBe(true);
      expect(offset).toBeGreaterThanOrEqual(committed ?? 0);
      this.committed.set(key, offset);
    } else if (lag === 0 && live && epoch === member.epoch && has(c.holds, topic, partition)) {
      // The holder at its current epoch is refused only for going backwards.
      expect(outcome).toBe('OFFSET_OUT_OF_RANGE');
      expect(offset).toBeLessThan(committed!);
    }
  }

  /** Invariants that hold after every step. */
  async checkInvariants(): Promise<void> {
    const now = this.clock.now();
    const state = await this.state();
    const live = Object.entries(state?.members ?? {}).filter(([, m]) => isLive(m, now));
    // Server: epochs ≥ 1; no partition held by two live members; targets disjoint.
    let seen: TopicPartitions = EMPTY;
    let targets: TopicPartitions = EMPTY;
    for (const [, m] of live) {
      expect(m.epoch).toBeGreaterThanOrEqual(1);
      expect(isEmpty(intersect(seen, held(m))), 'a partition with two owners').toBe(true);
      expect(isEmpty(intersect(targets, m.target))).toBe(true);
      seen = union(seen, held(m));
      targets = union(targets, m.target);
    }
    // Clients: what a live member's client consumes, the server counts as held by it,
    // so no two clients of live members ever consume the same partition.
    const liveIds = new Set(live.map(([id]) => id));
    let consumed: TopicPartitions = EMPTY;
    for (const c of this.clients) {
      if (!c.active || !liveIds.has(c.memberId!)) continue;
      const member = state!.members[c.memberId!]!;
      expect(isEmpty(minus(c.holds, held(member))), `client ${c.slot} consumes what it does not hold`).toBe(
        true,
      );
      expect(isEmpty(intersect(consumed, c.holds)), 'two clients consume one partition').toBe(true);
      consumed = union(consumed, c.holds);
    }
    // Committed offsets are exactly what the model saw accepted (so never went backwards).
    const stored = await this.groups.fetchOffsets(GROUP).catch(() => ({ offsets: [] }));
    for (const o of stored.offsets) expect(o.offset).toBe(this.committed.get(`${o.topic}#${o.partition}`));
  }

  /**
   * Lets every running client heartbeat (releasing) until paused ones expired and all
   * reconciled, then checks the settled group: one owner per subscribed partition, each
   * client holding exactly its assignment and target, shares per topic within one.
   */
  async settle(): Promise<void> {
    const running = () => this.clients.filter((c) => c.active && !c.paused);
    const step = 2000;
    const rounds = Math.ceil((12_000 * 1.5) / step) + 4;
    for (let i = 0; i < rounds; i++) {
      this.clock.advance(step);
      for (const c of running()) await this.beat(c, 'release');
      await this.checkInvariants();
    }
    const state = await this.state();
    const now = this.clock.now();
    const clients = running();
    if (clients.length === 0) return;
    const d = await this.groups.describeGroup(GROUP);
    expect(d.state).toBe('stable');
    expect(d.members.map((m) => m.memberId).sort()).toEqual(clients.map((c) => c.memberId).sort());
    for (const c of clients) {
      const member = state!.members[c.memberId!]!;
      expect(isLive(member, now)).toBe(true);
      expect(equals(c.holds, c.assignment)).toBe(true);
      expect(equals(c.assignment, member.target)).toBe(true);
    }
    const subscribed = new Set(clients.flatMap((c) => c.topics));
    for (const topic of subscribed) {
      const count = (await this.topics.partitionCount(topic)) ?? 0;
      const subs = clients.filter((c) => c.topics.includes(topic));
      const owners = Array.from(
        { length: count },
        (_, p) => clients.filter((c) => has(c.holds, topic, p)).length,
      );
      expect(owners, `owners of ${topic}`).toEqual(Array.from({ length: count }, () => 1));
      const shares = subs.map((c) => c.holds[topic]?.length ?? 0);
      expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
    }
  }
}
