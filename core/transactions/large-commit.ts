/**
 * Commits above DynamoDB's 100-item transaction (DESIGN.md §13, "Large commits"): a
 * transaction writing to more partitions than one TransactWriteItems can move commits in
 * steps, and stays atomic for readers.
 *
 *   1. prepare (chunks of ≤ 99 heads, each with a check of the transaction item's version,
 *      so a fenced producer places nothing): every head the transaction moves gets a
 *      pending-commit marker `x[<transactional id>] = <transaction>`. A marker changes no
 *      visible value: the head's offsets stay as they were.
 *   2. the commit point, ONE conditional TransactWriteItems: the transaction item becomes
 *      `committing` (conditioned on its version, so on the producer epoch), with the
 *      objects' registry items and the group offsets (checked as a small commit checks them).
 *   3. apply, per partition (one TransactWriteItems each): the index entries of its runs
 *      from the head's `next`, and the head moved with its marker removed, conditioned on
 *      the head's version; a head without the marker is applied already, so replays do
 *      nothing.
 *   4. the transaction item ends (committed), conditioned on its version.
 *
 * Readers honour markers ({@link settleHead}): a head whose marker names a transaction
 * that is `committing` is applied before it is read (rolled forward); any other marker is
 * ignored (the head reads as before the commit) and, once its transaction is over, removed.
 * Every partition is marked before the commit point, so after it no reader can read a
 * partition of the transaction as before it; before it, none reads anything of it.
 */
import type { IndexEntry } from '../append.js';
import type { Clock } from '../clock.js';
import { SluiceError, UnavailableError } from '../errors.js';
import { EMPTY_HEAD, type Head, headFromItem, headToData, readHeads } from '../heads.js';
import { keys } from '../keys.js';
import {
  ConflictError,
  type Item,
  type ItemData,
  META_LIMITS,
  type MetaStore,
  type TransactOp,
} from '../ports.js';
import {
  type CommittedPartition,
  decodeState,
  encodeState,
  ended,
  type StagedRun,
  type TxState,
} from './state.js';

/** Steps of a large commit, for tests that crash between them. */
export type CommitStep = 'prepared' | 'committed' | 'applied' | 'ended';
export type CommitStepHook = (step: CommitStep) => void | Promise<void>;

export interface PartitionRuns {
  topicId: string;
  topic: string;
  partition: number;
  runs: { objectKey: string; run: StagedRun }[];
}

const MAX_ATTEMPTS = 50;

/**
 * The index entries that make a partition's staged runs part of its log, from the head's
 * next offset on (conditioned absent: applied twice is refused), and the head's `next` and
 * `size` after them; `records` counts the records they hold. Shared by the one-transaction
 * commit and step 3 of a large one.
 */
export function indexPuts(
  p: PartitionRuns,
  head: Head,
  now: number,
): { ops: TransactOp[]; next: number; size: number; records: number } {
  const ops: TransactOp[] = [];
  let next = head.data.next;
  let size = head.data.size;
  let records = 0;
  for (const { objectKey, run } of p.runs) {
    const entry: IndexEntry = {
      o: objectKey,
      pos: run.position,
      len: run.length,
      base: next,
      n: run.offsets,
      rc: run.records,
      bc: run.batches,
      mt: run.maxTimestamp,
      at: now,
    };
    ops.push({
      type: 'put',
      key: keys.index(p.topicId, p.partition, next + run.offsets - 1),
      data: entry as unknown as ItemData,
      condition: { absent: true },
    });
    next += run.offsets;
    size += run.length;
    records += run.records;
  }
  return { ops, next, size, records };
}

/** Per partition (by partition key), the runs the transaction sends to it, in send order. */
export function partitionsOf(state: TxState): Map<string, PartitionRuns> {
  const out = new Map<string, PartitionRuns>();
  for (const send of state.sends) {
    if (send.kind !== 'records') continue;
    for (const run of send.runs) {
      const pk = keys.partitionPk(run.topicId, run.partition);
      const entry = out.get(pk) ?? {
        topicId: run.topicId,
        topic: run.topic,
        partition: run.partition,
        runs: [],
      };
      entry.runs.push({ objectKey: send.objectKey, run });
      out.set(pk, entry);
    }
  }
  return out;
}

/**
 * Items of the commit point of a large commit: the transaction item, per object its
 * registry item, per group its item, catalog entry and offsets.
 */
