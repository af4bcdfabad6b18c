/**
 * acks=1: sends go to the cluster's durable inbox and resolve once it holds them; the
 * batcher appends them to the log within the batch window (docs/api.md, "acks=1: the
 * inbox"). Offsets are not known at the ack: the metadata carries `baseOffset: '-1'` and
 * the inbox's message id as a receipt.
 *
 * Two ways in, decided by `GET /v1/metadata`'s `inbox`: straight to the SQS queue or the
 * Kinesis stream it names (SendMessageBatch or PutRecords signed with the client's
 * credentials: no Sluice function runs per send), or — when it names `http`, or no AWS
 * credentials are found, or `inbox.mode` is `'http'` — through `POST /v1/inbox`. All carry
 * the same messages: the SDK builds them with the module the produce function uses
 * (`core/inbox/build.ts`); on Kinesis under the partition key of `core/inbox/partition-key.ts`
 * (an idempotent producer's messages for a partition in one shard, in order).
 *
 * Idempotence and order: an idempotent producer numbers its inbox messages per partition
 * (sequences of their own, apart from acks=all's) and sends a partition's messages one at
 * a time, each naming when the previous one was acknowledged (`prevAt`), so the batcher
 * commits each once and in order. A partition's records of one send become as few messages
 * as fit SQS's 256 KiB each; the send goes in rounds — the first message of every partition,
 * then the second… — each round together, ten per SendMessageBatch (500 per PutRecords). After a send that failed
 * for good, the partition starts over under a new producer id: the failed message may still
 * land, never twice.
 */
import { randomUUID } from 'node:crypto';
import { inboxBodyOf, inboxMessageOf } from '../../core/inbox/build.js';
import { inboxPartitionKey } from '../../core/inbox/partition-key.js';
import { INBOX_RETRY_HORIZON_MS, INBOX_SKEW_MS, MAX_INBOX_MESSAGE_BYTES } from '../../core/inbox/queue.js';
import type { SluiceApi } from '../api.js';
import { parseJson } from '../api.js';
import { AuthorizationFailedError, MessageTooLargeError, type SluiceClientError } from '../errors.js';
import { type RetryOptions, retriesWithin } from '../retry.js';
import type { InboxSendResult } from '../transport/aws-json.js';
import { defaultCredentials } from '../transport/credentials.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../transport/http.js';
import { KinesisInboxClient } from '../transport/kinesis.js';
import { SqsInboxClient } from '../transport/sqs.js';
import type { Transport } from '../transport/types.js';
import type { QueuedRecord } from './request.js';
import { tpKey } from './request.js';
import { inboxRecordBytes, inboxRoom } from './sizing.js';

const MAX_SEQUENCE = 0x7fffffff;

/** `new Sluice({ inbox })`: how acks=1 and acks=0 sends reach the inbox. */
export interface InboxConfig {
  /**
   * `'auto'`: to the SQS queue or Kinesis stream `GET /v1/metadata` names when AWS credentials are found, else
   * `POST /v1/inbox`; `'http'`: always `POST /v1/inbox` (one produce invocation per send).
   * @default 'auto'
   */
  mode?: 'auto' | 'http';
  /** Replaces the HTTP transport to SQS or Kinesis (tracing, fault injection): it receives signed requests. */
  transport?: Transport;
}

export interface InboxReceipt {
  topic: string;
  partition: number;
  /** The inbox's id of the message holding these records. */
  messageId: string;
  records: number;
  acceptedAt: number;
}

/** A client sending to the inbox itself (SQS, Kinesis). */
interface DirectInbox {
  /** What log lines name the inbox by. */
  readonly target: Record<string, string>;
  /** One result per body; `partitionKeys[i]` is the Kinesis partition key of `bodies[i]` (SQS has none). */
  sendMessages(bodies: readonly string[], partitionKeys: readonly string[]): Promise<InboxSendResult[]>;
}

