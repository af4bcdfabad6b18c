import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { createContext } from '../lambdas/context.js';
import { toEvent } from '../lambdas/http.js';
import { createHandlers } from '../lambdas/index.js';
import { MemoryMetaStore, MemoryObjectStore } from '../storage/memory.js';
import { handleSubscriptionEvent } from './subscriptions-handler.js';

const base = {
  ServiceToken: 'x',
  ResponseURL: 'https://example.com',
  StackId: 'stack',
  RequestId: 'r',
  LogicalResourceId: 'Billing',
  ResourceType: 'Custom::SluiceSubscription',
};

function event(
  type: 'Create' | 'Update' | 'Delete',
  spec: Record<string, unknown>,
  old?: Record<string, unknown>,
): CloudFormationCustomResourceEvent {
  const props = { ServiceToken: 'x', Subscription: JSON.stringify(spec) };
  if (type === 'Create') return { ...base, RequestType: type, ResourceProperties: props };
  const rest = { PhysicalResourceId: `subscription-${spec.name}`, ResourceProperties: props };
  if (type === 'Delete') return { ...base, RequestType: type, ...rest };
  return {
    ...base,
    RequestType: type,
    ...rest,
    OldResourceProperties: { ServiceToken: 'x', Subscription: JSON.stringify(old) },
  };
}

describe('subscriptions custom resource (through the real admin handler)', () => {
  it('creates, updates and deletes the definition; a bad one fails the deployment', async () => {
    const ctx = createContext({ meta: new MemoryMetaStore(), objects: new MemoryObjectStore() }, { env: {} });
    await ctx.topics.create('orders', 2);
    const invoke = createHandlers(ctx).admin;
    const spec = { name: 'billing', topic: 'orders', target: 'arn:aws:lambda:eu-west-1:1:function:b' };
    const created = await handleSubscriptionEvent(event('Create', spec), invoke);
    expect(created).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'subscription-billing' });
    const updated = await handleSubscriptionEvent(event('Update', { ...spec, batchSize: 7 }, spec), invoke);
    expect(updated.Status).toBe('SUCCESS');
    const list = JSON.parse((await invoke(toGet('/v1/subscriptions'))).body as string);
    expect(list.subscriptions).toEqual([expect.objectContaining({ name: 'billing', batchSize: 7 })]);

    // Filters set in the stack, then removed from it: the subscription stops filtering.
    const filters = [{ pattern: JSON.stringify({ value: { kind: ['order'] } }) }];
    const prev = { ...spec, batchSize: 7 };
    const withFilters = { ...prev, filters };
    expect((await handleSubscriptionEvent(event('Update', withFilters, prev), invoke)).Status).toBe(
      'SUCCESS',
    );
    const one = async () =>
      JSON.parse((await invoke(toGet('/v1/subscriptions/billing'))).body as string).subscription;
    expect((await one()).filters).toEqual(filters);
    expect((await handleSubscriptionEvent(event('Update', prev, withFilters), invoke)).Status).toBe(
      'SUCCESS',
    );
    expect(await one()).toMatchObject({ filters: [], batchSize: 7 });
    // A bad pattern fails the deployment with the admin function's message.
    const badFilter = await handleSubscriptionEvent(
      event('Update', { ...prev, filters: [{ pattern: '{"value": [{"prefix": 1}]}' }] }, prev),
      invoke,
    );
    expect(badFilter).toMatchObject({ Status: 'FAILED' });
    expect(badFilter.Reason).toMatch(/prefix takes a string/);

    const bad = await handleSubscriptionEvent(
      event('Create', { ...spec, name: 'x', topic: 'missing' }),
      invoke,
    );
    expect(bad).toMatchObject({ Status: 'FAILED' });
    expect(bad.Reason).toMatch(/UNKNOWN_TOPIC_OR_PARTITION/);
    expect((await handleSubscriptionEvent(event('Delete', spec), invoke)).Status).toBe('SUCCESS');
    expect((await handleSubscriptionEvent(event('Delete', spec), invoke)).Status).toBe('SUCCESS');
    expect(JSON.parse((await invoke(toGet('/v1/subscriptions'))).body as string).subscriptions).toEqual([]);
  });
});

function toGet(url: string) {
  return toEvent({ method: 'GET', url, headers: {} });
}
