/**
 * The subscriptions safety net: partitions with records to deliver and no live dispatcher are
 * found (a run that died leaves its lease to expire), those being dispatched, caught up,
 * empty or paused are not; the scheduled maintenance pass wakes the trigger with them. On
 * files + SQLite and on S3 + DynamoDB (emulator).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { keys } from '../../core/keys.js';
import { acquireLease } from '../../core/leases.js';
import { resolveMaintenanceOptions } from '../../core/maintenance/index.js';
import { type PendingDispatch, strandedDispatches } from '../../core/subscriptions/index.js';
import { createMaintenanceHandler } from '../../lambdas/maintenance.js';
import { makeStores, type TestStores } from '../helpers/stores.js';
import { type World, world } from './world.js';

let stores: TestStores | undefined;
afterEach(async () => {
  await stores?.cleanup();
  stores = undefined;
});

const stranded = (w: World) =>
  strandedDispatches({ ...w, listSubscriptions: () => w.subs.list() }).then((p) =>
    p.sort((a, b) => a.partition - b.partition),
  );

for (const kind of ['sqlite', 'aws'] as const) {
  describe(`subscriptions sweep on ${kind}`, () => {
    it('finds partitions left behind with no live dispatcher, and only those', async () => {
      stores = await makeStores(kind);
      const w = world(stores);
      const topic = await w.topics.create('t', 3);
      await w.subs.create({ name: 's', topic: 't', target: 'fn', startingPosition: 'earliest' });
      expect(await stranded(w)).toEqual([]); // nothing produced
      await w.produce('t', 0, 2);
      await w.produce('t', 2, 1);
      expect(await stranded(w)).toEqual([
        { subscription: 's', partition: 0 },
        { subscription: 's', partition: 2 },
      ]);

      // A dispatcher that took partition 0 and died: not stranded until its lease expires.
      const lease = await acquireLease(w.meta, keys.subscriptionLease(topic.id, 0, 's'), 'dead', 60_000, w);
      expect(lease).toBeDefined();
      expect(await stranded(w)).toEqual([{ subscription: 's', partition: 2 }]);
      w.clock.advance(60_001);
      expect((await stranded(w)).map((p) => p.partition)).toEqual([0, 2]);

      // Dispatched (the expired lease is taken over): caught up, nothing left.
      for (const p of [0, 2]) expect((await w.dispatcher('d').dispatch('s', p)).status).toBe('caught-up');
      expect(await stranded(w)).toEqual([]);

      // Paused: never woken.
      await w.produce('t', 1, 1);
      await w.subs.update('s', { enabled: false });
      expect(await stranded(w)).toEqual([]);
      await w.subs.update('s', { enabled: true });
      expect(await stranded(w)).toEqual([{ subscription: 's', partition: 1 }]);
    });
  });
}

describe('the scheduled maintenance pass', () => {
  it('wakes the subscriptions trigger with the stranded partitions, and survives a failing sweep', async () => {
    stores = await makeStores('sqlite');
    const w = world(stores);
    const woken: PendingDispatch[][] = [];
    let fail = false;
    const logs: string[] = [];
    const handler = createMaintenanceHandler(async () => ({
      deps: { meta: w.meta, objects: stores!.objects, clock: w.clock, random: w.random, owner: 'm' },
      options: resolveMaintenanceOptions(),
      log: (_level, message) => logs.push(message),
      subscriptions: {
        stranded: async () => {
          if (fail) throw new Error('storage down');
          return [{ subscription: 's', partition: 0 }];
        },
        wake: async (pending) => {
          woken.push(pending);
        },
      },
    }));
    const scheduled = { 'detail-type': 'Scheduled Event', source: 'aws.events' } as never;
    await handler(scheduled);
    expect(woken).toEqual([[{ subscription: 's', partition: 0 }]]);
    fail = true;
    await expect(handler(scheduled)).resolves.toBeDefined();
    expect(woken).toHaveLength(1);
    expect(logs).toContain('subscriptions sweep failed');
  });
});
