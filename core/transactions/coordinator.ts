/**
 * Transactional producers (DESIGN.md "Transactions"): a producer writes to several
 * partitions and commits the consumer offsets it read from, all or nothing.
 *
 * - `init` bumps the epoch of the transactional id (fencing every earlier producer with it)
 *   and aborts a transaction left open.
 * - `send` PUTs the records as a segment object that no index entry references, and records
 *   the send in the transaction item, conditioned on its version (so on the epoch).
 * - `sendOffsets` records consumer offsets to commit with the transaction.
 * - `commit` is ONE DynamoDB transaction: every partition's head moves, every run gets its
 *   index entry, every object its registry item, the group's offsets are written (checked
 *   against the member's fencing and the group item's version) and the transaction item
 *   ends — all conditioned on the versions read. Until it lands nothing is visible; after,
 *   everything is. Readers need no isolation level and never stall.
 * - `abort` ends the transaction; its objects are left to orphan GC.
 *
 * A transaction is bounded by one TransactWriteItems (100 items): a send or sendOffsets that
 * would take the commit above it is refused with TRANSACTION_TOO_LARGE and changes nothing.
 */
import type { Appender, AppendRun } from '../append.js';
import { casUpdate } from '../cas.js';
import type { Clock, Random } from '../clock.js';
import { InvalidRequestError, SluiceError, UnavailableError } from '../errors.js';
import { emptyGroup, encodeGroup } from '../groups/model.js';
import { checkAgainstLog, checkCommitAllowed, checkForward, isNoop, offsetData } from '../groups/offsets.js';
import type { TopicView } from '../groups/ports.js';
import { validateCommit } from '../groups/requests.js';
import { readGroup } from '../groups/store.js';
import { validateGroupId } from '../groups/validate.js';
import { type Head, headToData, readHeads } from '../heads.js';
import { keys } from '../keys.js';
import {
  ConflictError,
  type Item,
  type ItemData,
  META_LIMITS,
  type MetaStore,
  type TransactOp,
} from '../ports.js';
import { initProducer } from '../producers.js';
import { abortExpiredTransactions } from './expire.js';
import {
  type CommitStepHook,
  finishCommit,
  fitsLargeCommit,
  indexPuts,
  partitionsOf,
  prepareHeads,
} from './large-commit.js';
import {
  afterInit,
  afterSend,
  afterTimeout,
  type CommittedPartition,
  checkProducer,
  decodeState,
  encodeSend,
  encodeState,
  ended,
  isExpired,
  type StagedSend,
  sendField,
  type TxState,
} from './state.js';

export const DEFAULT_TRANSACTION_TIMEOUT_MS = 60_000;
/** Kafka's transaction.max.timeout.ms; orphan GC's grace period must stay above it. */
export const MAX_TRANSACTION_TIMEOUT_MS = 15 * 60_000;
const MAX_ID_CHARS = 200;
const MAX_SEQUENCE = 999_999_999;

export interface TransactionDeps {
  meta: MetaStore;
  appender: Appender;
  topicView: TopicView;
  clock: Clock;
  random: Random;
  /** Lost races before UNAVAILABLE. Default 50. */
  maxAttempts?: number;
  /** Called after each step of a large commit (tests crash between steps by throwing). */
  onCommitStep?: CommitStepHook;
  /**
   * Items one commit writes in a single TransactWriteItems before it commits in steps
   * (DESIGN.md §13). Default (and at most) DynamoDB's 100; tests lower it to exercise large
   * commits cheaply.
   */
  maxTransactItems?: number;
}

/** The producer a request claims to be: the id and epoch `init` returned. */
export interface TxProducer {
  producerId: string;
  epoch: number;
}

export interface InitResult extends TxProducer {
  /** The number of the next transaction; sends and commits name it. */
  transaction: number;
}

export interface OffsetsInput {
  groupId: string;
  memberId?: string | null;
  memberEpoch?: number | null;
  offsets: readonly { topic: string; partition: number; offset: number; metadata?: string | null }[];
}

export class TransactionCoordinator {
  constructor(private readonly deps: TransactionDeps) {}