interface PartitionState {
  producerId: string;
  epoch: number;
  seq: number;
  prevAt: number | undefined;
  /** Settles when this partition's last send has been answered. */
  chain: Promise<unknown>;
}

interface Part {
  topic: string;
  partition: number;
  records: QueuedRecord[];
  state: PartitionState;
}

export class InboxSender {
  private readonly partitions = new Map<string, PartitionState>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private route: Promise<DirectInbox | undefined> | undefined;
  /** The producer's retry options, cut to the sender retry horizon. */
  private readonly retry: RetryOptions;

  constructor(
    private readonly api: SluiceApi,
    retry: RetryOptions,
    /** A fresh producer id (POST /v1/producers), or undefined for a non-idempotent producer. */
    private readonly newProducer: (() => Promise<{ producerId: string; epoch: number }>) | undefined,
  ) {
    // Every retry of a message must land within the sender retry horizon of its first
    // attempt (its `at`), or the batcher may not find the copy committed first: retry no
    // longer than the horizon less the clock-skew margin allows (the defaults fit).
    const requestTimeout = api.inbox?.requestTimeout ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const budget = INBOX_RETRY_HORIZON_MS - INBOX_SKEW_MS;
    const { retry: within, cut } = retriesWithin(retry, requestTimeout, budget);
    if (cut) {
      api.logger.warn(
        'acks=1: fewer retries per inbox send than configured, to stay within the sender retry horizon',
        {
          retries: within.retries,
          requestTimeout,
          horizonMs: INBOX_RETRY_HORIZON_MS,
        },
      );
    }
    this.retry = within;
  }

  /**
   * Sends records (already partitioned, each checked to fit a message alone): per
   * partition, as few messages as fit SQS's 256 KiB each, in order; resolves with one
   * receipt per partition (the id of its first message, the records of all).
   */
  send(records: readonly QueuedRecord[], now: number): Promise<InboxReceipt[]> {
    const byPartition = new Map<string, Part>();
    for (const r of records) {
      const k = tpKey(r.topic, r.partition);
      let part = byPartition.get(k);
      if (!part) {
        let state = this.partitions.get(k);
        if (!state) {
          state = { producerId: '', epoch: 0, seq: 0, prevAt: undefined, chain: Promise.resolve() };
          this.partitions.set(k, state);
        }
        part = { topic: r.topic, partition: r.partition, records: [], state };
        byPartition.set(k, part);
      }
      part.records.push(r);
    }
    const parts = [...byPartition.values()];
    // A partition's messages go one at a time, in the order of the sends: this send waits for
    // the previous one of every partition it writes.
    const run = Promise.all(parts.map((p) => p.state.chain)).then(() => this.deliverInRounds(parts, now));
    const tracked = run.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
    const settled = tracked.catch(() => undefined);
    for (const p of parts) p.state.chain = settled;
    return run;
  }

