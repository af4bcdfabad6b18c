/**
 * The read path (DESIGN.md §4): read the head (high watermark, log start), query the
 * batch index from the requested offset up to `maxBytes`, coalesce the ranges that share
 * an object into one ranged GET, run the GETs in parallel, patch each batch's
 * `baseOffset` (offsets are assigned at commit, after the object was written), and hand
 * back the batches — or decoded records.
 *
 * A read racing with retention or compaction may find an object gone; it then re-reads
 * the head and answers OFFSET_OUT_OF_RANGE if the offset fell below the log start, or
 * reads again through the new index entries. It never surfaces a missing object.
 */
import type { IndexEntry } from './append.js';
import { ByteLru } from './cache.js';
import type { Clock } from './clock.js';
import { SluiceError, UnavailableError } from './errors.js';
import { type Head, headFromItem, readHeads } from './heads.js';
import { keys } from './keys.js';
import { type MetaStore, ObjectNotFoundError, type ObjectStore } from './ports.js';
import {
  type DeflatedBatch,
  decodeBatch,
  type KafkaRecord,
  LOG_OVERHEAD,
  readBatchHeader,
  splitBatches,
} from './records/index.js';
import type { TopicMeta, Topics } from './topics.js';
import { settleHead } from './transactions/large-commit.js';

export interface ReaderDeps {
  meta: MetaStore;
  objects: ObjectStore;
  topics: Topics;
  clock: Clock;
  /** Cache of verified object ranges; default 64 MiB. */
  cache?: ByteLru<Uint8Array>;
  /**
   * A reader that may not write (the fetch function's role): it does not roll large
   * transactions' commits forward, it answers UNAVAILABLE (retriable) for a partition one
   * is being applied to (DESIGN.md §13). Default false.
   */
  readOnly?: boolean;
}

export interface FetchOptions {
  /** Stop adding batches once this many bytes are gathered (at least one is returned). */
  maxBytes?: number;
  /** Wait up to this long for data when the offset is at the high watermark. */
  maxWaitMs?: number;
  /**
   * The topic incarnation the caller reads (its id, as a fetch answered it): a topic of
   * that name with another id is UNKNOWN_TOPIC_ID rather than read from the same offset.
   */
  topicId?: string;
  /**
   * This partition's head as the caller read it in this request (strongly consistent), so
   * the read does not fetch it a second time. Used for the first attempt only, and only when
   * it is of the topic incarnation read, neither a tombstone nor carrying pending commits;
   * otherwise the head is read as usual.
   */
  head?: ReadHead;
}

/** A partition head read by a caller, with the id of the topic incarnation it belongs to. */
export interface ReadHead {
  topicId: string;
  head: Head;
}

/** A head was a tombstone: the topic as cached was deleted. */
class DeletedHead extends Error {}

export interface PartitionBatches {
  topic: string;
  /** The id of the topic incarnation read. */
  topicId: string;
  partition: number;
  highWatermark: number;
  logStartOffset: number;
  /** Batches holding offsets ≥ the requested one; the first may start before it. */
  batches: DeflatedBatch[];
}

export interface PartitionRecords {
  topic: string;
  /** The id of the topic incarnation read. */
  topicId: string;
  partition: number;
  highWatermark: number;
  logStartOffset: number;
  nextOffset: number;
  records: KafkaRecord[];
}

export const DEFAULT_MAX_BYTES = 1024 * 1024;
export const MAX_WAIT_MS = 20_000;
/** Ranges in one object closer than this are read with one GET. */
const COALESCE_GAP = 256 * 1024;
const PARALLEL_GETS = 8;
const POLL_MS = [25, 50, 100, 200, 250];

export class Reader {
  readonly cache: ByteLru<Uint8Array>;

  constructor(private readonly deps: ReaderDeps) {
    this.cache = deps.cache ?? new ByteLru(64 * 1024 * 1024);
  }

  /**
   * The head of a partition, strongly consistent (a tombstone once the topic was deleted),
   * with the pending commits of large transactions honoured (DESIGN.md §13): rolled forward
   * when committed, else read as before them.
   */
  async head(topic: TopicMeta, partition: number): Promise<Head> {
    const head = headFromItem(await this.deps.meta.get(keys.head(topic.id, partition)));
    return head.data.x
      ? settleHead(this.deps.meta, this.deps.clock, topic.id, partition, head, this.deps.readOnly)
      : head;
  }

