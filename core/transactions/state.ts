/**
 * The state of one transactional id, as its item (`t#<id>`/`tx`) stores it, and the pure
 * transitions of its state machine (DESIGN.md "Transactions"):
 *
 *   init ──► empty ──send/sendOffsets──► open ──commit──► empty (txn + 1, committed)
 *                ▲                        │ ──abort───► empty (txn + 1, aborted)
 *                └──── init (epoch + 1) ◄─┘ ──timeout─► empty (txn + 1, aborted, epoch + 1)
 *
 * Every transition is a compare-and-set of that one item; sends are recorded in it (one
 * field per send), so "what does this transaction hold" is one strongly consistent read.
 * Nothing here touches storage.
 */
import { SluiceError } from '../errors.js';
import type { ItemData, Json } from '../ports.js';

/** Kafka's largest producer epoch; the next init then takes a fresh producer id. */
export const MAX_EPOCH = 32767;

/** One run of a staged send: where it lies in its object, what it holds. */
export interface StagedRun {
  topicId: string;
  topic: string;
  partition: number;
  position: number;
  length: number;
  offsets: number;
  records: number;
  batches: number;
  maxTimestamp: number;
}

/** One send (records staged in an object) or one sendOffsets, in sequence order. */
export type StagedSend =
  | { kind: 'records'; sequence: number; objectKey: string; runs: StagedRun[] }
  | {
      kind: 'offsets';
      sequence: number;
      group: string;
      member: { id: string; epoch: number } | undefined;
      offsets: { topic: string; partition: number; offset: number; metadata?: string }[];
    };

/** Per partition of a committed transaction: where its records landed. */
export interface CommittedPartition {
  topic: string;
  partition: number;
  baseOffset: number;
  count: number;
}

export interface TxState {
  producerId: string;
  epoch: number;
  /** Number of the current (or next) transaction; +1 at every commit or abort. */
  txn: number;
  open: boolean;
  /** When the open transaction times out, ms since the epoch. */
  deadline: number;
  timeoutMs: number;
  sends: StagedSend[];
  /**
   * A large commit passed its commit point (DESIGN.md §13): the transaction is committed and
   * its partitions are being applied; whoever meets it rolls it forward, nobody aborts it.
   */
  committing?: boolean;
  /** How the previous transaction ended: answers a retried commit or abort. */
  last?: { txn: number; outcome: 'committed' | 'aborted'; partitions?: CommittedPartition[] };
}

/** Fences every producer of this id below the state's epoch (and with another id). */
export function checkProducer(state: TxState | undefined, producerId: string, epoch: number): TxState {
  if (!state) {
    throw new SluiceError(
      'INVALID_PRODUCER_EPOCH',
      'this transactional id was never initialised: POST /v1/transactions/{id}/init first',
    );
  }
  if (state.producerId !== producerId || state.epoch !== epoch) {
    throw new SluiceError(
      'INVALID_PRODUCER_EPOCH',
      `producer ${producerId} epoch ${epoch} is fenced: the transactional id is now held by producer ${state.producerId} epoch ${state.epoch}`,
    );
  }
  return state;
}

export function isExpired(state: TxState, now: number): boolean {
  return state.open && !state.committing && now > state.deadline;
}

/** The state after an init: epoch + 1 (a fresh id when there is none or the epoch is spent); an open transaction is aborted. */
export function afterInit(
  state: TxState | undefined,
  newProducerId: string | undefined,
  timeoutMs: number,
): TxState {
  const fresh = !state || state.epoch >= MAX_EPOCH;
  if (fresh && newProducerId === undefined) throw new Error('a new producer id is needed');
  const base: TxState = {
    producerId: fresh ? newProducerId! : state!.producerId,
    epoch: fresh ? 0 : state!.epoch + 1,
    txn: state?.txn ?? 0,
    open: false,
    deadline: 0,
    timeoutMs,
    sends: [],
  };
  if (state?.last) base.last = state.last;
  return state?.open ? ended({ ...base, txn: state.txn }, 'aborted') : base;
}

