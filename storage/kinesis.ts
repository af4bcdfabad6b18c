/**
 * The inbox on a Kinesis data stream (or an emulator at `AWS_ENDPOINT_URL`: moto has
 * Kinesis). Sends are PutRecords of up to 500 records / 5 MiB, one record per inbox message
 * under {@link inboxPartitionKey}; records a call refused (`FailedRecordCount`: throttled or
 * an internal failure) are put again alone, and a throttled call again whole, with backoff.
 * The message ids are the sequence numbers. The stream is read by shard
 * ({@link KinesisInboxQueue.shards}, {@link KinesisInboxQueue.read}): in AWS by an event
 * source mapping, in `sluice dev` by `bin/kinesis-inbox.ts`.
 */
import type {
  KinesisClient,
  KinesisClientConfig,
  PutRecordsCommandOutput,
  PutRecordsRequestEntry,
} from '@aws-sdk/client-kinesis';
import { UnavailableError } from '../core/errors.js';
import { inboxPartitionKey } from '../core/inbox/partition-key.js';
import type { InboxSender, KinesisInboxAddress } from '../core/inbox/queue.js';
import { regionOfStreamArn } from './inbox-address.js';

/**
 * The Kinesis commands, loaded on first use: a function bundle that never touches the inbox
 * (fetch, admin, groups) leaves the Kinesis client out and must not import it
 * (lib/handler-bundles.ts).
 */
const commands = () => import('@aws-sdk/client-kinesis');

/**
 * A Kinesis client. The client speaks HTTP/2 by default (for SubscribeToShard); an emulator
 * at a plain `http://` endpoint (moto) speaks HTTP/1.1 only, so it gets Node's HTTP/1.1
 * handler (unless `config.requestHandler` is given).
 */
export async function createKinesisClient(config: KinesisClientConfig): Promise<KinesisClient> {
  const { KinesisClient } = await commands();
  const endpoint = typeof config.endpoint === 'string' ? config.endpoint : undefined;
  if (endpoint?.startsWith('http:') && config.requestHandler === undefined) {
    const { NodeHttpHandler } = await import('@smithy/node-http-handler');
    return new KinesisClient({ ...config, requestHandler: new NodeHttpHandler() });
  }
  return new KinesisClient(config);
}

/** PutRecords takes at most 500 records … */
export const PUT_RECORDS_MAX_RECORDS = 500;
/** … and 5 MiB of data and partition keys. */
export const PUT_RECORDS_MAX_BYTES = 5 * 1024 * 1024;

/** Error codes (of a call or of one record) worth putting again. */
const RETRIABLE = new Set([
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
  'InternalFailure',
  'ServiceUnavailable',
  'ThrottlingException',
  'KMSThrottlingException',
]);

/** One record read from a shard. */
export interface ShardRecord {
  sequenceNumber: string;
  partitionKey: string;
  data: Uint8Array;
  /** When the stream accepted it, ms since the epoch. */
  arrivedAt: number;
}

export interface KinesisInboxOptions {
  /** The region clients sign for; by default read from the ARN, else AWS_REGION. */
  region?: string;
  /** Rounds of a send before it fails (throttling, refused records). Default 8. */
  maxAttempts?: number;
  /** First backoff, ms, doubled per round up to 2 s, with full jitter. Default 100. */
  backoffMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/**
 * @example
 * const inbox = new KinesisInboxQueue(process.env.SLUICE_INBOX_STREAM!, new KinesisClient({}));
 * const [sequenceNumber] = await inbox.send([body]);
 */
export class KinesisInboxQueue implements InboxSender {
  readonly address: KinesisInboxAddress;
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  constructor(
    readonly streamArn: string,
    readonly client: KinesisClient,
    options: KinesisInboxOptions = {},
  ) {
    this.address = { type: 'kinesis', streamArn, region: options.region ?? regionOfStreamArn(streamArn) };
    this.maxAttempts = options.maxAttempts ?? 8;
    this.backoffMs = options.backoffMs ?? 100;
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.random = options.random ?? Math.random;
  }

  async send(bodies: readonly string[]): Promise<string[]> {
    const entries = bodies.map(
      (body): PutRecordsRequestEntry => ({
        Data: Buffer.from(body),
        PartitionKey: partitionKeyOf(body, this.random),
      }),
    );
    const ids: string[] = new Array(bodies.length);
    for (const chunk of putRecordsChunks(entries)) await this.put(chunk, ids);
    return ids;
  }

