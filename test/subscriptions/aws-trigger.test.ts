/**
 * The subscriptions function on the emulator: a DynamoDB stream batch naming head items
 * dispatches those partitions; runs cut by the deadline continue through `{ dispatch }`;
 * records that exhausted their retries reach a real SQS queue (moto) with their coordinates.
 */
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keys } from '../../core/keys.js';
import type { InvokeOutcome, PendingDispatch, SubscriptionEvent } from '../../core/subscriptions/index.js';
import { createContext, type SluiceContext } from '../../lambdas/context.js';
import { SqsFailureDestination } from '../../lambdas/subscription-targets.js';
import { changedKeys, handleTrigger, type TriggerDeps } from '../../lambdas/subscriptions.js';
import { subscriptionStore } from '../../lambdas/subscriptions-api.js';
import { EMULATOR_CREDENTIALS, makeStores, type TestStores } from '../helpers/stores.js';

function streamEvent(...items: { pk: string; sk: string }[]): DynamoDBStreamEvent {
  return {
    Records: items.map((k) => ({
      eventName: 'MODIFY',
      dynamodb: { Keys: { pk: { S: k.pk }, sk: { S: k.sk } } },
    })),
  } as DynamoDBStreamEvent;
}

describe('subscriptions function on the emulator', () => {
  let stores: TestStores;
  let ctx: SluiceContext;
  let sqs: SQSClient;
  let queueArn: string;
  let queueUrl: string;
  const invoked: { partition: number; offsets: number[] }[] = [];
  const later: PendingDispatch[][] = [];
  let deps: TriggerDeps;

  beforeAll(async () => {
    stores = await makeStores('aws');
    ctx = createContext(stores, { env: {}, clusterId: 'c' });
    const endpoint = stores.describe.split(' at ')[1]!;
    sqs = new SQSClient({ endpoint, region: 'us-east-1', credentials: EMULATOR_CREDENTIALS });
    queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: `dlq-${Date.now()}` }))).QueueUrl!;
    queueArn = (
      await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }))
    ).Attributes!.QueueArn!;
    deps = {
      invoker: {
        async invoke(_target: string, event: SubscriptionEvent): Promise<InvokeOutcome> {
          const recs = Object.values(event.records)[0]!;
          invoked.push({ partition: recs[0]!.partition, offsets: recs.map((r) => r.offset) });
          const bad = recs.find((r) => Buffer.from(r.value!, 'base64').toString() === 'poison');
          return bad ? { ok: false, error: 'Unhandled: poison' } : { ok: true, response: null };
        },
      },
      failures: new SqsFailureDestination(sqs),
      continueLater: async (pending) => {
        later.push(pending);
      },
      leaseTtlMs: 60_000,
    };
  });

  afterAll(async () => {
    sqs?.destroy();
    await stores?.cleanup();
  });

  it('reads the keys of a stream batch', () => {
    expect(changedKeys(streamEvent({ pk: 'p#x#0', sk: 'head' }))).toEqual([{ pk: 'p#x#0', sk: 'head' }]);
    expect(changedKeys({ Records: [{}] } as DynamoDBStreamEvent)).toEqual([]);
  });

  it('dispatches the partitions a stream batch names, continues past the deadline, and fails over to SQS', async () => {
    const topic = await ctx.topics.create('orders', 2);
    await subscriptionStore(ctx).create({
      name: 'billing',
      topic: 'orders',
      target: 'arn:aws:lambda:us-east-1:123456789012:function:billing',
      startingPosition: 'earliest',
      batchSize: 2,
      maxRetryAttempts: 0,
      bisectBatchOnFunctionError: true,
      onFailure: queueArn,
    });
    const enc = new TextEncoder();
    for (const [partition, values] of [
      [0, ['a', 'poison', 'b']],
      [1, ['c']],
    ] as const) {
      const { encodeBatch, verifyBatch } = await import('../../core/records/index.js');
      await ctx.appender.append([
        {
          topic: 'orders',
          partition,
          batches: [
            verifyBatch(
              encodeBatch(
                values.map((v) => ({ value: enc.encode(v) })),
                { now: 0 },
              ),
            ),
          ],
        },
      ]);
    }

    // A deadline already past: nothing is invoked, both partitions are handed on.
    const cut = await handleTrigger(
      ctx,
      deps,
      streamEvent(keys.head(topic.id, 0), keys.head(topic.id, 1), { pk: 'topics', sk: 'orders' }),
      0,
    );
    expect(invoked).toEqual([]);
    expect(cut.pending.sort((x, y) => x.partition - y.partition)).toEqual([
      { subscription: 'billing', partition: 0 },
      { subscription: 'billing', partition: 1 },
    ]);
    expect(later).toEqual([cut.pending]);

    const done = await handleTrigger(ctx, deps, { dispatch: cut.pending }, 60_000);
    expect(done.pending).toEqual([]);
    // [0, 1] fails and is split: its halves [0] and [1] are retried as batches of their own.
    expect(invoked.filter((i) => i.partition === 0).map((i) => i.offsets)).toEqual([[0, 1], [0], [1], [2]]);
    expect(invoked.filter((i) => i.partition === 1).map((i) => i.offsets)).toEqual([[0]]);

    const got = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10 }));
    expect((got.Messages ?? []).map((m) => JSON.parse(m.Body!))).toEqual([
      expect.objectContaining({
        subscription: 'billing',
        topic: 'orders',
        partition: 0,
        startOffset: 1,
        endOffset: 1,
        condition: 'RetryAttemptsExhausted',
        error: 'Unhandled: poison',
      }),
    ]);
  });
});