  /** Heads of several partitions in one read, pending commits honoured as in {@link head}. */
  private async heads(topicId: string, partitions: readonly number[]): Promise<Head[]> {
    const heads = await readHeads(
      this.deps.meta,
      partitions.map((partition) => ({ topicId, partition })),
    );
    return Promise.all(
      heads.map((h, i) =>
        h.data.x
          ? settleHead(this.deps.meta, this.deps.clock, topicId, partitions[i]!, h, this.deps.readOnly)
          : h,
      ),
    );
  }

  /** The head of a partition of the topic as resolved; throws DeletedHead on a tombstone. */
  private async liveHead(topic: TopicMeta, partition: number): Promise<Head> {
    const head = await this.head(topic, partition);
    if (head.data.deleted) throw new DeletedHead();
    return head;
  }

  /**
   * Runs `read` on the topic of that name (with `partition`, when given), as the cache has
   * it. When `read` meets a tombstone — the cache held a deleted incarnation — the topic is
   * read from the catalog and `read` runs once more on the topic now of that name. With
   * `expectedId`, a topic whose id is another, or no topic at all, is UNKNOWN_TOPIC_ID
   * (docs/design.md "Topic incarnations"), whatever its partitions.
   */
  private async onTopic<T>(
    name: string,
    partition: number | undefined,
    expectedId: string | undefined,
    read: (topic: TopicMeta) => Promise<T>,
  ): Promise<T> {
    const first = await this.resolve(name, partition, expectedId, false);
    try {
      return await read(first);
    } catch (err) {
      if (!(err instanceof DeletedHead)) throw err;
    }
    const again = await this.resolve(name, partition, expectedId, true);
    if (again.id !== first.id) {
      try {
        return await read(again);
      } catch (err) {
        if (!(err instanceof DeletedHead)) throw err;
      }
    }
    // Still the tombstoned id: a delete in progress (or one that stopped half-way).
    throw new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${name}' is being deleted`);
  }

  /** The topic of that name, from the cache unless `fresh` or the cache disagrees with `expectedId`. */
  private async resolve(
    name: string,
    partition: number | undefined,
    expectedId: string | undefined,
    fresh: boolean,
  ): Promise<TopicMeta> {
    const { topics } = this.deps;
    if (fresh) topics.invalidate(name);
    if (expectedId === undefined) {
      return partition === undefined ? topics.get(name) : topics.withPartition(name, partition);
    }
    let topic = fresh ? await topics.load(name) : await topics.get(name).catch(() => undefined);
    // The cache may be the stale side: ask the catalog before refusing.
    if (!fresh && topic?.id !== expectedId) topic = await topics.load(name);
    if (topic?.id !== expectedId) {
      throw new SluiceError(
        'UNKNOWN_TOPIC_ID',
        topic === undefined
          ? `topic '${name}' (id ${expectedId}) was deleted`
          : `topic '${name}' is id ${topic.id}, not ${expectedId}: the topic read before was deleted`,
      );
    }
    return partition === undefined ? topic : topics.withPartition(name, partition);
  }

  /**
   * Batches from `offset`, as stored, with base offsets patched.
   * @example
   * const { batches, highWatermark } = await reader.fetchBatches('orders', 0, 42, { maxBytes: 1 << 20 });
   */
  async fetchBatches(
    topicName: string,
    partition: number,
    offset: number,
    options: FetchOptions = {},
  ): Promise<PartitionBatches> {
    return this.onTopic(topicName, partition, options.topicId, (topic) =>
      this.batchesOf(topic, partition, offset, options),
    );
  }

