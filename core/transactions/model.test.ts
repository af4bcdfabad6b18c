/**
 * Model-based test of the transaction state machine (fast-check): producer instances of one
 * transactional id init, send, sendOffsets, commit and abort in random order while time
 * passes and maintenance runs. After every step the log and the group's offsets must be
 * exactly what the model committed: aborted, fenced and timed-out work is never visible.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FaultInjector, FaultyMetaStore } from '../../storage/faulty.js';
import { MemoryMetaStore, MemoryObjectStore } from '../../storage/memory.js';
import { records, run } from '../../test/helpers/engine.js';
import { type TxEngine, txEngine } from '../../test/helpers/transactions.js';
import { SluiceError } from '../errors.js';
import type { TxProducer } from './coordinator.js';

const ID = 'model';
const TIMEOUT = 1000;

interface Model {
  holder: number | undefined;
  instances: number;
  open: boolean;
  deadline: number;
  pending: string[][];
  pendingOffset: number | undefined;
  visible: string[][];
  committedOffset: number | undefined;
  /** Staged objects (successful sends) of the open transaction. */
  objects: number;
  /** The coordinator's items per TransactWriteItems (its `maxTransactItems`). */
  limit: number;
}

/** True when even a large commit's commit point (objects + group item, catalog, offset + transaction item) would not fit. */
function tooLarge(m: Model, objects: number, offset: boolean): boolean {
  return objects + (offset ? 3 : 0) + 1 > m.limit;
}

interface Real {
  e: TxEngine;
  instances: (TxProducer & { txn: number; seq: number })[];
  counter: number;
  offsetCounter: number;
}

/** The outcome of a request a client retries while it fails retriably, as the SDK does. */
async function outcome(call: () => Promise<unknown>): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      await call();
      return 'ok';
    } catch (err) {
      if (err instanceof SluiceError && err.retriable && attempt < 20) continue;
      if (err instanceof SluiceError) return err.code;
      throw err;
    }
  }
}

function fence(m: Model): void {
  m.holder = undefined;
  m.open = false;
  m.pending = [[], []];
  m.pendingOffset = undefined;
  m.objects = 0;
}

/** What the model expects of an operation by instance `i`, applying timeouts first. */
function expectFor(m: Model, i: number, now: number): 'ok' | 'INVALID_PRODUCER_EPOCH' {
  if (m.holder !== i) return 'INVALID_PRODUCER_EPOCH';
  if (m.open && now > m.deadline) {
    fence(m);
    return 'INVALID_PRODUCER_EPOCH';
  }
  return 'ok';
}

async function check(m: Model, r: Real): Promise<void> {
  for (const p of [0, 1]) {
    expect((await r.e.readAll('out', p)).map((x) => x.value)).toEqual(m.visible[p]);
  }
  const offsets = await r.e.groups.fetchOffsets('g').then(
    (o) => o.offsets,
    () => [],
  );
  expect(offsets[0]?.offset).toBe(m.committedOffset);
}

class Init implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real) {
    let p: Awaited<ReturnType<typeof r.e.tx.init>> | undefined;
    expect(
      await outcome(async () => {
        p = await r.e.tx.init(ID, { timeoutMs: TIMEOUT });
      }),
    ).toBe('ok');
    if (!p) throw new Error('unreachable');
    r.instances.push({ ...p, txn: p.transaction, seq: 0 });
    m.holder = m.instances++;
    m.open = false;
    m.pending = [[], []];
    m.pendingOffset = undefined;
    m.objects = 0;
    await check(m, r);
  }
  toString = () => 'init';
}

abstract class ByInstance implements fc.AsyncCommand<Model, Real> {
  constructor(readonly which: number) {}
  check = (m: Readonly<Model>) => m.instances > 0;
  abstract run(m: Model, r: Real): Promise<void>;
  protected pick(m: Model, r: Real) {
    // A negative `which`: the latest instance (the holder, unless fenced since).
    const i = this.which < 0 ? m.instances - 1 : this.which % m.instances;
    return { i, inst: r.instances[i]! };
  }
}

