/**
 * Storage faults that no retry fixes (a wrong policy, a missing bucket or table, a KMS key
 * refused) answer STORAGE_MISCONFIGURED: a 500 (counted by the Function URL's 5xx metric
 * and its alarm), not retriable, saying what to fix, logged; transient faults stay
 * retriable. On moto with a decorator answering 403 at the HTTP layer (the real SDK parses
 * it, the real adapter maps it) and with a missing bucket and table; on files + SQLite
 * with the fault decorator's `denied` mode.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageMisconfiguredError } from '../../core/errors.js';
import { adminRoutes } from '../../lambdas/admin.js';
import { createContext } from '../../lambdas/context.js';
import { fetchRoutes } from '../../lambdas/fetch.js';
import { lambdaHandler, toEvent } from '../../lambdas/http.js';
import { produceRoutes } from '../../lambdas/produce.js';
import { DynamoMetaStore } from '../../storage/dynamodb.js';
import { FaultInjector, FaultyMetaStore, FaultyObjectStore } from '../../storage/faulty.js';
import { S3ObjectStore } from '../../storage/s3.js';
import { denyAccess } from '../helpers/deny.js';
import { awsEndpoint, EMULATOR_CREDENTIALS, makeStores, type TestStores } from '../helpers/stores.js';

const JSON_TYPE = { 'content-type': 'application/json' };
const json = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));
const endpoints = { produce: 'p', fetch: 'f', admin: 'a', groups: 'g' };

function handlers(stores: { meta: TestStores['meta']; objects: TestStores['objects'] }) {
  const ctx = createContext(stores, { endpoints, env: {}, topicCacheTtlMs: 0 });
  const logged: unknown[] = [];
  const hooks = { onError: (err: unknown) => logged.push(err) };
  return {
    ctx,
    logged,
    produce: lambdaHandler(produceRoutes(ctx), hooks),
    fetch: lambdaHandler(fetchRoutes(ctx), hooks),
    admin: lambdaHandler(adminRoutes(ctx), hooks),
  };
}

type Handlers = ReturnType<typeof handlers>;

const requests = (topic: string) => ({
  produce: (h: Handlers) =>
    h.produce(
      toEvent({
        method: 'POST',
        url: '/v1/produce',
        headers: JSON_TYPE,
        body: json({ topic, records: [{ value: 'x' }] }),
      }),
    ),
  get: (h: Handlers) =>
    h.fetch(toEvent({ method: 'GET', url: `/v1/fetch?topic=${topic}&partition=0&offset=0` })),
  post: (h: Handlers) =>
    h.fetch(
      toEvent({
        method: 'POST',
        url: '/v1/fetch',
        headers: { ...JSON_TYPE, accept: 'application/vnd.sluice.batches' },
        body: json({ partitions: [{ topic, partition: 0, offset: 0 }] }),
      }),
    ),
  offsets: (h: Handlers) =>
    h.fetch(toEvent({ method: 'GET', url: `/v1/offsets?topic=${topic}&partition=0&at=latest` })),
  topics: (h: Handlers) => h.admin(toEvent({ method: 'GET', url: '/v1/topics' })),
});

async function expectMisconfigured(h: Handlers, topic: string, fix: RegExp) {
  for (const [name, send] of Object.entries(requests(topic))) {
    const before = h.logged.length;
    const res = await send(h);
    expect({ name, status: res.statusCode }).toEqual({ name, status: 500 });
    const { error } = JSON.parse(res.body!);
    expect(error).toMatchObject({ code: 'STORAGE_MISCONFIGURED', retriable: false });
    expect(error.message).toMatch(fix);
    // Logged with its cause, as every 500 is.
    expect(h.logged.length).toBe(before + 1);
  }
}

async function expectWorking(h: Handlers, topic: string, records: number) {
  const r = requests(topic);
  const fetched = await r.get(h);
  expect(fetched.statusCode).toBe(200);
  expect(JSON.parse(fetched.body!).records).toHaveLength(records);
}

describe('storage faults on moto', () => {
  let stores: TestStores;
  beforeAll(async () => {
    stores = await makeStores('aws');
  });
  afterAll(() => stores?.cleanup());

  it('a 403 from S3 and DynamoDB is STORAGE_MISCONFIGURED on every function, and changes nothing', async () => {
    const h = handlers(stores);
    await h.ctx.topics.create('denied', 1);
    expect((await requests('denied').produce(h)).statusCode).toBe(200);
    const allow = denyAccess(stores as never);
    try {
      await expectMisconfigured(h, 'denied', /denied: grant this function's role access/);
    } finally {
      allow();
    }
    await expectWorking(h, 'denied', 1);
  });

  it('a missing bucket or table says which, and how to fix it', async () => {
    const endpoint = awsEndpoint();
    const options = { endpoint, region: 'us-east-1', credentials: EMULATOR_CREDENTIALS };
    const objects = new S3ObjectStore({ ...options, bucket: 'sluice-no-such-bucket' });
    const meta = new DynamoMetaStore({ ...options, table: 'sluice-no-such-table' });
    const noBucket = await objects.get('data/x').catch((e: unknown) => e);
    expect(noBucket).toBeInstanceOf(StorageMisconfiguredError);
    expect((noBucket as Error).message).toMatch(
      /bucket sluice-no-such-bucket does not exist: check SLUICE_BUCKET/,
    );
    const noTable = await meta.get({ pk: 'a', sk: 'b' }).catch((e: unknown) => e);
    expect(noTable).toBeInstanceOf(StorageMisconfiguredError);
    expect((noTable as Error).message).toMatch(
      /table sluice-no-such-table does not exist: check SLUICE_TABLE/,
    );
    const h = handlers({ objects, meta });
    const res = await requests('t').topics(h);
    expect(res.statusCode).toBe(500);
    expect(JSON.parse(res.body!).error).toMatchObject({ code: 'STORAGE_MISCONFIGURED', retriable: false });
  });
});

describe('storage faults on files + SQLite', () => {
  let stores: TestStores;
  beforeAll(async () => {
    stores = await makeStores('sqlite');
  });
  afterAll(() => stores?.cleanup());

  it('access denied is STORAGE_MISCONFIGURED; a transient fault stays retriable', async () => {
    const denied = new FaultInjector({ seed: 1, rates: { default: { denied: 1 } } });
    denied.enabled = false;
    const h = handlers({
      objects: new FaultyObjectStore(stores.objects, denied),
      meta: new FaultyMetaStore(stores.meta, denied),
    });
    await h.ctx.topics.create('denied', 1);
    expect((await requests('denied').produce(h)).statusCode).toBe(200);
    denied.enabled = true;
    await expectMisconfigured(h, 'denied', /denied: grant this function's role access/);
    denied.enabled = false;
    await expectWorking(h, 'denied', 1);

    const flaky = new FaultInjector({ seed: 1, rates: { default: { before: 1 } } });
    const t = handlers({
      objects: new FaultyObjectStore(stores.objects, flaky),
      meta: new FaultyMetaStore(stores.meta, flaky),
    });
    const res = await requests('denied').get(t);
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body!).error).toMatchObject({ code: 'UNAVAILABLE', retriable: true });
  });
});
