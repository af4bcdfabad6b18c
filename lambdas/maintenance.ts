/**
 * The maintenance function (DESIGN.md §7). One handler, three kinds of event:
 *
 * - an EventBridge schedule ("Scheduled Event"): plan the pass and send one SQS message
 *   per task to SLUICE_MAINTENANCE_QUEUE_URL (partitions with work, deleted topics,
 *   orphan GC); without a queue URL the pass runs right here;
 * - SQS messages (`Records`): run each task — a partition's under its lease — and report
 *   the failed ones as `batchItemFailures` so only they come back (the event source
 *   mapping needs `ReportBatchItemFailures`);
 * - a direct invocation `{"action": "run", "force"?: true}`: a whole pass in-process,
 *   answered with its report (operators, tests).
 *
 * Options come from SLUICE_MAINTENANCE_OPTIONS (JSON of MaintenanceOptions fields).
 */
import { hostname } from 'node:os';
import type { Context, ScheduledEvent, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import * as z from 'zod';
import { InvalidRequestError } from '../core/errors.js';
import {
  describeTask,
  type MaintenanceDeps,
  type MaintenanceOptions,
  type MaintenanceReport,
  type MaintenanceTask,
  planMaintenance,
  resolveMaintenanceOptions,
  runMaintenancePass,
  runTask,
} from '../core/maintenance/index.js';
import { type PendingDispatch, strandedDispatches } from '../core/subscriptions/index.js';
import { getContext, type SluiceContext } from './context.js';

/** Where planned tasks go: SQS in AWS, anything with the same shape in tests. */
export interface TaskQueue {
  send(tasks: readonly MaintenanceTask[]): Promise<void>;
}

/** Messages per SendMessageBatch (SQS's limit). */
const SQS_BATCH = 10;

/**
 * Sends tasks as SQS messages, ten per request; entries SQS refuses are sent again once,
 * then reported as an error.
 *
 * @example
 * const queue = new SqsTaskQueue(new SQSClient({}), process.env.SLUICE_MAINTENANCE_QUEUE_URL!);
 * await queue.send(await planMaintenance(deps, options));
 */
export class SqsTaskQueue implements TaskQueue {
  constructor(
    private readonly client: import('@aws-sdk/client-sqs').SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(tasks: readonly MaintenanceTask[]): Promise<void> {
    const { SendMessageBatchCommand } = await import('@aws-sdk/client-sqs');
    for (let i = 0; i < tasks.length; i += SQS_BATCH) {
      let entries = tasks.slice(i, i + SQS_BATCH).map((task, j) => ({
        Id: String(j),
        MessageBody: JSON.stringify(task),
      }));
      for (let attempt = 0; entries.length > 0; attempt++) {
        const out = await this.client.send(
          new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: entries }),
        );
        const failed = new Set((out.Failed ?? []).map((f) => f.Id));
        if (failed.size > 0 && attempt >= 1) {
          const first = out.Failed![0]!;
          throw new Error(
            `SQS refused ${failed.size} maintenance messages: ${first.Code} ${first.Message ?? ''}`,
          );
        }
        entries = entries.filter((e) => failed.has(e.Id));
      }
    }
  }
}

const taskSchema = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('partition'),
    topic: z.string().min(1),
    topicId: z.string().min(1),
    partition: z.number().int().min(0),
  }),
  z.object({ kind: z.literal('deleted-topic'), topicId: z.string().min(1) }),
  z.object({ kind: z.literal('transactions') }),
  z.object({ kind: z.literal('orphans'), graceMs: z.number().int().min(0).optional() }),
]);

/** Parses an SQS message body into a task; a malformed one is an {@link InvalidRequestError}. */
export function parseTask(body: string): MaintenanceTask {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    throw new InvalidRequestError('a maintenance message must be JSON', 'body', { cause: err });
  }
  const parsed = taskSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new InvalidRequestError(
      `invalid maintenance task: ${issue.path.join('.') || 'body'}: ${issue.message}`,
      issue.path.join('.'),
    );
  }
  return parsed.data as MaintenanceTask;
}

export interface MaintenanceRuntime {
  deps: MaintenanceDeps;
  options: MaintenanceOptions;
  /** Absent: a scheduled event runs the pass in-process. */
  queue?: TaskQueue;
  log?: (level: 'info' | 'warn' | 'error', message: string, extra?: Record<string, unknown>) => void;
  /**
   * The subscriptions safety net, when the cluster has the subscriptions trigger: each
   * scheduled pass wakes it for partitions left with records and no live dispatcher
   * (`core/subscriptions/sweep.ts`).
   */
  subscriptions?: {
    stranded(): Promise<PendingDispatch[]>;
    wake(pending: PendingDispatch[]): Promise<void>;
  };
}

/** Wakes the subscriptions trigger for stranded partitions; never fails the pass. */
async function sweepSubscriptions(rt: MaintenanceRuntime): Promise<number> {
  if (!rt.subscriptions) return 0;
  try {
    const pending = await rt.subscriptions.stranded();
    if (pending.length > 0) {
      await rt.subscriptions.wake(pending);
      rt.log?.('info', `subscriptions: woke the trigger for ${pending.length} stranded partitions`, {
        pending,
      });
    }
    return pending.length;
  } catch (error) {
    rt.log?.('warn', 'subscriptions sweep failed', { error: String(error) });
    return 0;
  }
}

export type MaintenanceEvent = ScheduledEvent | SQSEvent | { action: 'run'; force?: boolean };
export type MaintenanceResult =
  | SQSBatchResponse
  | { planned: number; sent: boolean; report?: MaintenanceReport }
  | { report: MaintenanceReport };

