import {
  CreateQueueCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { ScheduledEvent, SQSEvent, SQSRecord } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../core/keys.js';
import { type MaintenanceTask, resolveMaintenanceOptions } from '../core/maintenance/index.js';
import { awsEndpoint, EMULATOR_CREDENTIALS } from '../test/helpers/stores.js';
import { engine, indexOf, objectKeysOf, produce } from '../test/maintenance/harness.js';
import {
  createMaintenanceHandler,
  type MaintenanceRuntime,
  optionsFromEnv,
  parseTask,
  SqsTaskQueue,
  type TaskQueue,
} from './maintenance.js';

const options = resolveMaintenanceOptions({ minSmallEntries: 2, maxCompactionDelayMs: 0 });

function sqsEvent(messages: { id: string; body: string }[]): SQSEvent {
  return {
    Records: messages.map(
      (m) => ({ messageId: m.id, body: m.body, eventSource: 'aws:sqs' }) as unknown as SQSRecord,
    ),
  };
}

const scheduled = {
  version: '0',
  id: 'e',
  'detail-type': 'Scheduled Event',
  source: 'aws.events',
  account: '1',
  time: '2024-01-01T00:00:00Z',
  region: 'us-east-1',
  resources: [],
  detail: {},
} as unknown as ScheduledEvent;

async function populated() {
  const e = engine();
  const t = await e.topics.create('t', 3, { 'retention.ms': -1 });
  for (let i = 0; i < 4; i++) await produce(e, 't', { 0: [{ value: `a${i}` }], 1: [{ value: `b${i}` }] });
  return { e, t };
}

describe('maintenance handler', () => {
  let sqs: SQSClient;
  let queueUrl: string;
  beforeAll(async () => {
    sqs = new SQSClient({ endpoint: awsEndpoint(), region: 'us-east-1', credentials: EMULATOR_CREDENTIALS });
    const out = await sqs.send(new CreateQueueCommand({ QueueName: `sluice-maint-${Date.now()}` }));
    queueUrl = out.QueueUrl!;
  });
  afterAll(async () => {
    await sqs?.send(new DeleteQueueCommand({ QueueUrl: queueUrl })).catch(() => undefined);
    sqs?.destroy();
  });

  it('fans a schedule out to SQS, one message per task, and runs the messages', async () => {
    const { e, t } = await populated();
    const rt: MaintenanceRuntime = { deps: e.deps, options, queue: new SqsTaskQueue(sqs, queueUrl) };
    const handler = createMaintenanceHandler(async () => rt);
    const planned = await handler(scheduled);
    // Partitions 0 and 1 have data (2 is empty), plus orphan GC.
    expect(planned).toEqual({ planned: 3, sent: true });

    const received: { id: string; body: string }[] = [];
    for (let i = 0; i < 5 && received.length < 3; i++) {
      const out = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
      );
      for (const m of out.Messages ?? []) received.push({ id: m.MessageId!, body: m.Body! });
    }
    const tasks = received.map((m) => JSON.parse(m.body) as MaintenanceTask);
    expect(tasks).toEqual(
      expect.arrayContaining([
        { kind: 'partition', topic: 't', topicId: t.id, partition: 0 },
        { kind: 'partition', topic: 't', topicId: t.id, partition: 1 },
        { kind: 'orphans' },
      ]),
    );

    const result = await handler(sqsEvent(received));
    expect(result).toEqual({ batchItemFailures: [] });
    expect(await indexOf(e, t.id, 0)).toHaveLength(1);
    expect(await indexOf(e, t.id, 1)).toHaveLength(1);
    expect(await objectKeysOf(e.objects)).toHaveLength(2);
  });

  it('reports exactly the failed messages, and drops malformed ones', async () => {
    const { e, t } = await populated();
    // Partition 1's data is damaged: an object only it references is gone.
    await produce(e, 't', { 1: [{ value: 'lost' }] });
    const entry = (await indexOf(e, t.id, 1)).at(-1);
    await e.objects.delete([entry!.o]);
    const logs: string[] = [];
    const handler = createMaintenanceHandler(async () => ({
      deps: e.deps,
      options,
      log: (level, message) => logs.push(`${level}: ${message}`),
    }));
    const result = await handler(
      sqsEvent([
        { id: 'm0', body: JSON.stringify({ kind: 'partition', topic: 't', topicId: t.id, partition: 0 }) },
        { id: 'm1', body: JSON.stringify({ kind: 'partition', topic: 't', topicId: t.id, partition: 1 }) },
        { id: 'bad', body: '{"kind":"partition","topic":"t"}' },
        { id: 'gc', body: '{"kind":"orphans"}' },
      ]),
    );
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
    expect(await indexOf(e, t.id, 0)).toHaveLength(1);
    expect(logs.some((l) => l.startsWith('error: dropping a malformed'))).toBe(true);
    expect(await e.meta.get(keys.orphanGc)).toBeDefined();
  });

  it('runs the pass in-process without a queue, and on a direct invocation', async () => {
    const { e, t } = await populated();
    const sent: MaintenanceTask[] = [];
    const handler = createMaintenanceHandler(async () => ({ deps: e.deps, options }));
    const out = await handler(scheduled);
    expect(out).toMatchObject({ planned: 3, sent: false, report: { partitions: 2, entriesCompacted: 8 } });
    const queue: TaskQueue = { send: async (tasks) => void sent.push(...tasks) };
    const queued = createMaintenanceHandler(async () => ({ deps: e.deps, options, queue }));
    // Nothing new since: only what the planner always wants (none: GC ran within its interval).
    expect(await queued(scheduled)).toEqual({ planned: 0, sent: true });
    const forced = await handler({ action: 'run', force: true });
    expect(forced).toMatchObject({ report: { partitions: 2 } });
    expect(await indexOf(e, t.id, 0)).toHaveLength(1);
    await expect(handler({ action: 'nope' } as never)).rejects.toThrow(/unknown action/);
  });
});

describe('maintenance messages and configuration', () => {
  it('parses tasks and names the bad field', () => {
    expect(parseTask('{"kind":"deleted-topic","topicId":"abc"}')).toEqual({
      kind: 'deleted-topic',
      topicId: 'abc',
    });
    expect(() => parseTask('nope')).toThrow(/must be JSON/);
    expect(() => parseTask('{"kind":"partition","topic":"t","topicId":"x","partition":-1}')).toThrow(
      /partition/,
    );
  });

  it('reads options from SLUICE_MAINTENANCE_OPTIONS', () => {
    expect(optionsFromEnv({}).targetObjectBytes).toBe(8 * 1024 * 1024);
    expect(optionsFromEnv({ SLUICE_MAINTENANCE_OPTIONS: '{"orphanGraceMs":5}' }).orphanGraceMs).toBe(5);
    expect(() => optionsFromEnv({ SLUICE_MAINTENANCE_OPTIONS: '{"orphanGraceMs":-5}' })).toThrow(
      /orphanGraceMs/,
    );
    expect(() => optionsFromEnv({ SLUICE_MAINTENANCE_OPTIONS: '{"bogus":1}' })).toThrow(
      /unknown maintenance option/,
    );
  });
});
