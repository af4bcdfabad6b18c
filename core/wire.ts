/**
 * The binary bodies of API.md, shared by the handlers and the SDK.
 *
 * Produce request (`application/vnd.sluice.batches`), frames back to back, big-endian:
 *
 *   u16 topicLength | topic (UTF-8) | i32 partition | i32 batchLength | RecordBatch v2
 *
 * Fetch response, one frame per partition:
 *
 *   u16 topicLength | topic | i32 partition | i64 highWatermark | i64 logStartOffset |
 *   i32 length | RecordBatch v2 bytes… (length bytes: whole batches back to back)
 */
import { CorruptRecordError, InvalidRequestError } from './errors.js';
import { type DeflatedBatch, splitBatches, verifyBatch } from './records/index.js';

export const BATCHES_CONTENT_TYPE = 'application/vnd.sluice.batches';

export interface ProduceFrame {
  topic: string;
  partition: number;
  batch: DeflatedBatch;
}

const utf8 = new TextEncoder();
const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

function readTopic(view: DataView, bytes: Uint8Array, pos: number): [string, number] {
  if (pos + 2 > bytes.length)
    throw new CorruptRecordError(`frame at byte ${pos} is truncated (topic length)`);
  const len = view.getUint16(pos);
  if (pos + 2 + len > bytes.length) throw new CorruptRecordError(`frame at byte ${pos} is truncated (topic)`);
  let topic: string;
  try {
    topic = fatalUtf8.decode(bytes.subarray(pos + 2, pos + 2 + len));
  } catch (cause) {
    throw new CorruptRecordError(`frame at byte ${pos}: topic is not UTF-8`, { cause });
  }
  return [topic, pos + 2 + len];
}

/** Writes `u16 length | topic` at `pos`; returns the position after it. */
function writeTopic(view: DataView, out: Uint8Array, pos: number, topic: Uint8Array): number {
  view.setUint16(pos, topic.length);
  out.set(topic, pos + 2);
  return pos + 2 + topic.length;
}

/** Parses produce frames; every batch's header and CRC are verified. */
export function parseProduceFrames(bytes: Uint8Array): ProduceFrame[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const frames: ProduceFrame[] = [];
  let pos = 0;
  if (bytes.length === 0) throw new InvalidRequestError('the body holds no frames');
  while (pos < bytes.length) {
    const [topic, p] = readTopic(view, bytes, pos);
    if (p + 8 > bytes.length)
      throw new CorruptRecordError(`frame at byte ${pos} is truncated (partition, length)`);
    const partition = view.getInt32(p);
    const length = view.getInt32(p + 4);
    const start = p + 8;
    if (length < 61 || start + length > bytes.length) {
      throw new CorruptRecordError(`frame at byte ${pos}: batch length ${length} does not fit the body`);
    }
    const batch = verifyBatch(bytes.subarray(start, start + length));
    if (batch.bytes.length !== length) {
      throw new CorruptRecordError(
        `frame at byte ${pos}: batch length ${length} disagrees with the batch header`,
      );
    }
    frames.push({ topic, partition, batch });
    pos = start + length;
  }
  return frames;
}

/** Encodes produce frames (the SDK's side). */
export function encodeProduceFrames(
  frames: readonly { topic: string; partition: number; batch: Uint8Array }[],
): Uint8Array {
  const topics = frames.map((f) => utf8.encode(f.topic));
  const size = frames.reduce((n, f, i) => n + 2 + topics[i]!.length + 8 + f.batch.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let pos = 0;
  frames.forEach((f, i) => {
    pos = writeTopic(view, out, pos, topics[i]!);
    view.setInt32(pos, f.partition);
    view.setInt32(pos + 4, f.batch.length);
    out.set(f.batch, pos + 8);
    pos += 8 + f.batch.length;
  });
  return out;
}

export interface FetchFrame {
  topic: string;
  partition: number;
  highWatermark: number;
  logStartOffset: number;
  batches: DeflatedBatch[];
}

/** Encodes a binary fetch response as one array. */
export function encodeFetchFrames(frames: readonly FetchFrame[]): Uint8Array {
  const chunks = fetchFrameChunks(frames);
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let pos = 0;
  for (const c of chunks) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

/**
 * A binary fetch response as its pieces, in order: each frame's header, then its batches'
 * bytes as they are (views, not copies). Written back to back they are exactly
 * {@link encodeFetchFrames}'s bytes; a server writes them without joining them first.
 */
export function fetchFrameChunks(frames: readonly FetchFrame[]): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (const f of frames) {
    const topic = utf8.encode(f.topic);
    const length = f.batches.reduce((n, b) => n + b.bytes.length, 0);
    const header = new Uint8Array(2 + topic.length + 24);
    const view = new DataView(header.buffer);
    const pos = writeTopic(view, header, 0, topic);
    view.setInt32(pos, f.partition);
    view.setBigInt64(pos + 4, BigInt(f.highWatermark));
    view.setBigInt64(pos + 12, BigInt(f.logStartOffset));
    view.setInt32(pos + 20, length);
    chunks.push(header);
    for (const b of f.batches) chunks.push(b.bytes);
  }
  return chunks;
}

/** Parses a binary fetch response (the SDK's side); batches are CRC-verified. */
export function parseFetchFrames(bytes: Uint8Array): FetchFrame[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const frames: FetchFrame[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const [topic, p] = readTopic(view, bytes, pos);
    if (p + 24 > bytes.length) throw new CorruptRecordError(`fetch frame at byte ${pos} is truncated`);
    const partition = view.getInt32(p);
    const highWatermark = Number(view.getBigInt64(p + 4));
    const logStartOffset = Number(view.getBigInt64(p + 12));
    const length = view.getInt32(p + 20);
    const start = p + 24;
    if (length < 0 || start + length > bytes.length)
      throw new CorruptRecordError(`fetch frame at byte ${pos}: bad length`);
    const batches = length === 0 ? [] : splitBatches(bytes.subarray(start, start + length));
    frames.push({ topic, partition, highWatermark, logStartOffset, batches });
    pos = start + length;
  }
  return frames;
}