  /** Puts `chunk` (indexes into the send), retrying refused records alone and throttled calls whole. */
  private async put(chunk: { entry: PutRecordsRequestEntry; index: number }[], ids: string[]): Promise<void> {
    const { PutRecordsCommand } = await commands();
    let pending = chunk;
    let lastError = '';
    for (let attempt = 0; attempt < this.maxAttempts && pending.length > 0; attempt++) {
      if (attempt > 0) {
        const cap = Math.min(2000, this.backoffMs * 2 ** (attempt - 1));
        await this.sleep(Math.floor(this.random() * cap));
      }
      let out: PutRecordsCommandOutput;
      try {
        out = await this.client.send(
          new PutRecordsCommand({ StreamARN: this.streamArn, Records: pending.map((p) => p.entry) }),
        );
      } catch (err) {
        const name = (err as { name?: string }).name ?? '';
        const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode ?? 0;
        if (!RETRIABLE.has(name) && status < 500) throw err;
        lastError = `${name}: ${(err as Error).message}`;
        continue;
      }
      const again: typeof pending = [];
      (out.Records ?? []).forEach((r, i) => {
        const p = pending[i]!;
        if (r.SequenceNumber && !r.ErrorCode) ids[p.index] = r.SequenceNumber;
        else if (RETRIABLE.has(r.ErrorCode ?? '')) {
          again.push(p);
          lastError = `${r.ErrorCode}: ${r.ErrorMessage ?? ''}`;
        } else {
          throw new UnavailableError(
            `the inbox stream refused a record: ${r.ErrorCode}: ${r.ErrorMessage ?? ''}`,
          );
        }
      });
      pending = again;
    }
    if (pending.length > 0) {
      throw new UnavailableError(
        `the inbox stream refused ${pending.length} record(s) ${this.maxAttempts} times: ${lastError}`,
      );
    }
  }

  /** The stream's open and closed shards, oldest first (ListShards, every page). */
  async shards(): Promise<string[]> {
    const { ListShardsCommand } = await commands();
    const out: string[] = [];
    let next: string | undefined;
    do {
      const page = await this.client.send(
        new ListShardsCommand(next ? { NextToken: next } : { StreamARN: this.streamArn }),
      );
      for (const s of page.Shards ?? []) out.push(s.ShardId!);
      next = page.NextToken;
    } while (next);
    return out;
  }

  /**
   * An iterator of `shardId`: at its oldest record (TRIM_HORIZON), at the record `at`, or
   * just after the record `after` (sequence numbers).
   */
  async iterator(shardId: string, from: { at?: string; after?: string } = {}): Promise<string> {
    const { GetShardIteratorCommand } = await commands();
    const out = await this.client.send(
      new GetShardIteratorCommand({
        StreamARN: this.streamArn,
        ShardId: shardId,
        ...(from.at !== undefined
          ? { ShardIteratorType: 'AT_SEQUENCE_NUMBER', StartingSequenceNumber: from.at }
          : from.after !== undefined
            ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: from.after }
            : { ShardIteratorType: 'TRIM_HORIZON' }),
      }),
    );
    return out.ShardIterator!;
  }

  /**
   * Up to `limit` records from `iterator` (GetRecords) and the iterator after them —
   * `undefined` once a closed shard is read to its end.
   */
  async read(iterator: string, limit = 10_000): Promise<{ records: ShardRecord[]; next?: string }> {
    const { GetRecordsCommand } = await commands();
    const out = await this.client.send(
      new GetRecordsCommand({ StreamARN: this.streamArn, ShardIterator: iterator, Limit: limit }),
    );
    return {
      records: (out.Records ?? []).map((r) => ({
        sequenceNumber: r.SequenceNumber!,
        partitionKey: r.PartitionKey!,
        data: r.Data ?? new Uint8Array(),
        arrivedAt: r.ApproximateArrivalTimestamp?.getTime() ?? Date.now(),
      })),
      next: out.NextShardIterator,
    };
  }
}

/** The partition key of a body built by `core/inbox/build.ts`; random for anything else. */
function partitionKeyOf(body: string, random: () => number): string {
  try {
    const m = JSON.parse(body) as { topic?: unknown; partition?: unknown };
    if (
      typeof m === 'object' &&
      m !== null &&
      typeof m.topic === 'string' &&
      typeof m.partition === 'number'
    ) {
      return inboxPartitionKey(m as Parameters<typeof inboxPartitionKey>[0], random);
    }
  } catch {
    // not JSON: the batcher will refuse it; any shard will do
  }
  return inboxPartitionKey({ topic: '', partition: 0 }, random);
}

/** Entries cut into PutRecords calls of at most 500 records and 5 MiB (data + partition keys). */
export function putRecordsChunks(
  entries: readonly PutRecordsRequestEntry[],
): { entry: PutRecordsRequestEntry; index: number }[][] {
  const out: { entry: PutRecordsRequestEntry; index: number }[][] = [];
  let current: { entry: PutRecordsRequestEntry; index: number }[] = [];
  let bytes = 0;
  entries.forEach((entry, index) => {
    const size = (entry.Data?.length ?? 0) + Buffer.byteLength(entry.PartitionKey ?? '');
    if (
      current.length > 0 &&
      (current.length >= PUT_RECORDS_MAX_RECORDS || bytes + size > PUT_RECORDS_MAX_BYTES)
    ) {
      out.push(current);
      current = [];
      bytes = 0;
    }
    current.push({ entry, index });
    bytes += size;
  });
  if (current.length > 0) out.push(current);
  return out;
}
