import type { LambdaFunctionURLResult } from 'aws-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import { ManualClock, seededRandom } from '../core/clock.js';
import { MemoryMetaStore } from '../storage/memory.js';
import { FakeTopics } from '../test/groups/fakes.js';
import { groupConfigFromEnv } from './group-config.js';
import { coordinatorFor, groupRoutes } from './groups.js';
import { lambdaHandler, toEvent } from './http.js';

// biome-ignore lint/suspicious/noExplicitAny: JSON bodies of many shapes, asserted field by field
let call: (method: string, url: string, body?: unknown) => Promise<{ status: number; body: any }>;
let topics: FakeTopics;

beforeEach(() => {
  topics = new FakeTopics().create('orders', 3);
  const handle = lambdaHandler(
    groupRoutes({ meta: new MemoryMetaStore(), topics, clock: new ManualClock(), random: seededRandom(3) }),
  );
  call = async (method, url, body) => {
    const res = (await handle(
      toEvent({
        method,
        url,
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : Buffer.from(JSON.stringify(body)),
      }),
    )) as LambdaFunctionURLResult & { statusCode: number; body: string };
    return { status: res.statusCode, body: res.body ? JSON.parse(res.body) : undefined };
  };
});

describe('group routes', () => {
  it('serves the whole life of a group', async () => {
    const join = await call('POST', '/v1/groups/g1/heartbeat', { memberEpoch: 0, topics: ['orders'] });
    expect(join.status).toBe(200);
    expect(join.body).toEqual({
      memberId: expect.any(String),
      memberEpoch: 1,
      heartbeatIntervalMs: 3000,
      assignment: [{ topic: 'orders', partitions: [0, 1, 2] }],
    });
    const { memberId } = join.body;
    topics.produce('orders', 1, 10);
    const commit = await call('POST', '/v1/groups/g1/offsets', {
      memberId,
      memberEpoch: 1,
      offsets: [{ topic: 'orders', partition: 1, offset: 4, metadata: 'x' }],
    });
    expect(commit).toEqual({ status: 200, body: {} });
    // An unknown field is refused, naming it, and changes nothing (issue 12: typos never pass).
    const typo = await call('POST', '/v1/groups/g1/offsets', {
      memberId,
      memberEpoch: 1,
      offsets: [{ topic: 'orders', partition: 1, offset: 9 }],
      unknownField: true,
    });
    expect(typo.status).toBe(400);
    expect(typo.body.error.message).toBe('unknownField: unknown field (not in the API)');
    expect((await call('GET', '/v1/groups/g1/offsets')).body).toEqual({
      group: 'g1',
      offsets: [{ topic: 'orders', partition: 1, offset: 4, metadata: 'x' }],
    });
    expect((await call('GET', '/v1/groups')).body).toEqual({
      groups: [{ group: 'g1', state: 'stable', members: 1 }],
    });
    const described = await call('GET', '/v1/groups/g1');
    expect(described.body).toMatchObject({ group: 'g1', state: 'stable', epoch: 1 });
    expect(described.body.lag[1]).toEqual({
      topic: 'orders',
      partition: 1,
      committed: 4,
      highWatermark: 10,
      lag: 6,
    });

    const busy = await call('DELETE', '/v1/groups/g1');
    expect(busy.status).toBe(409);
    expect(busy.body.error).toMatchObject({ code: 'NON_EMPTY_GROUP', retriable: false });
    await call('POST', '/v1/groups/g1/heartbeat', { memberId, memberEpoch: -1 });
    expect(
      await call('POST', '/v1/groups/g1/offsets/reset', {
        topic: 'orders',
        partitions: [{ partition: 1, offset: 0 }],
      }),
    ).toEqual({
      status: 200,
      body: {},
    });
    expect((await call('GET', '/v1/groups/g1/offsets')).body.offsets[0].offset).toBe(0);
    expect((await call('DELETE', '/v1/groups/g1')).status).toBe(204);
    expect((await call('GET', '/v1/groups/g1')).status).toBe(404);
  });

  it('maps errors to API statuses and names offending fields', async () => {
    const cases: [unknown, number, string, string | undefined][] = [
      [{ memberEpoch: 'one' }, 400, 'INVALID_REQUEST', 'memberEpoch'],
      [{ memberEpoch: 0 }, 400, 'INVALID_REQUEST', 'topics'],
      [
        { memberEpoch: 0, topics: ['orders'], ownedPartitions: [{ topic: 'orders', partitions: ['a'] }] },
        400,
        'INVALID_REQUEST',
        'ownedPartitions.0.partitions.0',
      ],
      [
        { memberEpoch: 0, topics: ['orders'], sessionTimeoutMs: 10 },
        400,
        'INVALID_REQUEST',
        'sessionTimeoutMs',
      ],
      [{ memberEpoch: 0, topics: ['no/slash'] }, 400, 'INVALID_TOPIC_EXCEPTION', undefined],
      [{ memberId: 'ghost', memberEpoch: 3 }, 404, 'UNKNOWN_MEMBER_ID', undefined],
    ];
    for (const [body, status, code, field] of cases) {
      const res = await call('POST', '/v1/groups/g1/heartbeat', body);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect(res.body.error.code).toBe(code);
      if (field) expect(res.body.error.message).toContain(field);
    }
    const bad = await call('POST', '/v1/groups/g1/offsets', {
      offsets: [{ topic: 'orders', partition: 0, offset: 1.5 }],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toContain('offsets.0.offset');
    const far = await call('POST', '/v1/groups/g1/offsets', {
      offsets: [{ topic: 'orders', partition: 0, offset: 1 }],
    });
    expect([far.status, far.body.error.code]).toEqual([416, 'OFFSET_OUT_OF_RANGE']);
    const missing = await call('POST', '/v1/groups/g1/offsets', {
      offsets: [{ topic: 'orders', partition: 7, offset: 0 }],
    });
    expect([missing.status, missing.body.error.code]).toEqual([404, 'UNKNOWN_TOPIC_OR_PARTITION']);
    const gone = await call('DELETE', '/v1/groups/nope');
    expect([gone.status, gone.body.error.code]).toEqual([404, 'GROUP_ID_NOT_FOUND']);
  });

  it('reads its configuration from the environment, refusing nonsense', () => {
    expect(
      groupConfigFromEnv({ SLUICE_GROUP_ASSIGNOR: 'range', SLUICE_GROUP_HEARTBEAT_INTERVAL_MS: '5000' }),
    ).toEqual({
      assignor: 'range',
      heartbeatIntervalMs: 5000,
    });
    expect(groupConfigFromEnv({})).toEqual({});
    expect(() => groupConfigFromEnv({ SLUICE_GROUP_ASSIGNOR: 'sticky' })).toThrow(/uniform, range/);
    expect(() => groupConfigFromEnv({ SLUICE_GROUP_HEARTBEAT_INTERVAL_MS: 'soon' })).toThrow(/INTERVAL/);
    const ctx = {
      meta: new MemoryMetaStore(),
      topicView: topics,
      clock: new ManualClock(),
      random: seededRandom(1),
    };
    expect(coordinatorFor(ctx, { SLUICE_GROUP_ASSIGNOR: 'range' }).config.assignor).toBe('range');
    expect(coordinatorFor(ctx, {}).config.assignor).toBe('uniform');
  });
});
