/**
 * Sizing what a producer sends to every limit on the way (docs/design.md §17, "Requests
 * fit Lambda"): a record batch to its topic's `max.message.bytes` after compression, a
 * produce request to what a Lambda Function URL carries, an inbox message to SQS's
 * 256 KiB. Batches are cut by each record's exact size in an uncompressed batch, so an
 * uncompressed one always fits; a compressed one is measured once encoded (incompressible
 * data grows a little) and halved when over. Requests are estimated by upper bounds.
 */
import { MAX_BINARY_REQUEST_BYTES } from '../../core/lambda-payload.js';
import {
  BATCH_HEADER_SIZE,
  Compression,
  encodeBatch,
  type RecordInput,
  recordSizeInBatch,
} from '../../core/records/index.js';

/** Bytes a v2 record batch adds to its records (its header). */
export const BATCH_OVERHEAD = BATCH_HEADER_SIZE;

/**
 * The largest produce body that reaches the function (`core/lambda-payload.ts`): binary
 * bodies travel base64-encoded in Lambda's 6 MB event. 4,669,440 bytes.
 */
export const MAX_REQUEST_BODY_BYTES = MAX_BINARY_REQUEST_BYTES;

/**
 * What the producer packs a request to (the largest `batchSize`), measured by upper bounds:
 * the room left to {@link MAX_REQUEST_BODY_BYTES} absorbs what compression may add.
 */
export const TARGET_REQUEST_BYTES = 4 * 1024 * 1024;

/** SQS's largest message (256 KiB), the limit of one inbox message (`core/inbox/queue.ts`). */
export const MAX_INBOX_MESSAGE_BYTES = 256 * 1024;

/** Room an inbox message keeps for its envelope besides the topic name (producer, event id, numbers). */
const INBOX_ENVELOPE_BYTES = 512;

const MAX_VARINT = 5;
const MAX_VARLONG = 10;

/**
 * The most bytes a record takes inside an uncompressed batch, wherever it sits in it:
 * its fields exactly, its framing (length, attributes, timestamp and offset deltas, counts)
 * at their widest.
 */
export function recordBound(r: RecordInput): number {
  let n = MAX_VARINT + 1 + MAX_VARLONG + MAX_VARINT + field(r.key) + field(r.value) + MAX_VARINT;
  for (const h of r.headers ?? []) n += MAX_VARINT + Buffer.byteLength(h.key, 'utf8') + field(h.value);
  return n;
}

const field = (b: Uint8Array | null | undefined) =>
  b === null || b === undefined ? 1 : MAX_VARINT + b.length;

/** Bytes a produce request's frame adds to a batch (topic name, partition, length). */
export function frameOverhead(topic: string): number {
  return 2 + Buffer.byteLength(topic, 'utf8') + 8;
}

/**
 * The most a codec adds to `bytes` of incompressible data: frame headers and per-block
 * framing (gzip 18 + 5 per 64 KiB, zstd ≤ 18 + 3 per 128 KiB, LZ4 ≤ 19 + n/255, Snappy's
 * Kafka framing 16 + 4 per 32 KiB plus literal tags) stay under 64 bytes + 1/128.
 */
export function compressionGrowth(bytes: number, compression: Compression): number {
  return compression === Compression.None ? 0 : 64 + Math.ceil(bytes / 128);
}

/**
 * The encoded size of a record alone in a batch (compressed with `compression`), when it
 * may be over `limit`; a record whose bound, plus what the codec may add, fits is not
 * encoded (that sum is returned).
 */
export function aloneBytes(
  record: RecordInput,
  compression: Compression,
  limit: number,
  now: number,
): number {
  const bound = BATCH_OVERHEAD + recordBound(record);
  const most = bound + compressionGrowth(bound, compression);
  if (most <= limit) return most;
  return encodeBatch([record], { compression, now }).length;
}

/**
 * Estimates a request's body as records are added, cutting batches by the records'
 * upper bounds (so never into fewer batches than {@link cutBatches}, which cuts by exact
 * sizes): never below the real size of an uncompressed request.
 */
export class RequestEstimate {
  bytes = 0;
  private readonly open = new Map<string, number>();

