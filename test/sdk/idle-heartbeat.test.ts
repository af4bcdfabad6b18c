/**
 * An idle group member heartbeats less often (a heartbeat is a billed Lambda request,
 * docs/design.md §17): the interval it picks, and the member against a server that answers
 * fetches at once, as the deployed fetch function does (SLUICE_FETCH_MAX_WAIT_MS=0).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContext } from '../../lambdas/context.js';
import type { SluiceApi } from '../../sdk/api.js';
import { GroupMembership, type MembershipHooks } from '../../sdk/consumer/membership.js';
import { logLevel, Sluice, type Transport } from '../../sdk/index.js';
import { createLogger } from '../../sdk/logger.js';
import { createInProcessTransport } from '../../sdk/transport/in-process.js';
import { MemoryMetaStore, MemoryObjectStore } from '../../storage/memory.js';
import { waitFor } from './harness.js';

function membership(idle: boolean, options: ConstructorParameters<typeof GroupMembership>[4]) {
  const hooks: MembershipHooks = {
    topics: async () => ['t'],
    owned: () => [],
    onAssignment: () => {},
    onLost: async () => {},
    onJoin: () => {},
    onHeartbeat: () => {},
    idle: () => idle,
  };
  return new GroupMembership({} as SluiceApi, createLogger(logLevel.NOTHING), 'g', hooks, options);
}

describe('the heartbeat interval of a group member', () => {
  it('is the heartbeat interval while busy, five of them while idle, never past a third of the session', () => {
    expect(membership(false, { sessionTimeout: 45_000, heartbeatInterval: 3_000 }).nextInterval()).toBe(
      3_000,
    );
    expect(membership(true, { sessionTimeout: 45_000, heartbeatInterval: 3_000 }).nextInterval()).toBe(
      15_000,
    );
    // A short session caps it: three heartbeats per session still.
    expect(membership(true, { sessionTimeout: 30_000, heartbeatInterval: 3_000 }).nextInterval()).toBe(
      10_000,
    );
    expect(
      membership(true, {
        sessionTimeout: 45_000,
        heartbeatInterval: 3_000,
        idleHeartbeatInterval: 60_000,
      }).nextInterval(),
    ).toBe(15_000);
    expect(
      membership(true, {
        sessionTimeout: 45_000,
        heartbeatInterval: 3_000,
        idleHeartbeatInterval: 6_000,
      }).nextInterval(),
    ).toBe(6_000);
    // Never shorter than the busy interval.
    expect(
      membership(true, {
        sessionTimeout: 45_000,
        heartbeatInterval: 3_000,
        idleHeartbeatInterval: 1_000,
      }).nextInterval(),
    ).toBe(3_000);
  });
});

describe('an idle group member against fetches answered at once', () => {
  const saved = process.env.SLUICE_FETCH_MAX_WAIT_MS;
  let sluice: Sluice;
  const heartbeats: number[] = [];
  beforeAll(() => {
    process.env.SLUICE_FETCH_MAX_WAIT_MS = '0';
    const inner = createInProcessTransport(
      createContext({ meta: new MemoryMetaStore(), objects: new MemoryObjectStore() }),
    );
    const transport: Transport = async (req) => {
      if (req.url.endsWith('/heartbeat')) heartbeats.push(Date.now());
      return inner(req);
    };
    sluice = new Sluice({ endpoint: 'http://sluice.test', transport, logLevel: logLevel.NOTHING });
  });
  afterAll(() => {
    if (saved === undefined) delete process.env.SLUICE_FETCH_MAX_WAIT_MS;
    else process.env.SLUICE_FETCH_MAX_WAIT_MS = saved;
  });

  it('heartbeats at the idle interval while its partitions are empty, at its interval again once records flow', async () => {
    await sluice.admin().createTopics({ topics: [{ topic: 'quiet', numPartitions: 3 }] });
    const consumer = sluice.consumer({
      groupId: 'quiet-group',
      heartbeatInterval: 100,
      idleHeartbeatInterval: 1_000,
      sessionTimeout: 6_000,
      maxWaitTimeInMs: 1_000,
      maxIdleWaitInMs: 200,
    });
    const values: string[] = [];
    await consumer.subscribe({ topics: ['quiet'] });
    await consumer.run({ eachMessage: async ({ message }) => void values.push(message.value!.toString()) });
    // Quiet after a few empty answers; then 3 s at the idle interval (1 s), not the busy 100 ms.
    await new Promise((r) => setTimeout(r, 1_500));
    const idleFrom = heartbeats.length;
    await new Promise((r) => setTimeout(r, 3_000));
    const idleBeats = heartbeats.length - idleFrom;
    expect(idleBeats).toBeGreaterThanOrEqual(1);
    expect(idleBeats).toBeLessThanOrEqual(5); // ~3; at 100 ms it would be ~30

    // Records every 50 ms for 2 s: never quiet, so back at 100 ms (after the idle wait in progress).
    const producer = sluice.producer();
    const busyFrom = heartbeats.length;
    const started = Date.now();
    let sent = 0;
    while (Date.now() - started < 2_000) {
      await producer.send({ topic: 'quiet', messages: [{ value: String(sent++) }] });
      await new Promise((r) => setTimeout(r, 50));
    }
    await waitFor(() => values.length === sent, 10_000, 'every record');
    const busyBeats = heartbeats.length - busyFrom;
    await producer.disconnect();
    await consumer.disconnect();
    expect(busyBeats).toBeGreaterThanOrEqual(6); // ~10–20 (the first wait may be a 1 s idle one)
  });
});
