/**
 * A subscription created at run time (through the admin function, no deploy step) is
 * dispatched by the subscriptions trigger exactly as a declared one: its definition write and
 * every produce reach the trigger through the event source mapping's filters. The table's
 * KEYS_ONLY stream is stood in for by `storage/notifying.ts` (the keys each committed
 * transaction wrote, which is what such a stream carries), and Lambda's filtering by the same
 * patterns the CDK gives the mapping (`TRIGGER_PATTERNS`). On files + SQLite and on
 * S3 + DynamoDB (emulator).
 */
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { afterEach, describe, expect, it } from 'vitest';
import { keys } from '../../core/keys.js';
import type { ItemKey } from '../../core/ports.js';
import {
  eventPatternMatcher,
  type InvokeOutcome,
  type SubscriptionEvent,
  TRIGGER_PATTERNS,
} from '../../core/subscriptions/index.js';
import { createContext } from '../../lambdas/context.js';
import { toEvent } from '../../lambdas/http.js';
import { createHandlers } from '../../lambdas/index.js';
import { handleTrigger, type TriggerDeps } from '../../lambdas/subscriptions.js';
import { NotifyingMetaStore } from '../../storage/notifying.js';
import { makeStores, type TestStores } from '../helpers/stores.js';

let stores: TestStores | undefined;
afterEach(async () => {
  await stores?.cleanup();
  stores = undefined;
});

/** Lambda's filtering of the stream: a record passes when one pattern matches it. */
const passes = TRIGGER_PATTERNS.map((p) => eventPatternMatcher(JSON.stringify(p)));

function streamOf(changed: ItemKey[]): DynamoDBStreamEvent {
  const records = changed.map((k) => ({
    eventName: 'MODIFY' as const,
    dynamodb: { Keys: { pk: { S: k.pk }, sk: { S: k.sk } } },
  }));
  return { Records: records.filter((r) => passes.some((match) => match(r))) };
}

for (const kind of ['sqlite', 'aws'] as const) {
  describe(`subscriptions created at run time on ${kind}`, () => {
    it('are dispatched by the trigger on their creation and on every produce, with no deploy step', async () => {
      stores = await makeStores(kind);
      const meta = new NotifyingMetaStore(stores.meta);
      let changed: ItemKey[] = [];
      meta.onChange((written) => changed.push(...written));
      const ctx = createContext({ meta, objects: stores.objects }, { env: {}, clusterId: 'c' });
      const handlers = createHandlers(ctx);
      const call = async (method: string, url: string, body?: unknown) => {
        const res = await handlers[url.startsWith('/v1/produce') ? 'produce' : 'admin'](
          toEvent({
            method,
            url,
            headers: { 'content-type': 'application/json' },
            body: body === undefined ? undefined : new TextEncoder().encode(JSON.stringify(body)),
          }),
        );
        return { status: res.statusCode, body: res.body ? JSON.parse(res.body as string) : undefined };
      };
      const invoked: { target: string; values: string[] }[] = [];
      const deps: TriggerDeps = {
        invoker: {
          async invoke(target: string, event: SubscriptionEvent): Promise<InvokeOutcome> {
            const recs = Object.values(event.records).flat();
            invoked.push({ target, values: recs.map((r) => Buffer.from(r.value!, 'base64').toString()) });
            return { ok: true, response: null };
          },
        },
        failures: { send: async () => undefined },
        continueLater: async () => undefined,
        leaseTtlMs: 60_000,
      };
      /** What the trigger function would be invoked with since the last call, then that invocation. */
      const trigger = async () => {
        const event = streamOf(changed);
        changed = [];
        await handleTrigger(ctx, deps, event, 60_000);
        return event.Records.map((r) => `${r.dynamodb!.Keys!.pk!.S}/${r.dynamodb!.Keys!.sk!.S}`);
      };

      expect((await call('POST', '/v1/topics', { name: 'orders', partitions: 1 })).status).toBe(201);
      expect(
        (await call('POST', '/v1/produce', { topic: 'orders', records: [{ value: 'early', partition: 0 }] }))
          .status,
      ).toBe(200);
      await trigger(); // no subscription yet: nothing to do
      expect(invoked).toEqual([]);

      // Created at run time, from the earliest record: its definition's write alone wakes the trigger.
      const target = 'arn:aws:lambda:us-east-1:123456789012:function:reports';
      const created = await call('POST', '/v1/subscriptions', {
        name: 'reports',
        topic: 'orders',
        target,
        startingPosition: 'earliest',
      });
      expect(created.status).toBe(201);
      const woke = await trigger();
      expect(woke).toEqual(['subscriptions/reports']); // the offsets it pinned were filtered out
      expect(invoked).toEqual([{ target, values: ['early'] }]);

      // A produce wakes it through the partition's head.
      await call('POST', '/v1/produce', { topic: 'orders', records: [{ value: 'later', partition: 0 }] });
      expect((await trigger()).some((k) => k.endsWith('/head'))).toBe(true);
      expect(invoked.map((i) => i.values)).toEqual([['early'], ['later']]);

      // Paused, then resumed at run time: the resume alone delivers what arrived meanwhile.
      await call('POST', '/v1/subscriptions/reports/pause');
      await call('POST', '/v1/produce', { topic: 'orders', records: [{ value: 'paused', partition: 0 }] });
      await trigger();
      expect(invoked).toHaveLength(2);
      await call('POST', '/v1/subscriptions/reports/resume');
      expect(await trigger()).toEqual(['subscriptions/reports']);
      expect(invoked.map((i) => i.values)).toEqual([['early'], ['later'], ['paused']]);
    });
  });
}

describe('the trigger’s filter patterns', () => {
  it('let through heads and subscription definitions, and nothing else', () => {
    const pass = (key: ItemKey) => streamOf([key]).Records.length === 1;
    expect(pass(keys.head('t1', 0))).toBe(true);
    expect(pass(keys.subscription('billing'))).toBe(true);
    for (const other of [
      keys.index('t1', 0, 41),
      keys.lease('t1', 0),
      keys.subscriptionLease('t1', 0, 'billing'),
      keys.committed('sluice-subscription-billing', 'orders', 0),
      keys.group('sluice-subscription-billing'),
      keys.topic('orders'),
      keys.inboxTail,
    ])
      expect(pass(other)).toBe(false);
  });
});
