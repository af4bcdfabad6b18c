/**
 * Subscriptions through the SDK's admin and the `sluice subscriptions` command, against a
 * dev server over files + SQLite: every call, and the named errors.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { subscriptionsCommand } from '../../bin/commands/subscriptions.js';
import { type DevServer, startDevServer } from '../../bin/dev.js';
import { createContext } from '../../lambdas/context.js';
import {
  type Admin,
  InvalidRequestError,
  Sluice,
  SubscriptionAlreadyExistsError,
  SubscriptionNotFoundError,
} from '../../sdk/index.js';
import { makeStores, type TestStores } from '../helpers/stores.js';

describe('subscriptions in the SDK admin and the CLI', () => {
  let stores: TestStores;
  let server: DevServer;
  let admin: Admin;

  beforeAll(async () => {
    stores = await makeStores('sqlite');
    server = await startDevServer({ port: 0, context: createContext(stores, { env: {} }) });
    admin = new Sluice({ endpoint: server.url }).admin();
    await admin.createTopics({ topics: [{ topic: 'orders', numPartitions: 2 }] });
  });

  afterAll(async () => {
    await server?.close();
    await stores?.cleanup();
  });

  it('creates, lists, describes, changes, pauses, resumes and deletes', async () => {
    const created = await admin.createSubscription({
      name: 'billing',
      topic: 'orders',
      target: 'fn',
      batchSize: 5,
    });
    expect(created).toMatchObject({
      name: 'billing',
      batchSize: 5,
      enabled: true,
      groupId: 'sluice-subscription-billing',
    });
    await expect(
      admin.createSubscription({ name: 'billing', topic: 'orders', target: 'fn' }),
    ).rejects.toBeInstanceOf(SubscriptionAlreadyExistsError);
    await expect(
      admin.createSubscription({ name: 'x', topic: 'orders', target: 'fn', batchSize: -1 }),
    ).rejects.toBeInstanceOf(InvalidRequestError);
    expect((await admin.listSubscriptions()).map((s) => s.name)).toEqual(['billing']);
    const d = await admin.describeSubscription('billing');
    expect(d.lag).toEqual([
      expect.objectContaining({ topic: 'orders', partition: 0, committed: 0, lag: 0 }),
      expect.objectContaining({ topic: 'orders', partition: 1, committed: 0, lag: 0 }),
    ]);
    expect((await admin.updateSubscription('billing', { maxRetryAttempts: 3 })).maxRetryAttempts).toBe(3);
    const filters = [{ pattern: JSON.stringify({ value: { amount: [{ numeric: ['>', 100] }] } }) }];
    expect((await admin.updateSubscription('billing', { filters })).filters).toEqual(filters);
    await expect(
      admin.updateSubscription('billing', { filters: [{ pattern: '{"topic": ["x"]}' }] }),
    ).rejects.toBeInstanceOf(InvalidRequestError);
    expect((await admin.pauseSubscription('billing')).enabled).toBe(false);
    expect((await admin.resumeSubscription('billing')).enabled).toBe(true);
    await admin.deleteSubscription('billing');
    await expect(admin.describeSubscription('billing')).rejects.toBeInstanceOf(SubscriptionNotFoundError);
  });

  it('runs `sluice subscriptions …`', async () => {
    const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const ep = ['--endpoint', server.url];
    try {
      const run = async (...args: string[]) => {
        write.mockClear();
        const code = await subscriptionsCommand([...args, ...ep]);
        return { code, text: write.mock.calls.map((c) => String(c[0])).join('') };
      };
      expect(
        await run(
          'create',
          'audit',
          '--topic',
          'orders',
          '--target',
          'fn',
          '--set',
          'batchSize=7',
          '--set',
          'startingPosition={"timestamp":0}',
        ),
      ).toEqual({
        code: 0,
        text: 'created subscription audit: orders → fn (group sluice-subscription-audit)\n',
      });
      expect((await run('list')).text).toMatch(/audit\s+orders\s+fn\s+enabled/);
      expect((await run('describe', 'audit')).text).toMatch(/batchSize: 7/);
      expect((await run('pause', 'audit')).text).toBe('subscription audit paused\n');
      expect(JSON.parse((await run('resume', 'audit', '--json')).text).enabled).toBe(true);
      expect((await run('delete', 'audit')).text).toBe('deleted subscription audit\n');
      const pattern = '{"value":{"kind":["order"]}}';
      expect(
        (await run('create', 'orders-only', '--topic', 'orders', '--target', 'fn', '--filter', pattern)).code,
      ).toBe(0);
      expect((await admin.describeSubscription('orders-only')).subscription.filters).toEqual([{ pattern }]);
      // A bad pattern: the API's 400, named, and nothing created.
      await expect(
        run('create', 'bad', '--topic', 'orders', '--target', 'fn', '--filter', '{"value":[{"prefix":1}]}'),
      ).rejects.toThrow(/filters\[0\]\.value: prefix takes a string/);
      await expect(admin.describeSubscription('bad')).rejects.toBeInstanceOf(SubscriptionNotFoundError);
      await expect(run('create', 'x')).rejects.toThrow(/--topic and --target/);
    } finally {
      write.mockRestore();
    }
  });
});
