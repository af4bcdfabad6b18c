import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CorruptRecordError } from '../errors.js';
import {
  MAX_VARLONG,
  MIN_VARLONG,
  Reader,
  sizeOfVarint,
  sizeOfVarlong,
  writeVarint,
  writeVarlong,
} from './varint.js';

const bytes = (...b: number[]) => new Uint8Array(b);
const reader = (b: Uint8Array) => new Reader(b, 0, b.length);

describe('varint', () => {
  it('matches the zigzag encodings of the Kafka protocol guide', () => {
    const cases: [number, number[]][] = [
      [0, [0x00]],
      [-1, [0x01]],
      [1, [0x02]],
      [-64, [0x7f]],
      [64, [0x80, 0x01]],
      [300, [0xd8, 0x04]],
      [2147483647, [0xfe, 0xff, 0xff, 0xff, 0x0f]],
      [-2147483648, [0xff, 0xff, 0xff, 0xff, 0x0f]],
    ];
    for (const [value, encoded] of cases) {
      const buf = new Uint8Array(5);
      expect(writeVarint(buf, 0, value)).toBe(encoded.length);
      expect([...buf.subarray(0, encoded.length)]).toEqual(encoded);
      expect(sizeOfVarint(value)).toBe(encoded.length);
      expect(reader(bytes(...encoded)).readVarint()).toBe(value);
    }
  });

  it('round-trips every int32', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), (value) => {
        const buf = new Uint8Array(5);
        const end = writeVarint(buf, 0, value);
        expect(end).toBe(sizeOfVarint(value));
        const r = reader(buf.subarray(0, end));
        expect(r.readVarint()).toBe(value);
        expect(r.pos).toBe(end);
      }),
    );
  });

  it('round-trips every varlong in range, same bytes as a varint where both fit', () => {
    fc.assert(
      fc.property(fc.integer({ min: MIN_VARLONG, max: MAX_VARLONG }), (value) => {
        const buf = new Uint8Array(10);
        const end = writeVarlong(buf, 0, value);
        expect(end).toBe(sizeOfVarlong(value));
        expect(reader(buf.subarray(0, end)).readVarlong()).toBe(value);
        if (value >= -(2 ** 31) && value < 2 ** 31) {
          const small = new Uint8Array(5);
          expect([...small.subarray(0, writeVarint(small, 0, value))]).toEqual([...buf.subarray(0, end)]);
        }
      }),
    );
  });

  it('is exact at the ends of its range', () => {
    for (const value of [MIN_VARLONG, MAX_VARLONG, MIN_VARLONG + 1, MAX_VARLONG - 1]) {
      const buf = new Uint8Array(10);
      expect(reader(buf.subarray(0, writeVarlong(buf, 0, value))).readVarlong()).toBe(value);
    }
  });

  it('decodes a 64-bit zigzag varlong as Kafka writes it', () => {
    // 2^40 zigzagged is 2^41: seven-bit groups 0,0,0,0,0,64 (continuation on all but the last).
    expect(reader(bytes(0x80, 0x80, 0x80, 0x80, 0x80, 0x40)).readVarlong()).toBe(2 ** 40);
    expect(reader(bytes(0xff, 0xff, 0xff, 0xff, 0xff, 0x3f)).readVarlong()).toBe(-(2 ** 40));
  });

  it('rejects overlong, overflowing and truncated varints with CorruptRecordError', () => {
    expect(() => reader(bytes(0x80, 0x80, 0x80, 0x80, 0x10)).readVarint()).toThrow(CorruptRecordError);
    expect(() => reader(bytes(0x80, 0x80, 0x80, 0x80, 0x80, 0x01)).readVarint()).toThrow(CorruptRecordError);
    expect(() => reader(bytes(0x80)).readVarint()).toThrow(/truncated/);
    expect(() => reader(bytes()).readVarint()).toThrow(CorruptRecordError);
    expect(() => reader(new Uint8Array(11).fill(0x80)).readVarlong()).toThrow(CorruptRecordError);
    // 2^63: a valid int64 but not a safe integer.
    expect(() =>
      reader(bytes(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01)).readVarlong(),
    ).toThrow(/safe integer/);
    expect(() => reader(bytes(0x80, 0x80, 0x80, 0x80, 0x80)).readVarlong()).toThrow(/truncated/);
  });

  it('reads nullable bytes as views and rejects negative lengths other than -1', () => {
    const buf = bytes(0x06, 1, 2, 3, 0x01, 0x03);
    const r = reader(buf);
    const view = r.readNullableBytes()!;
    expect([...view]).toEqual([1, 2, 3]);
    expect(view.buffer).toBe(buf.buffer);
    expect(r.readNullableBytes()).toBeNull();
    expect(() => r.readNullableBytes()).toThrow(/negative length -2/);
    expect(() => reader(bytes(0x08, 1)).readNullableBytes()).toThrow(/truncated/);
  });
});
