/**
 * The subscriptions function (DESIGN.md "Subscriptions"): dispatches subscriptions when the
 * table's DynamoDB stream reports a change — a partition's head (a produce committed) or a
 * definition (created, resumed) — so an idle cluster invokes nothing and pays nothing. Two
 * kinds of event:
 *
 * - a DynamoDB stream batch (`Records`, filtered by the event source mapping to head and
 *   subscription items): dispatch the partitions concerned;
 * - `{"dispatch": [{"subscription", "partition"}]}`: continue runs that reached this
 *   invocation's deadline; the function sends it to itself (asynchronously) when records are
 *   left, so a backlog drains without waiting for the next produce.
 *
 * Targets are invoked with Lambda `Invoke`, failures go to SQS. A target must finish within
 * half the lease (SLUICE_SUBSCRIPTION_LEASE_MS, default 120 s): give it a timeout ≤ 60 s.
 */
import { randomUUID } from 'node:crypto';
import type { Context, DynamoDBStreamEvent } from 'aws-lambda';
import { InvalidRequestError } from '../core/errors.js';
import type { ItemKey } from '../core/ports.js';
import {
  type FailureDestination,
  type InvokeTarget,
  type PendingDispatch,
  SubscriptionScheduler,
} from '../core/subscriptions/index.js';
import { getContext, type SluiceContext } from './context.js';
import { contextDispatcher, subscriptionStore } from './subscriptions-api.js';

export interface TriggerDeps {
  invoker: InvokeTarget;
  failures: FailureDestination;
  /** Sends `{ dispatch }` to this function again (asynchronously). */
  continueLater(pending: PendingDispatch[]): Promise<void>;
  leaseTtlMs?: number;
}

export type TriggerEvent = DynamoDBStreamEvent | { dispatch: PendingDispatch[] };

/** The keys of the items a stream batch changed. */
export function changedKeys(event: DynamoDBStreamEvent): ItemKey[] {
  const out: ItemKey[] = [];
  for (const r of event.Records ?? []) {
    const pk = r.dynamodb?.Keys?.pk?.S;
    const sk = r.dynamodb?.Keys?.sk?.S;
    if (pk !== undefined && sk !== undefined) out.push({ pk, sk });
  }
  return out;
}

/**
 * Runs the dispatches an event asks for until `budgetMs` (then hands what is left to
 * `continueLater`). Throws on storage errors, so the stream retries the batch.
 */
export async function handleTrigger(
  ctx: SluiceContext,
  deps: TriggerDeps,
  event: TriggerEvent,
  budgetMs: number,
): Promise<{ pending: PendingDispatch[] }> {
  const store = subscriptionStore(ctx);
  const dispatcher = contextDispatcher(ctx, store, {
    invoker: deps.invoker,
    failures: deps.failures,
    owner: `lambda-${randomUUID()}`,
    leaseTtlMs: deps.leaseTtlMs,
  });
  const errors: unknown[] = [];
  const scheduler = new SubscriptionScheduler({
    dispatcher,
    topics: ctx.topics,
    listSubscriptions: () => store.list(),
    clock: ctx.clock,
    deadline: ctx.clock.now() + Math.max(0, budgetMs),
    onError: (error, subscription, partition) => {
      errors.push(error);
      ctx.telemetry.logger.error('subscription dispatch failed', {
        subscription,
        partition,
        error: error as Error,
      });
    },
  });
  if ('dispatch' in event) {
    if (!Array.isArray(event.dispatch))
      throw new InvalidRequestError('dispatch must be an array', 'dispatch');
    await Promise.all(
      event.dispatch
        .filter((d) => typeof d?.subscription === 'string' && Number.isSafeInteger(d?.partition))
        .map((d) => scheduler.schedule(d.subscription, d.partition)),
    );
  } else {
    await scheduler.changed(changedKeys(event));
  }
  await scheduler.idle();
  const pending = scheduler.takePending();
  if (pending.length > 0) await deps.continueLater(pending);
  if (errors.length > 0) throw errors[0];
  return { pending };
}

let deps: TriggerDeps | undefined;

async function awsDeps(): Promise<TriggerDeps> {
  const [{ LambdaClient, InvokeCommand }, { SQSClient }, targets] = await Promise.all([
    import('@aws-sdk/client-lambda'),
    import('@aws-sdk/client-sqs'),
    import('./subscription-targets.js'),
  ]);
  const lambda = new LambdaClient({});
  const self = process.env.AWS_LAMBDA_FUNCTION_NAME;
  const lease = Number(process.env.SLUICE_SUBSCRIPTION_LEASE_MS ?? 120_000);
  return {
    invoker: new targets.LambdaInvokeTarget(lambda),
    failures: new targets.SqsFailureDestination(new SQSClient({})),
    leaseTtlMs: Number.isSafeInteger(lease) && lease > 0 ? lease : 120_000,
    async continueLater(pending) {
      if (!self) return;
      await lambda.send(
        new InvokeCommand({
          FunctionName: self,
          InvocationType: 'Event',
          Payload: Buffer.from(JSON.stringify({ dispatch: pending })),
        }),
      );
    },
  };
}

/** The Lambda entry point. */
export async function handler(
  event: TriggerEvent,
  context?: Context,
): Promise<{ pending: PendingDispatch[] }> {
  const ctx = await getContext();
  deps ??= await awsDeps();
  // Leave time for an invocation in flight (at most half the lease) to end before ours does.
  const remaining = context?.getRemainingTimeInMillis() ?? 900_000;
  try {
    return await handleTrigger(ctx, deps, event, remaining - (deps.leaseTtlMs ?? 120_000) / 2 - 5_000);
  } finally {
    ctx.telemetry.flush();
  }
}