  private async batchesOf(
    topic: TopicMeta,
    partition: number,
    offset: number,
    options: FetchOptions,
  ): Promise<PartitionBatches> {
    const topicName = topic.name;
    for (let attempt = 0; ; attempt++) {
      const given = attempt === 0 ? options.head : undefined;
      let head =
        given && given.topicId === topic.id && !given.head.data.deleted && !given.head.data.x
          ? given.head
          : await this.liveHead(topic, partition);
      checkRange(topicName, partition, offset, head);
      if (offset === head.data.next && (options.maxWaitMs ?? 0) > 0) {
        head = await this.waitForData(
          topic,
          partition,
          offset,
          Math.min(options.maxWaitMs!, MAX_WAIT_MS),
          head,
        );
        if (head.data.deleted) throw new DeletedHead();
      }
      const base = {
        topic: topicName,
        topicId: topic.id,
        partition,
        highWatermark: head.data.next,
        logStartOffset: head.data.start,
      };
      if (offset >= head.data.next) return { ...base, batches: [] };
      const entries = await this.indexFrom(
        topic,
        partition,
        offset,
        head.data.next,
        options.maxBytes ?? DEFAULT_MAX_BYTES,
      );
      if (entries.length === 0 || entries[0]!.base > offset) {
        // Retention may have removed the entries after we read the head; a compacted
        // topic may legitimately skip offsets. The head says which.
        checkRange(topicName, partition, offset, await this.head(topic, partition));
      }
      try {
        const batches = await this.load(entries, offset);
        return { ...base, batches };
      } catch (err) {
        if (!(err instanceof ObjectNotFoundError)) throw err;
        // Retention or compaction moved underneath us: look again.
        const now = await this.head(topic, partition);
        checkRange(topicName, partition, offset, now);
        if (attempt >= 3)
          throw new UnavailableError('the log changed during the read; retry', { cause: err });
      }
    }
  }

  /** Records from `offset` (decoded), honouring `maxRecords` and `maxBytes`. */
  async fetchRecords(
    topicName: string,
    partition: number,
    offset: number,
    options: FetchOptions & { maxRecords?: number } = {},
  ): Promise<PartitionRecords> {
    return this.toRecords(await this.fetchBatches(topicName, partition, offset, options), offset, options);
  }

  /** Decodes fetched batches into the records at or after `offset`, within the limits. */
  toRecords(
    fetched: PartitionBatches,
    offset: number,
    options: { maxRecords?: number; maxBytes?: number } = {},
  ): PartitionRecords {
    const maxBytes = options.maxBytes ?? Number.POSITIVE_INFINITY;
    const maxRecords = options.maxRecords ?? Number.POSITIVE_INFINITY;
    const records: KafkaRecord[] = [];
    let bytes = 0;
    let nextOffset = offset;
    outer: for (const batch of fetched.batches) {
      const decoded = decodeBatch(batch);
      for (const r of decoded.records) {
        if (r.offset < offset) continue;
        const size = (r.key?.length ?? 0) + (r.value?.length ?? 0);
        if (records.length >= maxRecords || (records.length > 0 && bytes + size > maxBytes)) break outer;
        records.push(r);
        bytes += size;
        nextOffset = r.offset + 1;
      }
      // Past the whole batch (compaction may leave offset gaps inside it).
      nextOffset = Math.max(nextOffset, decoded.header.baseOffset + decoded.header.lastOffsetDelta + 1);
    }
    const { batches: _, ...rest } = fetched;
    return { ...rest, nextOffset, records };
  }

  /** Earliest, latest, or the first offset whose timestamp is ≥ `at`. */
  async listOffset(
    topicName: string,
    partition: number,
    at: 'earliest' | 'latest' | number,
    options: { topicId?: string } = {},
  ): Promise<{ offset: number; timestamp?: number }> {
    return this.onTopic(topicName, partition, options.topicId, (topic) =>
      this.offsetAt(topic, partition, at),
    );
  }

