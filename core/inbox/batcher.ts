/**
 * The inbox batcher (docs/design.md, "acks=1: the inbox"): takes what was received from
 * the inbox and commits it to the log as one object plus one transaction per chunk of
 * partitions — each event exactly once, each producer's events in sequence order.
 *
 * Exactly once over an at-least-once queue: every commit also writes, in the same
 * transaction, a ledger item listing the ids of what it committed, and advances the
 * ledger's `tail` item by compare-and-set. Before committing, the batcher reads the tail
 * and the ledger items written since the earliest time a copy of a message it holds could
 * have been committed — its first receive, or its sender's first attempt (`at`: a retry
 * that became a second inbox message), within the sender retry horizon
 * (`ledger-reach.ts`): what is listed there is a duplicate. A concurrent batcher's commit
 * moves the tail, so this one's commit fails its condition, and it decides again from the
 * new ledger.
 *
 * Order per producer and partition (for messages that carry `prevAt`, as the SDK's do):
 * a message whose predecessor (same producer, epoch,
 * partition, previous sequence) is neither committed nor earlier in this batch is held
 * back — left in the queue for a later batch — unless the predecessor was acknowledged
 * by the inbox longer than `orderHorizonMs` ago (then it was committed already, unless the
 * batcher has been behind for that long, which the inbox-age alarm reports).
 */
import type { Appender, AppendResult, AppendRun } from '../append.js';
import type { Clock } from '../clock.js';
import { SluiceError } from '../errors.js';
import { keys } from '../keys.js';
import { ConflictError, type MetaStore, type TransactOp } from '../ports.js';
import { encodeBatch, verifyBatch } from '../records/index.js';
import type { Topics } from '../topics.js';
import { ledgerReach } from './ledger-reach.js';
import { decodeInboxMessage, dedupKey, type InboxMessage, predecessorKey, recordsOf } from './message.js';
import {
  INBOX_ORDER_HORIZON_MS,
  INBOX_RETRY_HORIZON_MS,
  INBOX_SKEW_MS,
  type InboxDelivery,
} from './queue.js';

export interface BatcherOptions {
  /** See the file comment. Default 5 minutes. */
  orderHorizonMs: number;
  /** Clock skew allowed between senders, the queue and batchers, ms. Default 5000. */
  skewMs: number;
  /**
   * How far back from a delivery's arrival a sender's retry of it may have been committed
   * first, ms: the ledger is never read further back for it (`ledger-reach.ts`). Default
   * {@link INBOX_RETRY_HORIZON_MS}, 5 minutes.
   */
  retryHorizonMs: number;
  /** How long ledger items are kept (≥ the queue's retention). Default 5 days. */
  ledgerTtlMs: number;
  /** Attempts when concurrent batchers keep moving the tail. Default 20. */
  maxAttempts: number;
  /**
   * Bytes of ids one ledger item holds at most; a chunk whose ids need more writes several
   * (DynamoDB caps an item at 400 KB: 10,000 ids of a long topic name exceed it). Default 300,000.
   */
  ledgerItemBytes: number;
}

export const DEFAULT_BATCHER_OPTIONS: BatcherOptions = {
  orderHorizonMs: INBOX_ORDER_HORIZON_MS,
  skewMs: INBOX_SKEW_MS,
  retryHorizonMs: INBOX_RETRY_HORIZON_MS,
  ledgerTtlMs: 5 * 24 * 3600_000,
  maxAttempts: 20,
  ledgerItemBytes: 300_000,
};

export interface BatcherDeps {
  appender: Appender;
  meta: MetaStore;
  topics: Topics;
  clock: Clock;
}

/** What became of each delivery of a batch. */
export interface BatchOutcome {
  /** Appended now: delete from the queue. */
  committed: InboxDelivery[];
  /** Committed earlier (a redelivery or a sender's retry): delete from the queue. */
  duplicates: InboxDelivery[];
  /** Waiting for a predecessor: leave in the queue for a later batch. */
  heldBack: InboxDelivery[];
  /** Not an inbox message, or for a topic-partition that does not exist: left to the dead-letter queue. */
  invalid: { delivery: InboxDelivery; error: string }[];
  /** One per topic-partition appended. */
  results: AppendResult[];
  /** Age of the oldest message of the batch when committed, ms (the InboxAge metric). */
  oldestAgeMs: number;
}