/** The state after a send is recorded (opening the transaction on its first send). */
export function afterSend(state: TxState, send: StagedSend, now: number): TxState {
  return {
    ...state,
    open: true,
    deadline: state.open ? state.deadline : now + state.timeoutMs,
    sends: [...state.sends, send],
  };
}

/** The state after a commit or an abort: the next transaction, empty. */
export function ended(
  state: TxState,
  outcome: 'committed' | 'aborted',
  partitions?: CommittedPartition[],
): TxState {
  const { committing: _, ...rest } = state;
  return {
    ...rest,
    txn: state.txn + 1,
    open: false,
    deadline: 0,
    sends: [],
    last: partitions ? { txn: state.txn, outcome, partitions } : { txn: state.txn, outcome },
  };
}

/** A timed-out transaction is aborted and its producer fenced, as Kafka's coordinator does. */
export function afterTimeout(state: TxState): TxState {
  return { ...ended(state, 'aborted'), epoch: Math.min(state.epoch + 1, MAX_EPOCH) };
}

// ---------------------------------------------------------------------------------------
// Item encoding. Sends are top-level fields `s<sequence>`, so recording one is a single
// `update ... set` conditioned on the item's version.
// ---------------------------------------------------------------------------------------

const SEND_FIELD = /^s(\d{1,9})$/;

export function sendField(sequence: number): string {
  return `s${sequence}`;
}

export function encodeSend(send: StagedSend): Json {
  if (send.kind === 'records') {
    return {
      o: send.objectKey,
      r: send.runs.map((r) => [
        r.topicId,
        r.topic,
        r.partition,
        r.position,
        r.length,
        r.offsets,
        r.records,
        r.batches,
        r.maxTimestamp,
      ]),
    };
  }
  return {
    g: send.group,
    m: send.member ? [send.member.id, send.member.epoch] : null,
    f: send.offsets.map((o) => [o.topic, o.partition, o.offset, o.metadata ?? null]),
  };
}

function decodeSend(sequence: number, v: Json): StagedSend {
  const d = v as { [k: string]: Json };
  if (typeof d.o === 'string') {
    return {
      kind: 'records',
      sequence,
      objectKey: d.o,
      runs: (d.r as Json[][]).map((r) => ({
        topicId: r[0] as string,
        topic: r[1] as string,
        partition: r[2] as number,
        position: r[3] as number,
        length: r[4] as number,
        offsets: r[5] as number,
        records: r[6] as number,
        batches: r[7] as number,
        maxTimestamp: r[8] as number,
      })),
    };
  }
  const m = d.m as [string, number] | null;
  return {
    kind: 'offsets',
    sequence,
    group: d.g as string,
    member: m ? { id: m[0], epoch: m[1] } : undefined,
    offsets: (d.f as Json[][]).map((f) =>
      f[3] === null
        ? { topic: f[0] as string, partition: f[1] as number, offset: f[2] as number }
        : {
            topic: f[0] as string,
            partition: f[1] as number,
            offset: f[2] as number,
            metadata: f[3] as string,
          },
    ),
  };
}

export function encodeState(state: TxState): ItemData {
  const data: ItemData = {
    pid: state.producerId,
    e: state.epoch,
    n: state.txn,
    open: state.open,
    dl: state.deadline,
    to: state.timeoutMs,
  };
  if (state.last) data.last = state.last as unknown as Json;
  if (state.committing) data.c = true;
  for (const s of state.sends) data[sendField(s.sequence)] = encodeSend(s);
  return data;
}

export function decodeState(data: ItemData | undefined): TxState | undefined {
  if (!data) return undefined;
  const sends: StagedSend[] = [];
  for (const [k, v] of Object.entries(data)) {
    const m = SEND_FIELD.exec(k);
    if (m) sends.push(decodeSend(Number(m[1]), v));
  }
  sends.sort((a, b) => a.sequence - b.sequence);
  const state: TxState = {
    producerId: data.pid as string,
    epoch: data.e as number,
    txn: data.n as number,
    open: data.open === true,
    deadline: data.dl as number,
    timeoutMs: data.to as number,
    sends,
  };
  if (data.last) state.last = data.last as unknown as TxState['last'];
  if (data.c === true) state.committing = true;
  return state;
}