export function commitPointItems(state: TxState): number {
  const offsets = new Map<string, Set<string>>();
  let objects = 0;
  for (const s of state.sends) {
    if (s.kind === 'records') objects++;
    else {
      const set = offsets.get(s.group) ?? new Set<string>();
      for (const o of s.offsets) set.add(`${o.topic}#${o.partition}`);
      offsets.set(s.group, set);
    }
  }
  let groups = 0;
  for (const set of offsets.values()) groups += 2 + set.size;
  return objects + groups + 1;
}

/** True when a large commit can commit `state`: its commit point and every partition's apply fit one transaction. */
export function fitsLargeCommit(state: TxState, maxItems: number = META_LIMITS.opsPerTransaction): boolean {
  if (commitPointItems(state) > maxItems) return false;
  for (const p of partitionsOf(state).values()) {
    if (p.runs.length + 1 > maxItems) return false;
  }
  return true;
}

/**
 * Step 1: marks every head the transaction moves. Each chunk is conditioned on the
 * transaction item's version: a ConflictError on it means the transaction moved (fenced,
 * timed out): the caller re-reads.
 */
export async function prepareHeads(
  meta: MetaStore,
  clock: Clock,
  id: string,
  txItem: Item,
  state: TxState,
  maxItems: number = META_LIMITS.opsPerTransaction,
): Promise<void> {
  const parts = [...partitionsOf(state).values()];
  const chunk = maxItems - 1;
  for (let i = 0; i < parts.length; i += chunk) {
    const slice = parts.slice(i, i + chunk);
    for (let attempt = 0; ; attempt++) {
      const heads = await readHeads(meta, slice);
      const ops: TransactOp[] = [];
      slice.forEach((p, j) => {
        const head = heads[j]!;
        if (head.data.x?.[id] === state.txn) return;
        const x = { ...head.data.x, [id]: state.txn };
        const key = keys.head(p.topicId, p.partition);
        ops.push(
          head.version === 0
            ? { type: 'put', key, data: headToData({ ...EMPTY_HEAD, p: {}, x }), condition: { absent: true } }
            : { type: 'update', key, set: { x }, condition: { version: head.version } },
        );
      });
      if (ops.length === 0) break;
      ops.push({ type: 'check', key: keys.transaction(id), condition: { version: txItem.version } });
      try {
        await meta.transact(ops);
        break;
      } catch (err) {
        if (err instanceof ConflictError && err.failed(keys.transaction(id))) throw err;
        if (!isRetry(err) || attempt + 1 >= MAX_ATTEMPTS) throw err;
        await clock.sleep(Math.min(50, 2 ** attempt));
      }
    }
  }
}

/**
 * Step 3 for one partition: applies its runs if its head still carries the marker.
 * Returns the base offset assigned, or undefined when it was applied already.
 */
export async function applyPartition(
  meta: MetaStore,
  clock: Clock,
  id: string,
  txn: number,
  p: PartitionRuns,
  /** The head as just read (a batch read of many); re-read after a lost race. */
  known?: Head,
): Promise<number | undefined> {
  const key = keys.head(p.topicId, p.partition);
  let lastError: unknown;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    const head = attempt === 0 && known ? known : headFromItem(await meta.get(key));
    // Applied already — or the topic was deleted since (its records went with it).
    if (head.data.x?.[id] !== txn || head.data.deleted) return undefined;
    const now = clock.now();
    const { ops, next, size } = indexPuts(p, head, now);
    const { [id]: _, ...x } = head.data.x;
    ops.push({
      type: 'put',
      key,
      data: headToData({ ...head.data, next, size, x }),
      condition: { version: head.version },
    });
    try {
      await meta.transact(ops);
      return head.data.next;
    } catch (err) {
      lastError = err;
      if (!isRetry(err)) throw err;
      if (attempt > 0) await clock.sleep(Math.min(50, 2 ** attempt));
    }
  }
  throw new UnavailableError(`could not apply a committed transaction to ${p.topic}/${p.partition}; retry`, {
    cause: lastError,
  });
}

/**
 * Steps 3 and 4: rolls a committing transaction forward to its end. Anyone may call it
 * (the committer, a retried commit, an init, maintenance); it is idempotent. Returns what
 * was committed (base offsets of partitions another roll-forward applied are -1: not
 * known here), or undefined when the transaction is not committing.
 */