  private async offsetAt(
    topic: TopicMeta,
    partition: number,
    at: 'earliest' | 'latest' | number,
  ): Promise<{ offset: number; timestamp?: number }> {
    const topicName = topic.name;
    const head = await this.liveHead(topic, partition);
    if (at === 'earliest') return { offset: head.data.start };
    if (at === 'latest') return { offset: head.data.next };
    let after: string | undefined;
    do {
      const page = await this.deps.meta.query(
        keys.partitionPk(topic.id, partition),
        { gte: keys.indexSk(head.data.start), lte: `${keys.indexPrefix}~` },
        { limit: 100, after },
      );
      for (const item of page.items) {
        const entry = item.data as unknown as IndexEntry;
        if (entry.mt < at) continue;
        // Only this entry is read: the answer is in it unless its records are out of order.
        const from = Math.max(entry.base, head.data.start);
        let batches: DeflatedBatch[];
        try {
          batches = await this.load([entry], from);
        } catch (err) {
          if (err instanceof ObjectNotFoundError) continue; // retention or compaction moved it
          throw err;
        }
        const base = {
          topic: topicName,
          topicId: topic.id,
          partition,
          highWatermark: head.data.next,
          logStartOffset: head.data.start,
        };
        const hit = this.toRecords({ ...base, batches }, from).records.find((r) => r.timestamp >= at);
        if (hit) return { offset: hit.offset, timestamp: hit.timestamp };
      }
      after = page.next;
    } while (after);
    return { offset: head.data.next };
  }

  /** Log start and high watermark of every partition of a topic. */
  async describePartitions(topicName: string): Promise<{
    topic: TopicMeta;
    partitions: { partition: number; logStartOffset: number; highWatermark: number }[];
  }> {
    return this.onTopic(topicName, undefined, undefined, async (topic) => {
      const heads = await this.liveHeads(
        topic,
        Array.from({ length: topic.partitions }, (_, partition) => partition),
      );
      return {
        topic,
        partitions: heads.map((h, partition) => ({
          partition,
          logStartOffset: h.data.start,
          highWatermark: h.data.next,
        })),
      };
    });
  }

  /** High watermarks of some partitions of a topic (for consumer lag). */
  async highWatermarks(topicName: string, partitions: readonly number[]): Promise<number[]> {
    return this.onTopic(topicName, undefined, undefined, async (topic) =>
      (await this.liveHeads(topic, partitions)).map((h) => h.data.next),
    );
  }

  private async liveHeads(topic: TopicMeta, partitions: readonly number[]): Promise<Head[]> {
    const heads = await this.heads(topic.id, partitions);
    if (heads.some((h) => h.data.deleted)) throw new DeletedHead();
    return heads;
  }

  private async waitForData(
    topic: TopicMeta,
    partition: number,
    offset: number,
    maxWaitMs: number,
    head: Head,
  ): Promise<Head> {
    const deadline = this.deps.clock.now() + maxWaitMs;
    for (let i = 0; head.data.next <= offset; i++) {
      const left = deadline - this.deps.clock.now();
      if (left <= 0) break;
      await this.deps.clock.sleep(Math.min(left, POLL_MS[Math.min(i, POLL_MS.length - 1)]!));
      head = await this.head(topic, partition);
    }
    return head;
  }

  /** Index entries holding offsets ≥ `offset`, below `end`, until `maxBytes` (at least one). */
  private async indexFrom(
    topic: TopicMeta,
    partition: number,
    offset: number,
    end: number,
    maxBytes: number,
  ): Promise<IndexEntry[]> {
    const entries: IndexEntry[] = [];
    let bytes = 0;
    let covered = offset;
    let after: string | undefined;
    let limit = 16;
    do {
      const page = await this.deps.meta.query(
        keys.partitionPk(topic.id, partition),
        { gte: keys.indexSk(offset), lte: `${keys.indexPrefix}~` },
        { limit, after },
      );
      for (const item of page.items) {
        const entry = item.data as unknown as IndexEntry;
        if (entry.base >= end) return entries;
        if (entry.base + entry.n <= covered) continue; // already covered (a compaction swap seen half-way)
        covered = entry.base + entry.n;
        if (entries.length > 0 && bytes + entry.len > maxBytes) return entries;
        entries.push(entry);
        bytes += entry.len;
        if (bytes >= maxBytes) return entries;
      }
      after = page.next;
      limit = 100;
    } while (after);
    return entries;
  }