interface Parsed {
  delivery: InboxDelivery;
  message: InboxMessage;
  key: string;
  before: string | undefined;
}

export class InboxBatcher {
  private readonly options: BatcherOptions;
  constructor(
    private readonly deps: BatcherDeps,
    options: Partial<BatcherOptions> = {},
  ) {
    this.options = { ...DEFAULT_BATCHER_OPTIONS, ...options };
  }

  async commit(deliveries: readonly InboxDelivery[]): Promise<BatchOutcome> {
    const outcome: BatchOutcome = {
      committed: [],
      duplicates: [],
      heldBack: [],
      invalid: [],
      results: [],
      oldestAgeMs: 0,
    };
    const parsed: Parsed[] = [];
    for (const delivery of deliveries) {
      try {
        const message = decodeInboxMessage(delivery.body);
        await this.deps.topics.withPartition(message.topic, message.partition);
        parsed.push({
          delivery,
          message,
          key: dedupKey(message, delivery.messageId),
          // Without prevAt the sender asked for no order across its messages.
          before: message.producer?.prevAt === undefined ? undefined : predecessorKey(message),
        });
      } catch (err) {
        if (!(err instanceof SluiceError) || err.retriable) throw err;
        outcome.invalid.push({ delivery, error: err.message });
      }
    }
    if (parsed.length === 0) return outcome;
    ordered(parsed);

    let lastError: unknown;
    for (let attempt = 0; attempt < this.options.maxAttempts; attempt++) {
      const now = this.deps.clock.now();
      const tail = await this.deps.meta.get(keys.inboxTail);
      const committed = await this.ledgerSince(this.lookback(parsed, now));
      const accepted: Parsed[] = [];
      const seen = new Set<string>();
      const duplicates: Parsed[] = [];
      const heldBack: Parsed[] = [];
      for (const p of parsed) {
        if (committed.has(p.key) || seen.has(p.key)) {
          duplicates.push(p);
          continue;
        }
        const prevAt = p.message.producer?.prevAt;
        const predecessorDone =
          p.before === undefined ||
          committed.has(p.before) ||
          seen.has(p.before) ||
          (prevAt !== undefined && prevAt < now - this.options.orderHorizonMs);
        if (!predecessorDone) {
          heldBack.push(p);
          continue;
        }
        seen.add(p.key);
        accepted.push(p);
      }
      try {
        const results = accepted.length > 0 ? await this.append(accepted, tail?.version ?? 0) : [];
        const at = this.deps.clock.now();
        outcome.committed = accepted.map((p) => p.delivery);
        outcome.duplicates = duplicates.map((p) => p.delivery);
        outcome.heldBack = heldBack.map((p) => p.delivery);
        outcome.results = results;
        outcome.oldestAgeMs = Math.max(0, ...accepted.map((p) => at - p.delivery.sentAt));
        return outcome;
      } catch (err) {
        if (!(err instanceof ConflictError && err.failed(keys.inboxTail))) throw err;
        lastError = err; // another batcher committed meanwhile: decide again from its ledger
      }
    }
    throw new SluiceError('UNAVAILABLE', 'the inbox batcher kept losing the ledger tail to other batchers', {
      cause: lastError,
    });
  }

  /** Since when the ledger must be read to decide every message of the batch (`ledger-reach.ts`). */
  private lookback(parsed: Parsed[], now: number): number {
    let from = now;
    for (const p of parsed) {
      const reach = ledgerReach(
        {
          sentAt: p.delivery.sentAt,
          firstReceivedAt: p.delivery.firstReceivedAt,
          at: p.message.at,
          prevAt: p.before === undefined ? undefined : p.message.producer?.prevAt,
        },
        now,
        this.options,
      );
      from = Math.min(from, reach);
    }
    return from;
  }

  private async ledgerSince(time: number): Promise<Set<string>> {
    const ids = new Set<string>();
    let after: string | undefined;
    do {
      const page = await this.deps.meta.query(
        keys.inboxPk,
        { gte: keys.inboxLedgerSk(time, 0), lte: `${keys.inboxLedgerPrefix}~` },
        { after },
      );
      for (const item of page.items)
        for (const id of (item.data.ids as string[] | undefined) ?? []) ids.add(id);
      after = page.next;
    } while (after);
    return ids;
  }

