import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../errors.js';
import {
  decodeInboxMessage,
  dedupKey,
  encodeInboxMessage,
  type InboxMessage,
  predecessorKey,
} from './message.js';

const b64 = fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('base64'));
const message: fc.Arbitrary<InboxMessage> = fc.record(
  {
    v: fc.constant(1 as const),
    topic: fc.stringMatching(/^[a-z]{1,20}$/),
    partition: fc.nat(1000),
    records: fc.array(
      fc.record({ k: fc.option(b64, { nil: null }), v: fc.option(b64, { nil: null }), ts: fc.nat() }),
      { minLength: 1, maxLength: 5 },
    ),
    producer: fc.record(
      {
        id: fc.bigInt({ min: 0n, max: 10n ** 17n }).map(String),
        epoch: fc.nat(32767),
        seq: fc.nat(0x7fffffff),
        prevAt: fc.nat(),
      },
      { requiredKeys: ['id', 'epoch', 'seq'] },
    ),
    eventId: fc.string({ minLength: 1, maxLength: 20 }),
    at: fc.nat(),
  },
  { requiredKeys: ['v', 'topic', 'partition', 'records'] },
);

describe('inbox messages', () => {
  it('round-trip, and keep their dedup key', () => {
    fc.assert(
      fc.property(message, (m) => {
        const back = decodeInboxMessage(encodeInboxMessage(m));
        expect(back).toEqual(m);
        expect(dedupKey(back, 'id')).toBe(dedupKey(m, 'id'));
      }),
    );
  });

  it('a message follows its predecessor: its key is the next one’s predecessor key', () => {
    fc.assert(
      fc.property(message, fc.integer({ min: 1, max: 5 }), (m, n) => {
        fc.pre(m.producer !== undefined && m.producer.seq + m.records.length + n < 0x7fffffff);
        const next: InboxMessage = {
          ...m,
          producer: { ...m.producer!, seq: m.producer!.seq + m.records.length },
        };
        expect(predecessorKey(next)).toBe(dedupKey(m, 'x'));
      }),
    );
  });

  it('keeps reading messages of senders from before `at` (version 1, the field absent)', () => {
    const old =
      '{"v":1,"topic":"t","partition":0,"records":[{"v":"eA==","ts":1}],"producer":{"id":"7","epoch":0,"seq":3}}';
    const m = decodeInboxMessage(old);
    expect(m.at).toBeUndefined();
    expect(dedupKey(m, 'id')).toBe('t/0/7.0.3');
    // `at` takes nothing from the dedup key: a retry with it is the same message.
    expect(dedupKey({ ...m, at: 1_800_000_000_000 }, 'id')).toBe(dedupKey(m, 'id'));
    for (const at of [-1, 1.5, '1800000000000', 9e15]) {
      expect(() => decodeInboxMessage(JSON.stringify({ ...m, at }))).toThrow(InvalidRequestError);
    }
  });

  it('refuses anything else with InvalidRequestError only', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          message.map((m) => JSON.stringify({ ...m, v: 2 })),
        ),
        (body) => {
          try {
            decodeInboxMessage(body);
          } catch (err) {
            expect(err).toBeInstanceOf(InvalidRequestError);
          }
        },
      ),
    );
    expect(() => decodeInboxMessage('{"v":1,"topic":"t","partition":0,"records":[]}')).toThrow(
      /at least one/,
    );
  });
});