  /** Resolves when every send started so far has been answered. */
  async flush(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /**
   * Round i carries the i-th message of every partition that has one. When a round fails,
   * later ones are not sent (the error says how many records of the partition were
   * acknowledged before).
   */
  private async deliverInRounds(parts: Part[], now: number): Promise<InboxReceipt[]> {
    const messages = parts.map((p) => splitMessages(p.records, now));
    const receipts = new Map<Part, InboxReceipt>();
    for (let round = 0; ; round++) {
      const batch = parts
        .map((p, i) => messages[i]![round] && { ...p, records: messages[i]![round]! })
        .filter((p): p is Part => p !== undefined);
      if (batch.length === 0) break;
      let got: InboxReceipt[];
      try {
        got = await this.deliver(batch);
      } catch (err) {
        const acked = batch.map((p) => receipts.get(parts.find((x) => x.state === p.state)!)?.records ?? 0);
        const first = batch.findIndex((_, i) => acked[i]! > 0);
        if (first >= 0 && err instanceof Error) {
          const p = batch[first]!;
          err.message += ` (inbox: the first ${acked[first]} records of this send to ${p.topic}/${p.partition} were acknowledged in earlier messages; the rest were not sent)`;
        }
        throw err;
      }
      batch.forEach((p, i) => {
        const part = parts.find((x) => x.state === p.state)!;
        const before = receipts.get(part);
        receipts.set(part, before ? { ...before, records: before.records + got[i]!.records } : got[i]!);
      });
    }
    return parts.map((p) => receipts.get(p)!);
  }

  private async deliver(parts: Part[]): Promise<InboxReceipt[]> {
    const direct = await this.direct();
    const fresh = parts.filter((p) => p.state.producerId === '');
    if (this.newProducer && fresh.length > 0) {
      // The partitions of one send starting afresh share one new id (sequences are per
      // partition); a partition never takes an id it used before.
      const id = await this.newProducer();
      for (const p of fresh) {
        Object.assign(p.state, { producerId: id.producerId, epoch: id.epoch, seq: 0, prevAt: undefined });
      }
    }
    if (direct) {
      const receipts = await this.toQueue(direct, parts);
      if (receipts) return receipts;
      // Denied: these credentials may call the produce URL but not send to the inbox (an
      // imported cluster granted without its inbox ARN). Nothing was enqueued; from now on
      // every send goes through POST /v1/inbox.
      this.api.logger.warn(
        'acks=1: not allowed to send to the inbox; sending through POST /v1/inbox',
        direct.target,
      );
      this.route = Promise.resolve(undefined);
      return this.deliver(parts);
    }
    try {
      return await this.overHttp(parts);
    } catch (err) {
      // The messages may have landed: their sequences are spent. Start over under a new id.
      for (const p of parts) if (this.newProducer) p.state.producerId = '';
      throw err;
    }
  }

  /**
   * Straight to SQS or Kinesis: one message per partition, up to ten per SendMessageBatch
   * (500 per PutRecords). Resolves `undefined` when the inbox denied every message (nothing
   * enqueued, no sequence spent).
   */
  private async toQueue(inbox: DirectInbox, parts: Part[]): Promise<InboxReceipt[] | undefined> {
    // Before the first attempt: the client's retries resend these very bodies.
    const now = Date.now();
    const eventId = this.newProducer ? undefined : randomUUID();
    const keys: string[] = [];
    const bodies = parts.map((p) => {
      const message = inboxMessageOf({
        topic: p.topic,
        partition: p.partition,
        records: p.records.map((r) => r.record),
        now,
        producer: this.newProducer
          ? { id: p.state.producerId, epoch: p.state.epoch, seq: p.state.seq, prevAt: p.state.prevAt }
          : undefined,
        eventId,
        at: now,
      });
      keys.push(inboxPartitionKey(message));
      const { body, bytes, tooLarge } = inboxBodyOf(message);
      if (tooLarge) {
        throw new MessageTooLargeError(
          `an acks=1 send puts at most ${MAX_INBOX_MESSAGE_BYTES} bytes in one partition's inbox message; ${p.topic}-${p.partition} needs ${bytes}: send fewer records at once, or use acks=all`,
          { status: 413, retriable: false },
        );
      }
      return body;
    });
    const results = await inbox.sendMessages(bodies, keys);
    if (results.every((r) => 'error' in r && r.error instanceof AuthorizationFailedError)) return undefined;
    const acceptedAt = Date.now();
    let failed: SluiceClientError | undefined;
    const receipts = parts.map((p, i) => {
      const r = results[i]!;
      if ('error' in r) {
        // It may have landed: its sequence is spent. The partition starts over under a new id.
        failed ??= r.error;
        if (this.newProducer) p.state.producerId = '';
        return undefined;
      }
      this.advance(p, acceptedAt);
      return {
        topic: p.topic,
        partition: p.partition,
        messageId: r.messageId,
        records: p.records.length,
        acceptedAt,
      };
    });
    if (failed) throw failed;
    return receipts as InboxReceipt[];
  }

  /** Through the produce function: `POST /v1/inbox` with every partition of the send. */
  private async overHttp(parts: Part[]): Promise<InboxReceipt[]> {
    const b64 = (b: Uint8Array | null | undefined) =>
      b === null || b === undefined ? null : Buffer.from(b).toString('base64');
    const first = parts[0]!;
    // Built once, before the first attempt: every retry of the request sends this `at`.
    const json = {
      at: Date.now(),
      topic: first.topic,
      encoding: 'base64',
      records: parts.flatMap((p) =>
        p.records.map((r) => ({
          key: b64(r.record.key),
          value: b64(r.record.value),
          // The list form: order, repeated keys and nulls kept (docs/api.md, "Headers, exactly").
          headers: (r.record.headers ?? []).map((h) => ({ key: h.key, value: b64(h.value) })),
          partition: p.partition,
          timestamp: r.record.timestamp,
        })),
      ),
      ...(this.newProducer
        ? {
            producer: {
              id: first.state.producerId,
              epoch: first.state.epoch,
              sequences: Object.fromEntries(parts.map((p) => [p.partition, p.state.seq])),
              prevAt: Object.fromEntries(
                parts.filter((p) => p.state.prevAt !== undefined).map((p) => [p.partition, p.state.prevAt]),
              ),
            },
          }
        : { eventId: randomUUID() }),
    };
    if (this.newProducer && parts.some((p) => p.state.producerId !== first.state.producerId)) {
      // One request names one producer: partitions under different ids go separately.
      const out: InboxReceipt[] = [];
      for (const p of parts) out.push(...(await this.overHttp([p])));
      return out;
    }
    const res = parseJson(
      await this.api.call('produce', { method: 'POST', path: '/v1/inbox', json }, this.retry),
    ) as { acceptedAt: number; messages: { partition: number; messageId: string; records: number }[] };
    const acceptedAt = Date.now();
    return parts.map((p) => {
      this.advance(p, acceptedAt);
      const m = res.messages.find((x) => x.partition === p.partition)!;
      return {
        topic: p.topic,
        partition: p.partition,
        messageId: m.messageId,
        records: m.records,
        acceptedAt: res.acceptedAt,
      };
    });
  }

  private advance(p: Part, acceptedAt: number): void {
    if (!this.newProducer) return;
    p.state.seq = (p.state.seq + p.records.length) % (MAX_SEQUENCE + 1);
    p.state.prevAt = acceptedAt;
  }

  /** The SQS or Kinesis client when sends go straight to the inbox, else undefined (POST /v1/inbox). */
  private direct(): Promise<DirectInbox | undefined> {
    this.route ??= this.chooseRoute().catch((err: unknown) => {
      this.route = undefined;
      throw err;
    });
    return this.route;
  }

  private async chooseRoute(): Promise<DirectInbox | undefined> {
    const options = this.api.inbox ?? {};
    const inbox = (await this.api.metadata()).inbox;
    if (options.mode === 'http' || inbox === undefined || inbox.type === 'http') return undefined;
    const credentials = options.credentials ?? defaultCredentials();
    try {
      if (typeof credentials === 'function') await credentials();
    } catch (err) {
      this.api.logger.info(
        'no AWS credentials for the inbox: acks=1 and acks=0 sends go through POST /v1/inbox',
        {
          inbox: inbox.type === 'sqs' ? inbox.queueUrl : inbox.streamArn,
          reason: String(err),
        },
      );
      return undefined;
    }
    const common = {
      region: inbox.region,
      credentials,
      transport: options.transport,
      retry: this.retry,
      logger: this.api.logger,
      requestTimeout: options.requestTimeout,
    };
    return inbox.type === 'sqs'
      ? new SqsInboxClient({ queueUrl: inbox.queueUrl, ...common })
      : new KinesisInboxClient({ streamArn: inbox.streamArn, ...common });
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