  private get maxItems(): number {
    return Math.min(
      this.deps.maxTransactItems ?? META_LIMITS.opsPerTransaction,
      META_LIMITS.opsPerTransaction,
    );
  }

  /**
   * Takes the transactional id: epoch + 1 (a new producer id the first time), aborting a
   * transaction an earlier producer left open. Every earlier producer is fenced from here on.
   */
  async init(id: string, options: { timeoutMs?: number } = {}): Promise<InitResult> {
    validateId(id);
    const timeoutMs = options.timeoutMs ?? DEFAULT_TRANSACTION_TIMEOUT_MS;
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs > MAX_TRANSACTION_TIMEOUT_MS) {
      throw new InvalidRequestError(
        `transactionTimeoutMs: 1 to ${MAX_TRANSACTION_TIMEOUT_MS} ms`,
        'transactionTimeoutMs',
      );
    }
    const { meta } = this.deps;
    let before = decodeState((await meta.get(keys.transaction(id)))?.data);
    // A commit past its commit point is completed, never aborted.
    if (before?.committing) {
      await finishCommit(this.deps, id);
      before = decodeState((await meta.get(keys.transaction(id)))?.data);
    }
    // A producer id is drawn only when one is needed (first init, spent epoch).
    const producerId =
      !before || before.epoch >= 32767 ? (await initProducer(meta, this.deps)).producerId : undefined;
    // The catalog entry (what maintenance sweeps) goes first: an init cut short after
    // creating the id would otherwise leave an id maintenance never finds.
    if (!before) await meta.transact([{ type: 'put', key: keys.transactionCatalog(id), data: {} }]);
    const item = await casUpdate(
      meta,
      keys.transaction(id),
      (current) => {
        const state = decodeState(current?.data);
        if (state?.committing)
          throw new UnavailableError('a commit of this transactional id is completing; retry');
        if ((!state || state.epoch >= 32767) && producerId === undefined) {
          throw new UnavailableError('the transactional id changed while it was initialised; retry');
        }
        return { data: encodeState(afterInit(state, producerId, timeoutMs)) };
      },
      { ...this.deps, maxAttempts: this.deps.maxAttempts ?? 50 },
    );
    const state = decodeState(item!.data)!;
    return { producerId: state.producerId, epoch: state.epoch, transaction: state.txn };
  }

  /**
   * Stages records: one object PUT, then the send recorded in the transaction item.
   * A retry of a send that was recorded (same transaction and sequence) is answered as a
   * duplicate; its second object is left to orphan GC.
   *
   * @throws SluiceError INVALID_PRODUCER_EPOCH (fenced, or the transaction timed out),
   *   INVALID_TXN_STATE (not the current transaction), TRANSACTION_TOO_LARGE, and what a
   *   produce request throws for bad records or an unknown topic.
   */
  async send(
    id: string,
    producer: TxProducer,
    transaction: number,
    sequence: number,
    runs: readonly AppendRun[],
  ): Promise<{ duplicate: boolean }> {
    validateId(id);
    validateSequence(sequence);
    // Fail a fenced producer before it writes an object.
    const read = await this.current(id, producer, transaction);
    if (read.state.sends.some((s) => s.sequence === sequence)) return { duplicate: true };
    const staged = await this.deps.appender.stage(runs);
    return this.record(id, producer, transaction, read, {
      kind: 'records',
      sequence,
      objectKey: staged.objectKey,
      runs: staged.runs.map((r) => ({
        topicId: r.topicId,
        topic: r.topic,
        partition: r.partition,
        position: r.position,
        length: r.length,
        offsets: r.offsets,
        records: r.records,
        batches: r.batches,
        maxTimestamp: r.maxTimestamp,
      })),
    });
  }

  /**
   * Adds consumer offsets to the transaction (kafkajs `sendOffsets`). They are checked —
   * member fencing, ownership, high watermark, never backwards — when the transaction
   * commits, atomically with it.
   */
  async sendOffsets(
    id: string,
    producer: TxProducer,
    transaction: number,
    sequence: number,
    input: OffsetsInput,
  ): Promise<{ duplicate: boolean }> {
    validateId(id);
    validateSequence(sequence);
    validateGroupId(input.groupId);
    const req = validateCommit({
      memberId: input.memberId,
      memberEpoch: input.memberEpoch,
      offsets: input.offsets,
    });
    if (req.offsets.length === 0) throw new InvalidRequestError('offsets: at least one', 'offsets');
    return this.record(id, producer, transaction, undefined, {
      kind: 'offsets',
      sequence,
      group: input.groupId,
      member: req.member,
      offsets: req.offsets,
    });
  }

  /**
   * Commits the transaction: one TransactWriteItems makes all of it visible. A retry of a
   * commit that landed answers what it committed.
   *
   * @throws SluiceError INVALID_PRODUCER_EPOCH (fenced, timed out), INVALID_TXN_STATE (this
   *   transaction was aborted), FENCED_MEMBER_EPOCH / UNKNOWN_MEMBER_ID / NON_EMPTY_GROUP /
   *   OFFSET_OUT_OF_RANGE for its offsets (the transaction stays open: abort it).
   */
  async commit(
    id: string,
    producer: TxProducer,
    transaction: number,
  ): Promise<{ partitions: CommittedPartition[] }> {
    validateId(id);
    const { meta, clock } = this.deps;
    const maxAttempts = this.deps.maxAttempts ?? 50;
    let lastError: unknown;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      if (attempt > 1) await clock.sleep(Math.floor(Math.min(200, 2 ** attempt) * this.deps.random()));
      const read = await this.read(id, producer);
      const { state } = read;
      if (state.txn === transaction && state.committing) {
        const done = await finishCommit(this.deps, id);
        if (done?.txn === transaction) return { partitions: done.partitions };
        continue;
      }
      if (state.txn !== transaction) return { partitions: this.outcome(state, transaction, 'committed') };
      if (!state.open) {
        // An empty transaction: nothing to make visible, only the transaction to end.
        try {
          await meta.transact([this.endOp(id, read.item, ended(state, 'committed', []))]);
          return { partitions: [] };
        } catch (err) {
          lastError = err;
          if (!isRetry(err)) throw err;
          continue;
        }
      }
      const now = clock.now();
      if (isExpired(state, now)) await this.timeOut(id, read.item, state);
      if (commitItems(state) > this.maxItems) {
        try {
          const done = await this.commitLarge(id, read.item, state, now);
          if (done) return { partitions: done };
          continue;
        } catch (err) {
          lastError = err;
          if (!isRetry(err)) throw err;
          continue; // re-read: fenced, moved, or past the commit point (then rolled forward)
        }
      }
      const plan = await this.plan(id, read.item, state, now);
      try {
        await meta.transact(plan.ops);
      } catch (err) {
        lastError = err;
        if (!isRetry(err)) throw err;
        continue; // re-read everything; a landed commit shows in the transaction item
      }
      for (const [pk, head] of plan.heads) this.deps.appender.heads.set(pk, head);
      return { partitions: plan.partitions };
    }
    throw new UnavailableError('could not commit the transaction: too much contention; retry', {
      cause: lastError,
    });
  }

  /**
   * Aborts the transaction: nothing it sent becomes visible. Retrying an abort is harmless.
   *
   * @throws SluiceError INVALID_PRODUCER_EPOCH (fenced, or past its timeout: then it is
   *   aborted all the same, and its producer fenced), INVALID_TXN_STATE (it was committed).
   */
  async abort(id: string, producer: TxProducer, transaction: number): Promise<void> {
    validateId(id);
    const maxAttempts = this.deps.maxAttempts ?? 50;
    let lastError: unknown;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const read = await this.read(id, producer);
      if (read.state.txn === transaction && read.state.committing) {
        await finishCommit(this.deps, id);
        continue; // now over: answered as committed
      }
      if (read.state.txn !== transaction) {
        this.outcome(read.state, transaction, 'aborted');
        return;
      }
      // Past its timeout it is aborted as any timed-out transaction is: producer fenced.
      if (isExpired(read.state, this.deps.clock.now())) await this.timeOut(id, read.item, read.state);
      try {
        await this.deps.meta.transact([this.endOp(id, read.item, ended(read.state, 'aborted'))]);
        return;
      } catch (err) {
        lastError = err;
        if (!isRetry(err)) throw err;
      }
    }
    throw new UnavailableError('could not abort the transaction: too much contention; retry', {
      cause: lastError,
    });
  }

  /**
   * Maintenance: aborts every transaction past its timeout (fencing its producer), so an
   * abandoned one holds nothing. Returns how many were aborted.
   */
  async abortExpired(): Promise<number> {
    return abortExpiredTransactions(this.deps);
  }

  // -------------------------------------------------------------------------------------

  private async read(id: string, producer: TxProducer): Promise<{ item: Item; state: TxState }> {
    const item = await this.deps.meta.get(keys.transaction(id));
    const state = checkProducer(decodeState(item?.data), producer.producerId, producer.epoch);
    return { item: item!, state };
  }

  /** The item as read, checked: this producer, this transaction, not timed out. */
  private async current(
    id: string,
    producer: TxProducer,
    transaction: number,
  ): Promise<{ item: Item; state: TxState }> {
    let read = await this.read(id, producer);
    if (read.state.committing) {
      await finishCommit(this.deps, id);
      read = await this.read(id, producer);
    }
    if (read.state.txn !== transaction) {
      throw new SluiceError(
        'INVALID_TXN_STATE',
        `transaction ${transaction} is over: the current transaction is ${read.state.txn}`,
      );
    }
    if (isExpired(read.state, this.deps.clock.now())) await this.timeOut(id, read.item, read.state);
    return read;
  }

  /** Aborts a timed-out transaction (fencing its producer) and throws INVALID_PRODUCER_EPOCH. */
  private async timeOut(id: string, item: Item, state: TxState): Promise<never> {
    let current: { item: Item | undefined; state: TxState | undefined } = { item, state };
    for (let attempt = 0; attempt < (this.deps.maxAttempts ?? 50); attempt++) {
      const { item: it, state: st } = current;
      // Done once it is no longer this open, expired transaction (ended by anyone).
      if (!it || !st || st.txn !== state.txn || st.epoch !== state.epoch || !st.open) break;
      try {
        await this.deps.meta.transact([this.endOp(id, it, afterTimeout(st))]);
        break;
      } catch (err) {
        // A lost race or a cancelled transaction (nothing applied): read again, decide again.
        if (!isRetry(err)) throw err;
        const again = await this.deps.meta.get(keys.transaction(id));
        current = { item: again, state: decodeState(again?.data) };
      }
    }
    throw new SluiceError(
      'INVALID_PRODUCER_EPOCH',
      `transaction ${state.txn} of '${id}' passed its ${state.timeoutMs} ms timeout and was aborted; init again`,
    );
  }

  /** A retried commit or abort of a transaction that is over: its outcome, or an error. */
  private outcome(
    state: TxState,
    transaction: number,
    wanted: 'committed' | 'aborted',
  ): CommittedPartition[] {
    const last = state.last;
    if (last && last.txn === transaction && last.outcome === wanted) return last.partitions ?? [];
    throw new SluiceError(
      'INVALID_TXN_STATE',
      last && last.txn === transaction
        ? `transaction ${transaction} was ${last.outcome}`
        : `transaction ${transaction} is not the current one (${state.txn})`,
    );
  }

  private endOp(id: string, item: Item, next: TxState): TransactOp {
    return {
      type: 'put',
      key: keys.transaction(id),
      data: encodeState(next),
      condition: { version: item.version },
    };
  }

  /**
   * Records a send in the transaction item (CAS on its version), first against `read` when
   * given (the item as read before the object was PUT: a conflict re-reads).
   */
  private async record(
    id: string,
    producer: TxProducer,
    transaction: number,
    read: { item: Item; state: TxState } | undefined,
    send: StagedSend,
  ): Promise<{ duplicate: boolean }> {
    const maxAttempts = this.deps.maxAttempts ?? 50;
    let lastError: unknown;
    for (let attempt = 0; attempt < maxAttempts; attempt++) {
      const { item, state } = attempt === 0 && read ? read : await this.current(id, producer, transaction);
      if (state.sends.some((s) => s.sequence === send.sequence)) return { duplicate: true };
      const now = this.deps.clock.now();
      const next = afterSend(state, send, now);
      const items = commitItems(next);
      if (items > this.maxItems && !fitsLargeCommit(next, this.maxItems)) {
        throw new SluiceError(
          'TRANSACTION_TOO_LARGE',
          `this ${send.kind === 'records' ? 'send' : 'sendOffsets'} would take the commit to ${items} items; one transaction commits at most ${this.maxItems} (partitions + sends per partition + sends + offsets + groups + 1): commit, then start another transaction`,
        );
      }
      const set: ItemData = { [sendField(send.sequence)]: encodeSend(send), open: true, dl: next.deadline };
      try {
        await this.deps.meta.transact([
          { type: 'update', key: keys.transaction(id), set, condition: { version: item.version } },
        ]);
        return { duplicate: false };
      } catch (err) {
        lastError = err;
        if (!isRetry(err)) throw err;
      }
    }
    throw new UnavailableError('could not record the send: too much contention; retry', { cause: lastError });
  }

  /**
   * A commit above one TransactWriteItems (DESIGN.md §13, large commits): marks the heads,
   * passes the commit point (one conditional write), rolls forward. Returns undefined when
   * the commit point lost a race (the caller re-reads).
   */
  private async commitLarge(
    id: string,
    item: Item,
    state: TxState,
    now: number,
  ): Promise<CommittedPartition[] | undefined> {
    const { meta, clock } = this.deps;
    await prepareHeads(meta, clock, id, item, state, this.maxItems);
    await this.deps.onCommitStep?.('prepared');
    const ops: TransactOp[] = [
      {
        type: 'put',
        key: keys.transaction(id),
        data: encodeState({ ...state, committing: true }),
        condition: { version: item.version },
      },
    ];
    for (const send of state.sends) {
      if (send.kind !== 'records') continue;
      ops.push({
        type: 'put',
        key: keys.objectRef(send.objectKey),
        data: { refs: send.runs.length, at: now },
        condition: { absent: true },
      });
    }
    ops.push(...(await this.offsetOps(state, now)));
    await meta.transact(ops); // the commit point
    await this.deps.onCommitStep?.('committed');
    const done = await finishCommit(this.deps, id);
    return done?.txn === state.txn ? done.partitions : undefined;
  }

  /** Every write of the commit, from fresh reads of heads, groups and offsets. */
  private async plan(
    id: string,
    item: Item,
    state: TxState,
    now: number,
  ): Promise<{ ops: TransactOp[]; heads: Map<string, Head>; partitions: CommittedPartition[] }> {
    const { meta } = this.deps;
    const ops: TransactOp[] = [];
    // Records: per partition, runs in send order get consecutive offsets from the head.
    const refs = new Map<string, number>();
    for (const send of state.sends) if (send.kind === 'records') refs.set(send.objectKey, send.runs.length);
    const parts = [...partitionsOf(state).entries()];
    const heads = await readHeads(
      meta,
      parts.map(([, p]) => ({ topicId: p.topicId, partition: p.partition })),
    );
    const newHeads = new Map<string, Head>();
    const partitions: CommittedPartition[] = [];
    parts.forEach(([pk, p], i) => {
      const head = heads[i]!;
      if (head.data.deleted) {
        // The records were staged for a topic deleted since (docs/design.md "Topic
        // incarnations"): they can never be committed to it, nor to a new topic of its name.
        throw new SluiceError(
          'UNKNOWN_TOPIC_OR_PARTITION',
          `topic '${p.topic}' was deleted after records were sent to it in this transaction; abort the transaction`,
        );
      }
      const index = indexPuts(p, head, now);
      ops.push(...index.ops);
      const { next, size, records: count } = index;
      const data = { ...head.data, next, size };
      // A marker this transaction left from an earlier large-commit attempt goes with it.
      if (data.x?.[id] !== undefined) {
        const { [id]: _, ...x } = data.x;
        data.x = x;
      }
      newHeads.set(pk, { version: head.version + 1, data });
      ops.push({
        type: 'put',
        key: keys.head(p.topicId, p.partition),
        data: headToData(data),
        condition: head.version === 0 ? { absent: true } : { version: head.version },
      });
      partitions.push({ topic: p.topic, partition: p.partition, baseOffset: head.data.next, count });
    });
    for (const [objectKey, count] of refs) {
      ops.push({
        type: 'put',
        key: keys.objectRef(objectKey),
        data: { refs: count, at: now },
        condition: { absent: true },
      });
    }
    ops.push(...(await this.offsetOps(state, now)));
    ops.push(this.endOp(id, item, ended(state, 'committed', partitions)));
    return { ops, heads: newHeads, partitions };
  }

  /** The group writes: per group, a check of (or, for a new group, a put of) its item, and the offsets. */
  private async offsetOps(state: TxState, now: number): Promise<TransactOp[]> {
    const { meta } = this.deps;
    const byGroup = new Map<
      string,
      { member: { id: string; epoch: number } | undefined; offsets: Map<string, OffsetOf> }
    >();
    for (const send of state.sends) {
      if (send.kind !== 'offsets') continue;
      const g = byGroup.get(send.group) ?? { member: send.member, offsets: new Map() };
      g.member = send.member; // the latest sendOffsets speaks for the member
      for (const o of send.offsets) g.offsets.set(`${o.topic}#${o.partition}`, o);
      byGroup.set(send.group, g);
    }
    const ops: TransactOp[] = [];
    for (const [group, g] of byGroup) {
      const offsets = [...g.offsets.values()];
      const req = g.member ? { member: g.member, offsets } : { offsets };
      await checkAgainstLog(this.deps.topicView, offsets);
      const { item, state: groupState } = await readGroup(meta, group);
      checkCommitAllowed(groupState, group, req, now);
      if (item) ops.push({ type: 'check', key: keys.group(group), condition: { version: item.version } });
      else {
        ops.push({
          type: 'put',
          key: keys.group(group),
          data: encodeGroup(emptyGroup()),
          condition: { absent: true },
        });
        ops.push({ type: 'put', key: keys.groupCatalog(group), data: {} });
      }
      const current = await meta.batchGet(offsets.map((o) => keys.committed(group, o.topic, o.partition)));
      offsets.forEach((o, i) => {
        const cur = current[i];
        checkForward(o, cur);
        if (isNoop(o, cur)) return;
        ops.push({
          type: 'put',
          key: keys.committed(group, o.topic, o.partition),
          data: offsetData(o, now),
          condition: cur ? { version: cur.version } : { absent: true },
        });
      });
    }
    return ops;
  }
}