  /** One append: a batch per partition (split to the topic's limit), ledger and tail per chunk. */
  private async append(accepted: Parsed[], tailVersion: number): Promise<AppendResult[]> {
    const byPartition = new Map<string, Parsed[]>();
    for (const p of accepted) {
      const k = `${p.message.topic}\u0000${p.message.partition}`;
      const list = byPartition.get(k);
      if (list) list.push(p);
      else byPartition.set(k, [p]);
    }
    const runs: AppendRun[] = [];
    const now = this.deps.clock.now();
    for (const list of byPartition.values()) {
      const { topic, partition } = list[0]!.message;
      const meta = await this.deps.topics.get(topic);
      const batches = splitEncode(
        list.flatMap((p) => recordsOf(p.message)),
        meta.config['max.message.bytes'],
        now,
      );
      runs.push({ topic, partition, batches: batches.map((b) => verifyBatch(b)), trusted: true });
    }
    const ttl = Math.ceil((now + this.options.ledgerTtlMs) / 1000);
    // Ledger items per chunk at most: enough for every id of the batch in the one chunk.
    const pieces = ledgerPieces(
      accepted.map((p) => p.key),
      this.options.ledgerItemBytes,
    ).length;
    return this.deps.appender.append(runs, {
      extraItems: 1 + pieces,
      abortOn: (err) => err.failed(keys.inboxTail),
      chunkOps: (chunkRuns, index, at): TransactOp[] => {
        const ids = chunkRuns.flatMap(
          (r) => byPartition.get(`${r.topic}\u0000${r.partition}`)?.map((p) => p.key) ?? [],
        );
        const version = tailVersion + index;
        return [
          ...ledgerPieces(ids, this.options.ledgerItemBytes).map(
            (piece, i): TransactOp => ({
              type: 'put',
              key: { pk: keys.inboxPk, sk: keys.inboxLedgerSk(at, version + 1, i) },
              data: { ids: piece },
              ttl,
            }),
          ),
          version === 0
            ? { type: 'put', key: keys.inboxTail, data: { n: 1 }, condition: { absent: true } }
            : { type: 'update', key: keys.inboxTail, add: { n: 1 }, condition: { version } },
        ];
      },
    });
  }
}

/**
 * Ids cut into ledger items of at most `maxBytes` (each id counted with DynamoDB's
 * per-element overhead); always at least one item, so every commit moves the ledger.
 */
function ledgerPieces(ids: readonly string[], maxBytes: number): string[][] {
  const pieces: string[][] = [[]];
  let bytes = 0;
  for (const id of ids) {
    const size = Buffer.byteLength(id) + 3;
    if (bytes + size > maxBytes && pieces.at(-1)!.length > 0) {
      pieces.push([]);
      bytes = 0;
    }
    pieces.at(-1)!.push(id);
    bytes += size;
  }
  return pieces;
}

/** Each producer's messages of a partition in sequence order, groups where they first appear. */
function ordered(parsed: Parsed[]): void {
  const groupOf = (p: Parsed) => {
    const pr = p.message.producer;
    return pr ? `${p.message.topic}\u0000${p.message.partition}\u0000${pr.id}\u0000${pr.epoch}` : undefined;
  };
  const slots = new Map<string, number[]>();
  parsed.forEach((p, i) => {
    const g = groupOf(p);
    if (g === undefined) return;
    const list = slots.get(g);
    if (list) list.push(i);
    else slots.set(g, [i]);
  });
  for (const indexes of slots.values()) {
    const sorted = indexes
      .map((i) => parsed[i]!)
      .sort((a, b) => a.message.producer!.seq - b.message.producer!.seq);
    indexes.forEach((i, j) => {
      parsed[i] = sorted[j]!;
    });
  }
}

function splitEncode(records: ReturnType<typeof recordsOf>, limit: number, now: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  const split = (from: number, to: number) => {
    const batch = encodeBatch(records.slice(from, to), { now });
    if (batch.length <= limit || to - from === 1) {
      out.push(batch);
      return;
    }
    const mid = from + Math.ceil((to - from) / 2);
    split(from, mid);
    split(mid, to);
  };
  split(0, records.length);
  return out;
}