class Send extends ByInstance {
  constructor(
    which: number,
    readonly partition: number,
    readonly n: number,
  ) {
    super(which);
  }
  override async run(m: Model, r: Real) {
    const { i, inst } = this.pick(m, r);
    const prefix = `r${r.counter++}-`;
    let want: string = expectFor(m, i, r.e.clock.now());
    if (want === 'ok' && tooLarge(m, m.objects + 1, m.pendingOffset !== undefined))
      want = 'TRANSACTION_TOO_LARGE';
    const seq = want === 'TRANSACTION_TOO_LARGE' ? inst.seq : inst.seq++;
    const got = await outcome(() =>
      r.e.tx.send(ID, inst, inst.txn, seq, [run('out', this.partition, records(this.n, { prefix }))]),
    );
    expect(got).toBe(want);
    if (want === 'ok') {
      if (!m.open) m.deadline = r.e.clock.now() + TIMEOUT;
      m.open = true;
      m.objects++;
      m.pending[this.partition]!.push(...Array.from({ length: this.n }, (_, k) => `${prefix}${k}`));
    }
    await check(m, r);
  }
  override toString = () => `send(${this.which}, p${this.partition}, ${this.n})`;
}

class SendOffsets extends ByInstance {
  override async run(m: Model, r: Real) {
    const { i, inst } = this.pick(m, r);
    const offset = ++r.offsetCounter;
    let want: string = expectFor(m, i, r.e.clock.now());
    if (want === 'ok' && tooLarge(m, m.objects, true)) want = 'TRANSACTION_TOO_LARGE';
    const seq = want === 'TRANSACTION_TOO_LARGE' ? inst.seq : inst.seq++;
    const got = await outcome(() =>
      r.e.tx.sendOffsets(ID, inst, inst.txn, seq, {
        groupId: 'g',
        offsets: [{ topic: 'in', partition: 0, offset }],
      }),
    );
    expect(got).toBe(want);
    if (want === 'ok') {
      if (!m.open) m.deadline = r.e.clock.now() + TIMEOUT;
      m.open = true;
      m.pendingOffset = offset;
    }
    await check(m, r);
  }
  override toString = () => `sendOffsets(${this.which})`;
}

class End extends ByInstance {
  constructor(
    which: number,
    readonly commit: boolean,
  ) {
    super(which);
  }
  override async run(m: Model, r: Real) {
    const { i, inst } = this.pick(m, r);
    const want = expectFor(m, i, r.e.clock.now());
    const got = await outcome(() =>
      this.commit ? r.e.tx.commit(ID, inst, inst.txn) : r.e.tx.abort(ID, inst, inst.txn),
    );
    expect(got).toBe(want);
    if (want === 'ok') {
      inst.txn++;
      inst.seq = 0;
      if (this.commit) {
        m.pending.forEach((p, k) => {
          m.visible[k]!.push(...p);
        });
        if (m.pendingOffset !== undefined) m.committedOffset = m.pendingOffset;
      }
      m.open = false;
      m.pending = [[], []];
      m.pendingOffset = undefined;
      m.objects = 0;
    }
    await check(m, r);
  }
  override toString = () => `${this.commit ? 'commit' : 'abort'}(${this.which})`;
}

class Advance implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(_m: Model, r: Real) {
    r.e.clock.advance(this.ms);
  }
  toString = () => `advance(${this.ms})`;
}

class Maintenance implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real) {
    const aborted = await r.e.tx.abortExpired();
    const expired = m.open && r.e.clock.now() > m.deadline;
    expect(aborted).toBe(expired ? 1 : 0);
    if (expired) fence(m);
    await check(m, r);
  }
  toString = () => 'maintenance';
}

/**
 * A fresh world; `conflicts` > 0 cancels that share of DynamoDB transactions as real DynamoDB
 * does (TransactionConflict). `maxTransactItems` lowers the coordinator's single-transaction
 * limit so that most commits take the large-commit path (DESIGN.md §13); `steps` counts
 * the large commits that passed their commit point.
 */
async function world(seed: number, conflicts = 0, maxTransactItems?: number) {
  const memory = { meta: new MemoryMetaStore(), objects: new MemoryObjectStore() };
  const faults = new FaultInjector({ seed, rates: { transact: { conflict: conflicts } } });
  faults.enabled = false;
  const steps = { committed: 0 };
  const e = txEngine({ meta: new FaultyMetaStore(memory.meta, faults), objects: memory.objects }, 1, {
    maxTransactItems,
    onCommitStep: (s) => {
      if (s === 'committed') steps.committed++;
    },
  });
  await e.topics.create('in', 1);
  await e.topics.create('out', 2);
  await e.appender.append([run('in', 0, records(200))]);
  faults.enabled = conflicts > 0;
  return { e, faults, steps };
}

