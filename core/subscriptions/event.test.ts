import { kafkaConsumer } from '@aws-lambda-powertools/kafka';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { KafkaRecord } from '../records/index.js';
import { buildEvent, firstFailedOffset, itemIdentifier } from './event.js';

const enc = new TextEncoder();

const records: KafkaRecord[] = [
  {
    offset: 41,
    timestamp: 1_700_000_000_000,
    key: enc.encode('"order-1"'),
    value: enc.encode(JSON.stringify({ id: 1, total: 9.5 })),
    headers: [{ key: 'trace', value: enc.encode('abc') }],
  },
  { offset: 42, timestamp: 1_700_000_000_001, key: null, value: enc.encode('{"id":2}'), headers: [] },
];

describe('subscription event', () => {
  it('is shaped like Lambda’s self-managed Kafka event', () => {
    expect(buildEvent('c1', 'orders', 3, records)).toEqual({
      eventSource: 'SelfManagedKafka',
      bootstrapServers: 'sluice://c1',
      records: {
        'orders-3': [
          {
            topic: 'orders',
            partition: 3,
            offset: 41,
            timestamp: 1_700_000_000_000,
            timestampType: 'CREATE_TIME',
            key: Buffer.from('"order-1"').toString('base64'),
            value: Buffer.from('{"id":1,"total":9.5}').toString('base64'),
            headers: [{ trace: [97, 98, 99] }],
          },
          expect.objectContaining({ offset: 42, key: null, headers: [] }),
        ],
      },
    });
  });

  it('is parsed unchanged by @aws-lambda-powertools/kafka', async () => {
    const event = buildEvent('c1', 'orders', 3, records);
    const seen: unknown[] = [];
    const handler = kafkaConsumer(
      async (parsed) => {
        for (const r of parsed.records) {
          seen.push({
            topic: r.topic,
            partition: r.partition,
            offset: r.offset,
            key: r.key,
            value: r.value,
            headers: r.headers,
          });
        }
        return { batchItemFailures: [] };
      },
      { key: { type: 'json' }, value: { type: 'json' } },
    );
    // biome-ignore lint/suspicious/noExplicitAny: the handler takes Lambda's (event, context)
    expect(await handler(event as any, {} as any)).toEqual({ batchItemFailures: [] });
    expect(seen).toEqual([
      {
        topic: 'orders',
        partition: 3,
        offset: 41,
        key: 'order-1',
        value: { id: 1, total: 9.5 },
        headers: [{ trace: 'abc' }],
      },
      { topic: 'orders', partition: 3, offset: 42, key: null, value: { id: 2 }, headers: [] },
    ]);
  });
});

describe('firstFailedOffset', () => {
  const offsets = [10, 11, 12, 13];

  it('reads Lambda’s and Powertools’ partial batch responses', () => {
    expect(firstFailedOffset(null, 't', 0, offsets)).toBeUndefined();
    expect(firstFailedOffset({}, 't', 0, offsets)).toBeUndefined();
    expect(firstFailedOffset({ batchItemFailures: [] }, 't', 0, offsets)).toBeUndefined();
    expect(
      firstFailedOffset(
        { batchItemFailures: [{ itemIdentifier: itemIdentifier('t', 0, 13) }, { itemIdentifier: 't-0@12' }] },
        't',
        0,
        offsets,
      ),
    ).toBe(12);
    expect(firstFailedOffset({ batchItemFailures: [{ itemIdentifier: '11' }] }, 't', 0, offsets)).toBe(11);
  });

  it('fails the whole batch on an identifier naming no record of it', () => {
    for (const id of ['t-1@12', 't-0@99', 'x', '', null, 12.5]) {
      expect(firstFailedOffset({ batchItemFailures: [{ itemIdentifier: id }] }, 't', 0, offsets)).toBe(10);
    }
    expect(firstFailedOffset({ batchItemFailures: 'all' }, 't', 0, offsets)).toBe(10);
  });

  it('always answers undefined or an offset of the batch, whatever the response', () => {
    fc.assert(
      fc.property(fc.anything(), (response) => {
        const got = firstFailedOffset(response, 't', 0, offsets);
        expect(got === undefined || offsets.includes(got)).toBe(true);
      }),
    );
    fc.assert(
      fc.property(
        fc.array(fc.record({ itemIdentifier: fc.oneof(fc.string(), fc.integer()) })),
        (failures) => {
          const got = firstFailedOffset({ batchItemFailures: failures }, 't', 0, offsets);
          expect(got === undefined || offsets.includes(got)).toBe(true);
        },
      ),
    );
  });
});