  /** The bytes a record of `topic`/`partition` (batches limited to `limit`) would add. */
  cost(topic: string, partition: number, limit: number, bound: number): number {
    const used = this.open.get(`${topic}\u0000${partition}`);
    const opens = used === undefined || used + bound > limit - BATCH_OVERHEAD;
    return opens ? bound + BATCH_OVERHEAD + frameOverhead(topic) : bound;
  }

  /** Adds the record; returns the bytes it added. */
  add(topic: string, partition: number, limit: number, bound: number): number {
    const key = `${topic}\u0000${partition}`;
    const added = this.cost(topic, partition, limit, bound);
    const used = this.open.get(key);
    this.open.set(key, used === undefined || added > bound ? bound : used + bound);
    this.bytes += added;
    return added;
  }
}

/** How many times {@link cutBatches} re-encodes a compressed batch to fill what it left. */
const FILL_ROUNDS = 4;

/**
 * Cuts one partition's records, in order, into consecutive batches of at most `limit`
 * bytes each once encoded by `encode(from, to)` (which compresses, and numbers the
 * batch's first sequence `from` past the run's). Greedy on the records' exact sizes in an
 * uncompressed batch (timestamps as `encode` takes them: `now` for a record without one),
 * so an uncompressed batch is encoded once and always fits. A compressed batch is
 * smaller: the room it leaves is filled with the next records (a few rounds, keeping the
 * last batch that fit); one over the limit anyway (incompressible data grows a little) is
 * halved until it fits.
 *
 * @throws whatever `tooLarge(index, bytes)` returns, for a record over the limit alone.
 * @example
 * const batches = cutBatches(records, now, 1024, (from, to) => encodeBatch(records.slice(from, to), { now }), tooLarge);
 */
export function cutBatches(
  records: readonly RecordInput[],
  now: number,
  limit: number,
  encode: (from: number, to: number) => Uint8Array,
  tooLarge: (index: number, bytes: number) => Error,
): Uint8Array[] {
  const ts = (i: number) => records[i]!.timestamp ?? now;
  const sizeIn = (first: number, i: number) => recordSizeInBatch(records[i]!, ts(i) - ts(first), i - first);
  const out: Uint8Array[] = [];
  const place = (from: number, to: number) => {
    const batch = encode(from, to);
    if (batch.length <= limit) {
      out.push(batch);
      return;
    }
    if (to - from === 1) throw tooLarge(from, batch.length);
    const mid = from + Math.ceil((to - from) / 2);
    place(from, mid);
    place(mid, to);
  };
  /** The end of the records that fit `room` bytes after `end`, in a batch starting at `start`. */
  const fill = (start: number, end: number, room: number) => {
    let bytes = 0;
    while (end < records.length) {
      const size = sizeIn(start, end);
      if (bytes + size > room) break;
      bytes += size;
      end++;
    }
    return end;
  };
  let start = 0;
  while (start < records.length) {
    let end = Math.max(start + 1, fill(start, start, limit - BATCH_OVERHEAD));
    let batch = encode(start, end);
    if (batch.length > limit) {
      place(start, end);
      start = end;
      continue;
    }
    for (let round = 0; round < FILL_ROUNDS && end < records.length; round++) {
      const more = fill(start, end, limit - batch.length);
      if (more === end) break;
      const fuller = encode(start, more);
      if (fuller.length > limit) break;
      batch = fuller;
      end = more;
    }
    out.push(batch);
    start = end;
  }
  return out;
}

/** The room an inbox message of `topic` leaves to its records' JSON. */
export function inboxRoom(topic: string): number {
  return MAX_INBOX_MESSAGE_BYTES - INBOX_ENVELOPE_BYTES - 2 * Buffer.byteLength(JSON.stringify(topic));
}

const b64 = (b: Uint8Array | null | undefined) =>
  b === null || b === undefined ? null : Buffer.from(b).toString('base64');

/** Bytes a record takes in an inbox message's JSON (as `core/inbox/message.ts` encodes it), with its comma. */
export function inboxRecordBytes(r: RecordInput, now: number): number {
  const json = JSON.stringify({
    k: b64(r.key),
    v: b64(r.value),
    h: (r.headers ?? []).map((h) => [h.key, b64(h.value)]),
    ts: r.timestamp ?? now,
  });
  return Buffer.byteLength(json, 'utf8') + 1;
}
