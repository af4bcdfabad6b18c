/**
 * Zigzag varints as Kafka writes them (protobuf style: 7 bits a byte, low groups first,
 * high bit = more bytes follow; zigzag maps -1 → 1, 1 → 2 so small negatives stay short).
 *
 *   varint  (int32): 1–5 bytes      varlong (int64): 1–10 bytes
 *
 * Varlongs are JS numbers: Sluice's offsets and timestamps stay below 2^53, so a varlong whose
 * zigzagged value is not a safe integer (|value| beyond 2^52, i.e. a timestamp delta of
 * 140,000 years) is rejected rather than silently rounded.
 */
import { CorruptRecordError } from '../errors.js';

/** Bytes a zigzag varint takes for the int32 `value`. */
export function sizeOfVarint(value: number): number {
  let v = ((value << 1) ^ (value >> 31)) >>> 0;
  let n = 1;
  while (v >= 0x80) {
    v >>>= 7;
    n++;
  }
  return n;
}

/** The range of values a varlong carries exactly: zigzag(value) must be a safe integer. */
export const MIN_VARLONG = -(2 ** 52);
export const MAX_VARLONG = 2 ** 52 - 1;

/** Bytes a zigzag varlong takes for `value` in [MIN_VARLONG, MAX_VARLONG]. */
export function sizeOfVarlong(value: number): number {
  if (value >= -0x40000000 && value < 0x40000000) return sizeOfVarint(value);
  let v = value >= 0 ? value * 2 : -value * 2 - 1;
  let n = 1;
  while (v >= 128) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

/** Writes the int32 `value` as a zigzag varint at `pos`; returns the position after it. */
export function writeVarint(buf: Uint8Array, pos: number, value: number): number {
  let v = ((value << 1) ^ (value >> 31)) >>> 0;
  while (v >= 0x80) {
    buf[pos++] = (v & 0x7f) | 0x80;
    v >>>= 7;
  }
  buf[pos++] = v;
  return pos;
}

/** Writes `value` (in [MIN_VARLONG, MAX_VARLONG]) as a zigzag varlong at `pos`; returns the position after it. */
export function writeVarlong(buf: Uint8Array, pos: number, value: number): number {
  if (value >= -0x40000000 && value < 0x40000000) return writeVarint(buf, pos, value);
  // Beyond 31 bits, bitwise operators would truncate: use arithmetic on the zigzagged value.
  let v = value >= 0 ? value * 2 : -value * 2 - 1;
  while (v >= 128) {
    buf[pos++] = (v % 128) | 0x80;
    v = Math.floor(v / 128);
  }
  buf[pos++] = v;
  return pos;
}

/**
 * A bounds-checked read position over a byte range. Every read past `end`, every overlong
 * varint and every negative length throws {@link CorruptRecordError}, never a RangeError.
 */
export class Reader {
  /** `buffer`/`byteOffset` are accessors on typed arrays: read them once, not per view. */
  private readonly arrayBuffer: ArrayBufferLike;
  private readonly base: number;

  constructor(
    readonly buf: Uint8Array,
    public pos: number,
    /** Mutable so one reader can be narrowed to a record and widened back without allocating. */
    public end: number,
  ) {
    this.arrayBuffer = buf.buffer;
    this.base = buf.byteOffset;
  }

  /** Bytes left before `end`. */
  remaining(): number {
    return this.end - this.pos;
  }

  readInt8(): number {
    if (this.pos >= this.end) throw truncated('int8');
    return (this.buf[this.pos++]! << 24) >> 24;
  }

  /** A zigzag varint of at most 5 bytes (Java's ByteUtils.readVarint limit). */
  readVarint(): number {
    // One-byte fast path kept tiny so that V8 inlines it into the record loop.
    const pos = this.pos;
    if (pos < this.end) {
      const b = this.buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return (b >>> 1) ^ -(b & 1);
      }
    }
    return this.readVarintSlow();
  }

  private readVarintSlow(): number {
    const buf = this.buf;
    let pos = this.pos;
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= this.end) throw truncated('varint');
      const b = buf[pos++]!;
      if (shift === 28) {
        // Fifth byte: only its low 4 bits fit in 32 bits, and it must be the last byte.
        if (b > 0x0f) throw new CorruptRecordError('varint is longer than 5 bytes or overflows int32');
        result |= b << 28;
        break;
      }
      result |= (b & 0x7f) << shift;
      if (b < 0x80) break;
      shift += 7;
    }
    this.pos = pos;
    return (result >>> 1) ^ -(result & 1);
  }

  /** A zigzag varlong of at most 10 bytes whose value is a safe integer. */
  readVarlong(): number {
    const pos = this.pos;
    if (pos < this.end) {
      const b = this.buf[pos]!;
      if (b < 0x80) {
        this.pos = pos + 1;
        return (b >>> 1) ^ -(b & 1);
      }
    }
    return this.readVarlongSlow();
  }

  private readVarlongSlow(): number {
    const buf = this.buf;
    let pos = this.pos;
    // Fast path: up to 4 bytes (28 bits) accumulate exactly with bit operators.
    let lo = 0;
    let shift = 0;
    let b = 0;
    do {
      if (pos >= this.end) throw truncated('varlong');
      b = buf[pos++]!;
      lo |= (b & 0x7f) << shift;
      shift += 7;
    } while (b >= 0x80 && shift < 28);
    if (b < 0x80) {
      this.pos = pos;
      return (lo >>> 1) ^ -(lo & 1);
    }
    let value = lo >>> 0;
    let mul = 2 ** 28;
    for (;;) {
      if (pos >= this.end) throw truncated('varlong');
      if (shift >= 70) throw new CorruptRecordError('varlong is longer than 10 bytes');
      b = buf[pos++]!;
      value += (b & 0x7f) * mul;
      mul *= 128;
      shift += 7;
      if (b < 0x80) break;
    }
    if (value > Number.MAX_SAFE_INTEGER)
      throw new CorruptRecordError('varlong outside the safe integer range');
    this.pos = pos;
    return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
  }

  /** A view of the next `length` bytes (aliases the buffer, no copy). */
  readView(length: number): Uint8Array {
    if (length > this.end - this.pos) throw truncated(`${length}-byte field`);
    // The constructor skips subarray's species lookup: measurably faster on hot decode paths.
    const view = new Uint8Array(this.arrayBuffer, this.base + this.pos, length);
    this.pos += length;
    return view;
  }

  /** Moves past `length` bytes. */
  skip(length: number): void {
    if (length > this.end - this.pos) throw truncated(`${length}-byte field`);
    this.pos += length;
  }

  /** Varint length then bytes; length -1 is null, any other negative length is corrupt. */
  readNullableBytes(): Uint8Array | null {
    const length = this.readVarint();
    if (length < 0) {
      if (length === -1) return null;
      throw new CorruptRecordError(`negative length ${length}`);
    }
    return this.readView(length);
  }
}

function truncated(what: string): CorruptRecordError {
  return new CorruptRecordError(`truncated: ${what} runs past the end of its enclosing field`);
}