type OffsetOf = { topic: string; partition: number; offset: number; metadata?: string };

/**
 * Items the commit of `state` writes, at most: per partition its head and one index entry
 * per run, per object its registry item, per group its item, catalog entry and offsets,
 * plus the transaction item.
 */
export function commitItems(state: TxState): number {
  const partitions = new Set<string>();
  const offsets = new Map<string, Set<string>>();
  let runs = 0;
  let objects = 0;
  for (const s of state.sends) {
    if (s.kind === 'records') {
      objects++;
      runs += s.runs.length;
      for (const r of s.runs) partitions.add(`${r.topicId}#${r.partition}`);
    } else {
      const set = offsets.get(s.group) ?? new Set<string>();
      for (const o of s.offsets) set.add(`${o.topic}#${o.partition}`);
      offsets.set(s.group, set);
    }
  }
  let groups = 0;
  for (const set of offsets.values()) groups += 2 + set.size;
  return partitions.size + runs + objects + groups + 1;
}

function isRetry(err: unknown): boolean {
  return err instanceof ConflictError || (err instanceof SluiceError && err.retriable);
}

function validateId(id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_CHARS || /\p{Cc}/u.test(id)) {
    throw new InvalidRequestError(
      `transactionalId: 1-${MAX_ID_CHARS} characters, no control characters`,
      'transactionalId',
    );
  }
}

function validateSequence(sequence: unknown): asserts sequence is number {
  if (
    typeof sequence !== 'number' ||
    !Number.isSafeInteger(sequence) ||
    sequence < 0 ||
    sequence > MAX_SEQUENCE
  ) {
    throw new InvalidRequestError(`sequence: an integer 0-${MAX_SEQUENCE}`, 'sequence');
  }
}
