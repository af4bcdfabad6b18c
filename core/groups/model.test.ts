import { describe, expect, it } from 'vitest';
import {
  CorruptGroupError,
  decodeGroup,
  encodeGroup,
  fingerprint,
  type GroupState,
  stateName,
} from './model.js';
import { EMPTY, tp } from './partition-sets.js';

const member = {
  epoch: 3,
  previousEpoch: 2,
  topics: ['orders'],
  sessionTimeoutMs: 45_000,
  expiresAt: 1_000,
  target: tp({ orders: [0, 1, 2, 3] }),
  assigned: tp({ orders: [0, 1, 2, 3] }),
  revoking: EMPTY,
  granted: tp({ orders: [3] }),
};

const state: GroupState = {
  epoch: 7,
  partitionCounts: { orders: 8 },
  members: { b: member, a: { ...member, assigned: tp({ orders: [0] }), revoking: tp({ orders: [5] }) } },
};

describe('group item', () => {
  it('round-trips, storing partitions as runs and the assignment only when it differs from the target', () => {
    const data = encodeGroup(state);
    expect(data.m).toEqual({
      a: {
        e: 3,
        pe: 2,
        t: ['orders'],
        s: 45_000,
        x: 1_000,
        g: { orders: '0-3' },
        a: { orders: '0' },
        r: { orders: '5' },
        n: { orders: '3' },
      },
      b: { e: 3, pe: 2, t: ['orders'], s: 45_000, x: 1_000, g: { orders: '0-3' }, n: { orders: '3' } },
    });
    expect(decodeGroup(JSON.parse(JSON.stringify(data)))).toEqual(state);
  });

  it('fingerprints ignore key order', () => {
    const reordered: GroupState = { ...state, members: { a: state.members.a!, b: state.members.b! } };
    expect(fingerprint(reordered)).toBe(fingerprint(state));
    expect(fingerprint({ ...state, epoch: 8 })).not.toBe(fingerprint(state));
  });

  it('names states counting live members only', () => {
    expect(stateName(state, 500)).toBe('reconciling');
    expect(stateName({ ...state, members: { b: member } }, 500)).toBe('stable');
    expect(stateName(state, 1_001)).toBe('empty');
  });

  it('refuses data it cannot read', () => {
    expect(() => decodeGroup({ v: 2 })).toThrow(CorruptGroupError);
    expect(() => decodeGroup({ v: 1, e: 1, pc: {}, m: { a: { e: 'x' } } })).toThrow(CorruptGroupError);
    expect(() =>
      decodeGroup({
        v: 1,
        e: 1,
        pc: {},
        m: { a: { e: 1, pe: 0, t: [], s: 1, x: 1, g: { t: '2-1' } } },
      }),
    ).toThrow(/malformed/);
  });
});