const commands = [
  fc.constant(new Init()),
  fc
    .tuple(fc.nat(3), fc.integer({ min: 0, max: 1 }), fc.integer({ min: 1, max: 3 }))
    .map(([w, p, n]) => new Send(w, p, n)),
  fc.nat(3).map((w) => new SendOffsets(w)),
  fc.tuple(fc.nat(3), fc.boolean()).map(([w, c]) => new End(w, c)),
  fc.integer({ min: 0, max: 1500 }).map((ms) => new Advance(ms)),
  fc.constant(new Maintenance()),
];

/** Mostly the latest instance sending and committing: commits gather several sends, so they take the large path. */
const latest = fc.constantFrom(-1, -1, -1, 0, 1);
const largeCommands = [
  fc.constant(new Init()),
  fc
    .tuple(latest, fc.integer({ min: 0, max: 1 }), fc.integer({ min: 1, max: 3 }))
    .map(([w, p, n]) => new Send(w, p, n)),
  fc
    .tuple(latest, fc.integer({ min: 0, max: 1 }), fc.integer({ min: 1, max: 3 }))
    .map(([w, p, n]) => new Send(w, p, n)),
  latest.map((w) => new SendOffsets(w)),
  fc.tuple(latest, fc.boolean()).map(([w, c]) => new End(w, c)),
  latest.map((w) => new End(w, true)),
  fc.integer({ min: 0, max: 1500 }).map((ms) => new Advance(ms)),
  fc.constant(new Maintenance()),
];

function emptyModel(limit = 100): Model {
  return {
    objects: 0,
    limit,
    holder: undefined,
    instances: 0,
    open: false,
    deadline: 0,
    pending: [[], []],
    pendingOffset: undefined,
    visible: [[], []],
    committedOffset: undefined,
  };
}

describe('transaction state machine (model-based)', () => {
  it('shows exactly the committed transactions, whatever the interleaving of instances, timeouts and maintenance', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { maxCommands: 30 }), async (cmds) => {
        const { e } = await world(1);
        const model = emptyModel();
        await fc.asyncModelRun(
          () => ({ model, real: { e, instances: [], counter: 0, offsetCounter: 0 } }),
          cmds,
        );
      }),
      { numRuns: 200, seed: 15 },
    );
  });

  it('keeps the same promises when DynamoDB cancels init, send, sendOffsets, commit, abort and the timeout sweep for conflicts', async () => {
    let cancelled = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.commands(commands, { maxCommands: 50, size: 'max' }),
        fc.nat(),
        async (cmds, seed) => {
          const { e, faults } = await world(seed, 0.3);
          const model = emptyModel();
          await fc.asyncModelRun(
            () => ({ model, real: { e, instances: [], counter: 0, offsetCounter: 0 } }),
            cmds,
          );
          cancelled += faults.events.filter((f) => f.fault === 'conflict').length;
        },
      ),
      { numRuns: 200, seed: 16 },
    );
    expect(cancelled).toBeGreaterThan(100);
  });

  it('keeps them when commits take the large-commit path (marks, commit point, roll-forward) under conflicts', async () => {
    let cancelled = 0;
    let large = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.commands(largeCommands, { maxCommands: 40, size: 'max' }),
        fc.nat(),
        async (cmds, seed) => {
          // 6 items: a commit of records and an offset, or to both partitions, is large; more than 5
          // sends (2 with an offset) is too large even for its commit point, as the model expects.
          const { e, faults, steps } = await world(seed, 0.3, 6);
          const model = emptyModel(6);
          await fc.asyncModelRun(
            () => ({ model, real: { e, instances: [], counter: 0, offsetCounter: 0 } }),
            cmds,
          );
          cancelled += faults.events.filter((f) => f.fault === 'conflict').length;
          large += steps.committed;
        },
      ),
      { numRuns: 100, seed: 17 },
    );
    expect(cancelled).toBeGreaterThan(100);
    expect(large).toBeGreaterThan(10);
  });
});