export async function finishCommit(
  deps: { meta: MetaStore; clock: Clock; onCommitStep?: CommitStepHook | undefined },
  id: string,
): Promise<{ txn: number; partitions: CommittedPartition[] } | undefined> {
  const { meta, clock } = deps;
  let item = await meta.get(keys.transaction(id));
  let state = decodeState(item?.data);
  if (!item || !state?.committing) return undefined;
  const partitions: CommittedPartition[] = [];
  const parts = [...partitionsOf(state).values()];
  const heads = await readHeads(meta, parts);
  for (const [i, p] of parts.entries()) {
    const base = await applyPartition(meta, clock, id, state.txn, p, heads[i]);
    partitions.push({
      topic: p.topic,
      partition: p.partition,
      baseOffset: base ?? -1,
      count: p.runs.reduce((n, r) => n + r.run.records, 0),
    });
    await deps.onCommitStep?.('applied');
  }
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    try {
      await meta.transact([
        {
          type: 'put',
          key: keys.transaction(id),
          data: encodeState(ended(state!, 'committed', partitions)),
          condition: { version: item!.version },
        },
      ]);
      await deps.onCommitStep?.('ended');
      return { txn: state!.txn, partitions };
    } catch (err) {
      if (!isRetry(err)) throw err;
      const txn = state!.txn;
      item = await meta.get(keys.transaction(id));
      state = decodeState(item?.data);
      // Ended by another roll-forward: what it recorded.
      if (!item || !state?.committing || state.txn !== txn) {
        return {
          txn,
          partitions: state?.last?.txn === txn ? (state.last.partitions ?? partitions) : partitions,
        };
      }
    }
  }
  throw new UnavailableError(`could not end the committed transaction of '${id}'; retry`);
}

/**
 * What a reader does with a head (DESIGN.md §13): markers of committing transactions are
 * rolled forward (this partition) before the head is used; markers of transactions that
 * are over are removed; markers of transactions not yet committed are ignored — the head
 * reads as before them. Returns the head to use.
 *
 * A `readOnly` reader (the fetch function, whose role cannot write) changes nothing: it
 * ignores markers of transactions not committing, and throws a retriable
 * {@link UnavailableError} for a partition a committing transaction has not been applied to
 * yet — the committer applies it right after its commit point, or, after a crash, whoever
 * touches the transaction next (a retried commit, an init, the maintenance sweep).
 */
export async function settleHead(
  meta: MetaStore,
  clock: Clock,
  topicId: string,
  partition: number,
  head: Head,
  readOnly = false,
): Promise<Head> {
  const markers = head.data.x;
  // A tombstone (a deleted topic): its callers refuse it, nothing is applied to it.
  if (!markers || head.data.deleted) return head;
  let changed = false;
  for (const [id, txn] of Object.entries(markers)) {
    const state = decodeState((await meta.get(keys.transaction(id)))?.data);
    if (state && state.txn === txn && state.committing) {
      const p = partitionsOf(state).get(keys.partitionPk(topicId, partition));
      if (readOnly) {
        if (p) {
          throw new UnavailableError(
            `a committed transaction is being applied to this partition (${topicId}/${partition}); retry`,
          );
        }
        continue;
      }
      if (p) await applyPartition(meta, clock, id, txn, p);
      else await dropMarker(meta, topicId, partition, id, txn);
      changed = true;
    } else if (!state || state.txn > txn) {
      // Its transaction was aborted (or fenced) before its commit point: nothing to apply.
      if (readOnly) continue;
      await dropMarker(meta, topicId, partition, id, txn);
      changed = true;
    }
  }
  return changed ? headFromItem(await meta.get(keys.head(topicId, partition))) : head;
}

/** Removes a stale marker; best effort (a writer that moved the head meanwhile kept it: the next reader removes it). */
async function dropMarker(
  meta: MetaStore,
  topicId: string,
  partition: number,
  id: string,
  txn: number,
): Promise<void> {
  const key = keys.head(topicId, partition);
  const head = headFromItem(await meta.get(key));
  if (head.data.x?.[id] !== txn) return;
  const { [id]: _, ...x } = head.data.x;
  try {
    await meta.transact([{ type: 'update', key, set: { x }, condition: { version: head.version } }]);
  } catch (err) {
    if (!isRetry(err)) throw err;
  }
}

function isRetry(err: unknown): boolean {
  return err instanceof ConflictError || (err instanceof SluiceError && err.retriable);
}
