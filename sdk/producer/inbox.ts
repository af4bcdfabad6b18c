/**
 * acks=1: sends go to the cluster's durable inbox (`POST /v1/inbox`) and resolve once it
 * holds them; the batcher appends them to the log within the batch window (docs/api.md,
 * "acks=1: the inbox"). Offsets are not known at the ack: the metadata carries
 * `baseOffset: '-1'` and the inbox's message id as a receipt.
 *
 * Idempotence and order: an idempotent producer numbers its inbox messages per partition
 * (sequences of their own, apart from acks=all's) and sends a partition's messages one at
 * a time, each naming when the previous one was acknowledged (`prevAt`), so the batcher
 * commits each once and in order. After a send that failed for good, the partition starts
 * over under a new producer id: the failed message may still land, never twice.
 */
import { randomUUID } from 'node:crypto';
import type { SluiceApi } from '../api.js';
import { parseJson } from '../api.js';
import type { RetryOptions } from '../retry.js';
import type { QueuedRecord } from './request.js';
import { tpKey } from './request.js';
import { inboxRecordBytes, inboxRoom } from './sizing.js';

const MAX_SEQUENCE = 0x7fffffff;

export interface InboxReceipt {
  topic: string;
  partition: number;
  /** The inbox's id of the message holding these records. */
  messageId: string;
  records: number;
  acceptedAt: number;
}

interface PartitionState {
  producerId: string;
  epoch: number;
  seq: number;
  prevAt: number | undefined;
  chain: Promise<unknown>;
}

const b64 = (b: Uint8Array | null | undefined) =>
  b === null || b === undefined ? null : Buffer.from(b).toString('base64');

export class InboxSender {
  private readonly partitions = new Map<string, PartitionState>();
  private inFlight = new Set<Promise<unknown>>();

  constructor(
    private readonly api: SluiceApi,
    private readonly retry: RetryOptions,
    /** A fresh producer id (POST /v1/producers), or undefined for a non-idempotent producer. */
    private readonly newProducer: (() => Promise<{ producerId: string; epoch: number }>) | undefined,
  ) {}

  /**
   * Sends records (already partitioned, each checked to fit a message alone): per
   * partition, as few messages as fit SQS's 256 KiB each, in order; resolves with one
   * receipt per partition (the id of its first message, the records of all).
   */
  async send(records: readonly QueuedRecord[], now: number): Promise<InboxReceipt[]> {
    const byPartition = new Map<string, QueuedRecord[]>();
    for (const r of records) {
      const k = tpKey(r.topic, r.partition);
      const list = byPartition.get(k);
      if (list) list.push(r);
      else byPartition.set(k, [r]);
    }
    const sends = [...byPartition.entries()].map(([k, list]) =>
      this.sendPartition(k, splitMessages(list, now)),
    );
    return Promise.all(sends);
  }

  /** Resolves when every send started so far has been answered. */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /**
   * A partition's messages go one at a time, in the order of the sends. When one of a
   * send's messages fails, its later ones are not sent (the error says how many records
   * were acknowledged before).
   */
  private sendPartition(k: string, messages: QueuedRecord[][]): Promise<InboxReceipt> {
    let state = this.partitions.get(k);
    if (!state) {
      state = { producerId: '', epoch: 0, seq: 0, prevAt: undefined, chain: Promise.resolve() };
      this.partitions.set(k, state);
    }
    const s = state;
    const run = s.chain.then(async () => {
      let first: InboxReceipt | undefined;
      let acked = 0;
      for (const list of messages) {
        let receipt: InboxReceipt;
        try {
          receipt = await this.post(s, list);
        } catch (err) {
          if (acked > 0 && err instanceof Error) {
            err.message += ` (inbox: the first ${acked} records of this send to ${list[0]!.topic}/${list[0]!.partition} were acknowledged in earlier messages; the rest were not sent)`;
          }
          throw err;
        }
        acked += list.length;
        first ??= receipt;
      }
      return { ...first!, records: acked };
    });
    const tracked = run.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
    s.chain = tracked.catch(() => undefined);
    return run;
  }

  private async post(s: PartitionState, list: QueuedRecord[]): Promise<InboxReceipt> {
    const { topic, partition } = list[0]!;
    if (this.newProducer && s.producerId === '') {
      const id = await this.newProducer();
      Object.assign(s, { producerId: id.producerId, epoch: id.epoch, seq: 0, prevAt: undefined });
    }
    const state = this.newProducer ? s : undefined;
    const json = {
      topic,
      encoding: 'base64',
      records: list.map((r) => ({
        key: b64(r.record.key),
        value: b64(r.record.value),
        // The list form: order, repeated keys and nulls kept (docs/api.md, "Headers, exactly").
        headers: (r.record.headers ?? []).map((h) => ({ key: h.key, value: b64(h.value) })),
        partition,
        timestamp: r.record.timestamp,
      })),
      ...(state
        ? {
            producer: {
              id: state.producerId,
              epoch: state.epoch,
              sequences: { [partition]: state.seq },
              ...(state.prevAt !== undefined && { prevAt: { [partition]: state.prevAt } }),
            },
          }
        : { eventId: randomUUID() }),
    };
    try {
      const res = parseJson(
        await this.api.call('produce', { method: 'POST', path: '/v1/inbox', json }, this.retry),
      ) as { acceptedAt: number; messages: { partition: number; messageId: string; records: number }[] };
      if (state) {
        state.seq = (state.seq + list.length) % (MAX_SEQUENCE + 1);
        state.prevAt = Date.now();
      }
      const m = res.messages[0]!;
      return { topic, partition, messageId: m.messageId, records: m.records, acceptedAt: res.acceptedAt };
    } catch (err) {
      // The message may have landed: its sequence is spent. Start over under a new id.
      if (state) state.producerId = '';
      throw err;
    }
  }
}

/** A partition's records cut into consecutive inbox messages that fit SQS's limit. */
function splitMessages(list: QueuedRecord[], now: number): QueuedRecord[][] {
  const room = inboxRoom(list[0]!.topic);
  const out: QueuedRecord[][] = [];
  let current: QueuedRecord[] = [];
  let bytes = 0;
  for (const r of list) {
    const size = inboxRecordBytes(r.record, now);
    if (current.length > 0 && bytes + size > room) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push(r);
    bytes += size;
  }
  out.push(current);
  return out;
}