  /** Reads the entries' bytes (cache, then coalesced parallel GETs) and patches offsets. */
  private async load(entries: readonly IndexEntry[], offset: number): Promise<DeflatedBatch[]> {
    const bytes = new Map<IndexEntry, Uint8Array>();
    const missing: IndexEntry[] = [];
    for (const e of entries) {
      const hit = this.cache.get(cacheKey(e));
      if (hit) bytes.set(e, hit);
      else missing.push(e);
    }
    const reads = coalesce(missing);
    for (let i = 0; i < reads.length; i += PARALLEL_GETS) {
      await Promise.all(
        reads.slice(i, i + PARALLEL_GETS).map(async (read) => {
          const body = await this.deps.objects.get(read.object, { start: read.start, end: read.end });
          for (const e of read.entries) {
            const slice = body.subarray(e.pos - read.start, e.pos - read.start + e.len);
            if (slice.length !== e.len)
              throw new UnavailableError(`object ${e.o} is shorter than its index says`);
            verifyStored(e, slice);
            this.cache.set(cacheKey(e), slice);
            bytes.set(e, slice);
          }
        }),
      );
    }
    // A query may see both sides of a compaction swap (old small entries, then the new
    // entry that covers them): the cursor emits every offset once, in order.
    const out: DeflatedBatch[] = [];
    let cursor = offset;
    for (const e of entries) {
      let next = e.base;
      for (const batch of walkBatches(bytes.get(e)!)) {
        const baseOffset = e.abs ? batch.header.baseOffset : next;
        next = baseOffset + batch.header.lastOffsetDelta + 1;
        if (next <= cursor) continue;
        if (!e.abs) {
          // In place: these bytes are ours (fresh from the store or the cache), and the
          // value written is the same on every read of this entry.
          new DataView(batch.bytes.buffer, batch.bytes.byteOffset, 8).setBigInt64(0, BigInt(baseOffset));
          batch.header.baseOffset = baseOffset;
        }
        out.push(batch);
        cursor = next;
      }
    }
    return out;
  }
}

/**
 * Checks every CRC of a range read from the store, once, before it is cached. A failure
 * is the store's fault, not the client's: it is reported as unavailable, not corrupt input.
 */
function verifyStored(e: IndexEntry, slice: Uint8Array): void {
  try {
    splitBatches(slice);
  } catch (cause) {
    throw new UnavailableError(`stored batches in ${e.o} at ${e.pos} fail their checks`, { cause });
  }
}

/** Batches of a verified range: headers only, no CRC (it was checked when the range was read). */
function walkBatches(bytes: Uint8Array): DeflatedBatch[] {
  const out: DeflatedBatch[] = [];
  for (let pos = 0; pos < bytes.length; ) {
    const header = readBatchHeader(bytes, pos);
    const end = pos + LOG_OVERHEAD + header.batchLength;
    out.push({ header, bytes: bytes.subarray(pos, end) });
    pos = end;
  }
  return out;
}

function checkRange(topic: string, partition: number, offset: number, head: Head): void {
  if (offset < head.data.start || offset > head.data.next) {
    throw new SluiceError(
      'OFFSET_OUT_OF_RANGE',
      `offset ${offset} is outside ${topic}/${partition}'s range [${head.data.start}, ${head.data.next}]`,
    );
  }
}

function cacheKey(e: IndexEntry): string {
  return `${e.o}@${e.pos}+${e.len}`;
}

interface RangeRead {
  object: string;
  start: number;
  end: number;
  entries: IndexEntry[];
}

/** Groups entries by object and merges ranges that are close into one GET. */
export function coalesce(entries: readonly IndexEntry[]): RangeRead[] {
  const byObject = new Map<string, IndexEntry[]>();
  for (const e of entries) {
    const list = byObject.get(e.o);
    if (list) list.push(e);
    else byObject.set(e.o, [e]);
  }
  const reads: RangeRead[] = [];
  for (const [object, list] of byObject) {
    list.sort((a, b) => a.pos - b.pos);
    let current: RangeRead | undefined;
    for (const e of list) {
      if (current && e.pos - current.end <= COALESCE_GAP) {
        current.end = Math.max(current.end, e.pos + e.len);
        current.entries.push(e);
      } else {
        current = { object, start: e.pos, end: e.pos + e.len, entries: [e] };
        reads.push(current);
      }
    }
  }
  return reads;
}
