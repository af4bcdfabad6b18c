/**
 * Confluent's wire format: magic byte 0, the schema id as a big-endian int32, then (for
 * Protobuf only) the message indexes — the path of the message type in its file as
 * zig-zag varints, count first, `[0]` written as the single byte 0 — then the payload.
 */
import { SluiceSchemaFormatError } from './errors.js';

export const MAGIC_BYTE = 0;

/** Frames a payload: `indexes` only for Protobuf. */
export function frame(id: number, payload: Uint8Array, indexes?: readonly number[]): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt8(MAGIC_BYTE, 0);
  head.writeInt32BE(id, 1);
  if (!indexes) return Buffer.concat([head, payload]);
  const idx: number[] = [];
  if (indexes.length === 1 && indexes[0] === 0) idx.push(0);
  else for (const n of [indexes.length, ...indexes]) writeZigZag(idx, n);
  return Buffer.concat([head, Buffer.from(idx), payload]);
}

/** The schema id of framed bytes. @throws {@link SluiceSchemaFormatError} */
export function schemaIdOf(bytes: Uint8Array): number {
  if (bytes.length < 5 || bytes[0] !== MAGIC_BYTE) {
    throw new SluiceSchemaFormatError(
      `not in the schema registry wire format (magic byte ${bytes[0] ?? 'missing'}, ${bytes.length} bytes)`,
    );
  }
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).readInt32BE(1);
}

/** Reads Protobuf message indexes at `offset`; `undefined` when they are not well formed. */
export function readIndexes(
  bytes: Uint8Array,
  offset: number,
): { indexes: number[]; next: number } | undefined {
  let pos = offset;
  const read = (): number | undefined => {
    let result = 0;
    let shift = 0;
    while (pos < bytes.length && shift < 35) {
      const b = bytes[pos++]!;
      result |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) return (result >>> 1) ^ -(result & 1);
      shift += 7;
    }
    return undefined;
  };
  const count = read();
  if (count === undefined || count < 0 || count > 32) return undefined;
  if (count === 0) return { indexes: [0], next: pos };
  const indexes: number[] = [];
  for (let i = 0; i < count; i++) {
    const n = read();
    if (n === undefined || n < 0) return undefined;
    indexes.push(n);
  }
  return { indexes, next: pos };
}

function writeZigZag(out: number[], n: number): void {
  let v = ((n << 1) ^ (n >> 31)) >>> 0;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v >>>= 7;
  }
  out.push(v);
}
