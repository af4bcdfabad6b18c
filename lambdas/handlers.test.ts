/**
 * The exported Lambda entry points, as Lambda calls them: configuration from the
 * environment, one context per instance shared by the functions of this module graph.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { toEvent } from './http.js';

const json = (body: unknown) => new TextEncoder().encode(JSON.stringify(body));

describe('Lambda handlers', () => {
  beforeAll(() => {
    vi.stubEnv('SLUICE_STORAGE', 'memory');
    vi.stubEnv('SLUICE_CLUSTER_ID', 'lambda-test');
    // As the template sets it for every function (lib/sluice-cluster.ts): metadata names the
    // inbox from it without opening a queue (this suite also runs on Lambda's Node in CI,
    // where the SQLite of `sluice dev`'s embedded queue is not built).
    vi.stubEnv('SLUICE_INBOX_URL', 'https://sqs.eu-west-1.amazonaws.com/123456789012/sluice-inbox');
  });
  afterAll(() => vi.unstubAllEnvs());

  it('serve their paths from the environment-built context', async () => {
    const admin = (await import('./admin.js')).handler;
    const produce = (await import('./produce.js')).handler;
    const fetchFn = (await import('./fetch.js')).handler;
    const headers = { 'content-type': 'application/json', host: 'abc.lambda-url.eu-west-1.on.aws' };
    const created = await admin(
      toEvent({ method: 'POST', url: '/v1/topics', headers, body: json({ name: 'l' }) }),
    );
    expect(created.statusCode).toBe(201);
    // A Function URL event carries a base64 body, as Lambda delivers it.
    const event = toEvent({
      method: 'POST',
      url: '/v1/produce',
      headers,
      body: json({ topic: 'l', records: [{ value: 'x' }] }),
    });
    const plain = {
      ...event,
      body: Buffer.from(JSON.stringify({ topic: 'l', records: [{ value: 'x' }] })).toString('base64'),
    };
    const produced = await produce(plain);
    expect(produced.statusCode).toBe(200);
    const fetched = await fetchFn(
      toEvent({ method: 'GET', url: '/v1/fetch?topic=l&partition=0&offset=0', headers }),
    );
    expect(JSON.parse(fetched.body!).records[0].value).toBe('x');
    const groups = (await import('./groups.js')).handler;
    const listed = await groups(toEvent({ method: 'GET', url: '/v1/groups', headers }));
    expect(JSON.parse(listed.body!)).toEqual({ groups: [] });
    const meta = await groups(toEvent({ method: 'GET', url: '/v1/metadata', headers }));
    expect(JSON.parse(meta.body!)).toMatchObject({
      clusterId: 'lambda-test',
      endpoints: { produce: 'https://abc.lambda-url.eu-west-1.on.aws' },
      inbox: { type: 'sqs', region: 'eu-west-1' },
    });
  });

  it('the batcher takes a Kinesis event; with SLUICE_INBOX_STREAM the metadata names the stream', async () => {
    vi.resetModules();
    const streamArn = 'arn:aws:kinesis:eu-west-1:123456789012:stream/sluice-inbox';
    vi.stubEnv('SLUICE_INBOX_URL', '');
    vi.stubEnv('SLUICE_INBOX_STREAM', streamArn);
    const headers = { 'content-type': 'application/json', host: 'abc.lambda-url.eu-west-1.on.aws' };
    const admin = (await import('./admin.js')).handler;
    await admin(toEvent({ method: 'POST', url: '/v1/topics', headers, body: json({ name: 'k' }) }));
    const meta = await admin(toEvent({ method: 'GET', url: '/v1/metadata', headers }));
    expect(JSON.parse(meta.body!).inbox).toEqual({ type: 'kinesis', streamArn, region: 'eu-west-1' });

    const batcher = (await import('./batcher.js')).handler;
    const record = (sequenceNumber: string, body: string) => ({
      awsRegion: 'eu-west-1',
      eventID: `shardId-000000000000:${sequenceNumber}`,
      eventName: 'aws:kinesis:record',
      eventSource: 'aws:kinesis',
      eventSourceARN: streamArn,
      eventVersion: '1.0',
      invokeIdentityArn: 'arn:aws:iam::123456789012:role/batcher',
      kinesis: {
        approximateArrivalTimestamp: Date.now() / 1000,
        data: Buffer.from(body).toString('base64'),
        kinesisSchemaVersion: '1.0',
        partitionKey: 'k',
        sequenceNumber,
      },
    });
    const message = JSON.stringify({
      v: 1,
      topic: 'k',
      partition: 0,
      records: [{ v: 'eA==', ts: 1 }],
      eventId: 'e1',
    });
    // No dead-letter queue (SLUICE_INBOX_DLQ_URL unset): the invalid record is reported, so the shard waits for it.
    const out = await batcher({ Records: [record('100', message), record('101', 'not a message')] });
    expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: '101' }] });
    const fetchFn = (await import('./fetch.js')).handler;
    const fetched = await fetchFn(
      toEvent({ method: 'GET', url: '/v1/fetch?topic=k&partition=0&offset=0', headers }),
    );
    expect(JSON.parse(fetched.body!).records.map((r: { value: string }) => r.value)).toEqual(['x']);
  });

  it('answer 503 with the reason when the instance cannot start', async () => {
    vi.resetModules();
    vi.stubEnv('SLUICE_STORAGE', 'floppy');
    const admin = (await import('./admin.js')).handler;
    const res = await admin(toEvent({ method: 'GET', url: '/v1/topics' }));
    expect(res.statusCode).toBe(503);
    expect(JSON.parse(res.body!).error).toMatchObject({ code: 'UNAVAILABLE', retriable: true });
    expect(JSON.parse(res.body!).error.message).toContain('floppy');
  });
});