/** Tasks of one SQS batch run at once. */
const SQS_CONCURRENCY = 4;

/**
 * The handler over a runtime (built once per instance by `runtime()`).
 *
 * @example
 * export const handler = createMaintenanceHandler(async () => ({ deps, options, queue }));
 */
export function createMaintenanceHandler(
  runtime: () => Promise<MaintenanceRuntime>,
): (event: MaintenanceEvent, context?: Context) => Promise<MaintenanceResult> {
  return async (event) => {
    const rt = await runtime();
    const log = rt.log ?? (() => {});
    if ('Records' in event && Array.isArray(event.Records)) {
      const failures: { itemIdentifier: string }[] = [];
      let next = 0;
      const worker = async () => {
        while (next < event.Records.length) {
          const record = event.Records[next++]!;
          let task: MaintenanceTask;
          try {
            task = parseTask(record.body);
          } catch (err) {
            // Retrying cannot fix it: drop it (loudly) rather than loop until the DLQ.
            log('error', 'dropping a malformed maintenance message', {
              messageId: record.messageId,
              error: String(err),
            });
            continue;
          }
          try {
            const report = await runTask(rt.deps, rt.options, task);
            log('info', `maintenance: ${describeTask(task)}`, { report });
          } catch (err) {
            log('warn', `maintenance failed: ${describeTask(task)}`, { error: String(err) });
            failures.push({ itemIdentifier: record.messageId });
          }
        }
      };
      await Promise.all(Array.from({ length: SQS_CONCURRENCY }, worker));
      return { batchItemFailures: failures };
    }
    if ('action' in event) {
      if (event.action !== 'run')
        throw new InvalidRequestError(`unknown action ${String(event.action)}`, 'action');
      const { report } = await runMaintenancePass(rt.deps, rt.options, { force: event.force === true });
      log('info', 'maintenance pass', { report });
      return { report };
    }
    // A schedule: fan out, or run here when there is no queue.
    await sweepSubscriptions(rt);
    if (!rt.queue) {
      const { tasks, report } = await runMaintenancePass(rt.deps, rt.options);
      log('info', 'maintenance pass', { report });
      return { planned: tasks.length, sent: false, report };
    }
    const tasks = await planMaintenance(rt.deps, rt.options);
    await rt.queue.send(tasks);
    log('info', `maintenance planned: ${tasks.length} tasks`);
    return { planned: tasks.length, sent: true };
  };
}

/** Options from SLUICE_MAINTENANCE_OPTIONS (JSON), defaults otherwise. */
export function optionsFromEnv(env: NodeJS.ProcessEnv): MaintenanceOptions {
  const raw = env.SLUICE_MAINTENANCE_OPTIONS;
  if (!raw) return resolveMaintenanceOptions();
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    throw new InvalidRequestError('SLUICE_MAINTENANCE_OPTIONS must be JSON', 'SLUICE_MAINTENANCE_OPTIONS', {
      cause: err,
    });
  }
  return resolveMaintenanceOptions(parsed as Partial<MaintenanceOptions>);
}

/** A lease owner name unique to this process. */
export function ownerName(random: () => number, env: NodeJS.ProcessEnv = process.env): string {
  const where = env.AWS_LAMBDA_LOG_STREAM_NAME ?? `${hostname()}:${process.pid}`;
  return `${where}:${Math.floor(random() * 2 ** 32).toString(36)}`;
}

/** The sweep over this cluster, waking `functionName` (the subscriptions trigger) asynchronously. */
async function subscriptionsSweep(
  ctx: SluiceContext,
  functionName: string,
): Promise<NonNullable<MaintenanceRuntime['subscriptions']>> {
  const [{ LambdaClient, InvokeCommand }, { subscriptionStore }] = await Promise.all([
    import('@aws-sdk/client-lambda'),
    import('./subscriptions-api.js'),
  ]);
  const lambda = new LambdaClient({});
  const store = subscriptionStore(ctx);
  return {
    stranded: () =>
      strandedDispatches({
        meta: ctx.meta,
        topics: ctx.topics,
        reader: ctx.reader,
        clock: ctx.clock,
        listSubscriptions: () => store.list(),
      }),
    async wake(pending) {
      await lambda.send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: 'Event',
          Payload: Buffer.from(JSON.stringify({ dispatch: pending })),
        }),
      );
    },
  };
}

let runtimeCache: Promise<MaintenanceRuntime> | undefined;

function defaultRuntime(): Promise<MaintenanceRuntime> {
  runtimeCache ??= (async () => {
    const ctx = await getContext();
    const env = process.env;
    let queue: TaskQueue | undefined;
    if (env.SLUICE_MAINTENANCE_QUEUE_URL) {
      const { SQSClient } = await import('@aws-sdk/client-sqs');
      queue = new SqsTaskQueue(new SQSClient({}), env.SLUICE_MAINTENANCE_QUEUE_URL);
    }
    const logger = ctx.telemetry.logger;
    const log: MaintenanceRuntime['log'] = (level, message, extra) => logger[level](message, extra ?? {});
    return {
      deps: {
        meta: ctx.meta,
        objects: ctx.objects,
        clock: ctx.clock,
        random: ctx.random,
        owner: ownerName(ctx.random),
      },
      options: optionsFromEnv(env),
      queue,
      log,
      subscriptions: env.SLUICE_SUBSCRIPTIONS_FUNCTION
        ? await subscriptionsSweep(ctx, env.SLUICE_SUBSCRIPTIONS_FUNCTION)
        : undefined,
    };
  })().catch((err) => {
    runtimeCache = undefined;
    throw err;
  });
  return runtimeCache;
}

/** The Lambda entry point. */
export const handler = createMaintenanceHandler(defaultRuntime);
