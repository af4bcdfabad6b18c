import type { CloudFormationCustomResourceEvent, LambdaFunctionURLEvent } from 'aws-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import { errorBody, fromEvent, toResult } from '../lambdas/http.js';
import { type AdminInvoker, applyTopics, handleEvent, TopicRequestError } from './topics-handler.js';

/**
 * A stand-in admin function speaking API.md through real Function URL events (http.ts
 * encodes and decodes them as the real handler does), over an in-memory topic list.
 */
function fakeAdmin(existing: Record<string, number> = {}) {
  const topics = new Map(Object.entries(existing));
  const calls: string[] = [];
  const invoke: AdminInvoker = async (event: LambdaFunctionURLEvent) => {
    const req = fromEvent(event);
    calls.push(`${req.method} ${req.path}`);
    const body = req.body.length ? JSON.parse(Buffer.from(req.body).toString('utf8')) : undefined;
    const match = /^\/v1\/topics\/([^/]+)(\/partitions)?$/.exec(req.path);
    if (req.method === 'POST' && req.path === '/v1/topics') {
      if (!/^[a-zA-Z0-9._-]+$/.test(body.name)) {
        return toResult({ status: 400, body: errorBody('INVALID_TOPIC_EXCEPTION', 'bad name', false) });
      }
      if (topics.has(body.name)) {
        return toResult({ status: 409, body: errorBody('TOPIC_ALREADY_EXISTS', 'exists', false) });
      }
      topics.set(body.name, body.partitions);
      return toResult({
        status: 201,
        body: { name: body.name, partitions: body.partitions, config: body.config ?? {} },
      });
    }
    const name = match ? decodeURIComponent(match[1]!) : '';
    if (req.method === 'GET' && match && !match[2] && topics.has(name)) {
      const partitions = Array.from({ length: topics.get(name)! }, (_, partition) => ({ partition }));
      return toResult({ status: 200, body: { name, config: {}, partitions } });
    }
    if (req.method === 'POST' && match?.[2] && topics.has(name)) {
      topics.set(name, body.count);
      return toResult({ status: 200, body: { name, partitions: body.count } });
    }
    return toResult({ status: 404, body: errorBody('UNKNOWN_TOPIC_OR_PARTITION', 'no', false) });
  };
  return { topics, calls, invoke };
}

const baseEvent = {
  ServiceToken: 'arn:aws:lambda:eu-west-1:111122223333:function:topics',
  ResponseURL: 'https://example.invalid/response',
  StackId: 'arn:aws:cloudformation:eu-west-1:111122223333:stack/Sluice/uuid',
  RequestId: 'req-1',
  LogicalResourceId: 'ClusterTopicsED6A75E9',
  ResourceType: 'Custom::SluiceTopics',
};

function event(type: 'Create' | 'Update' | 'Delete', topics: unknown[]): CloudFormationCustomResourceEvent {
  const ResourceProperties = { ServiceToken: baseEvent.ServiceToken, Topics: JSON.stringify(topics) };
  if (type === 'Create') return { ...baseEvent, RequestType: 'Create', ResourceProperties };
  if (type === 'Update') {
    return {
      ...baseEvent,
      RequestType: 'Update',
      PhysicalResourceId: 'ClusterTopicsED6A75E9-topics',
      ResourceProperties,
      OldResourceProperties: ResourceProperties,
    };
  }
  return {
    ...baseEvent,
    RequestType: 'Delete',
    PhysicalResourceId: 'ClusterTopicsED6A75E9-topics',
    ResourceProperties,
  };
}

describe('applyTopics', () => {
  let admin: ReturnType<typeof fakeAdmin>;
  beforeEach(() => {
    admin = fakeAdmin({ existing: 2 });
  });

  it('creates missing topics with their partitions and config', async () => {
    const done = await applyTopics(
      [{ name: 'orders', partitions: 6, config: { 'retention.ms': 1000 } }],
      admin.invoke,
    );
    expect(admin.topics.get('orders')).toBe(6);
    expect(done).toEqual(['created orders (6 partitions)']);
    expect(admin.calls).toEqual(['POST /v1/topics']);
  });

  it('keeps an existing topic with as many partitions, and grows one declared larger', async () => {
    const done = await applyTopics(
      [
        { name: 'existing', partitions: 2 },
        { name: 'existing', partitions: 5 },
      ],
      admin.invoke,
    );
    expect(done).toEqual(['kept existing (2 partitions)', 'grew existing from 2 to 5 partitions']);
    expect(admin.topics.get('existing')).toBe(5);
    expect(admin.calls.at(-1)).toBe('POST /v1/topics/existing/partitions');
  });

  it('refuses to shrink a topic', async () => {
    await expect(applyTopics([{ name: 'existing', partitions: 1 }], admin.invoke)).rejects.toThrow(
      /has 2 partitions; the stack declares 1/,
    );
    expect(admin.topics.get('existing')).toBe(2);
  });

  it('reports what the admin function refused', async () => {
    const err = await applyTopics([{ name: 'bad name' }], admin.invoke).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TopicRequestError);
    expect(err).toMatchObject({ name: 'TopicRequestError', topic: 'bad name', status: 400 });
    expect((err as Error).message).toContain('INVALID_TOPIC_EXCEPTION');
  });
});

describe('handleEvent', () => {
  it('answers SUCCESS with a stable physical id on create and update', async () => {
    const admin = fakeAdmin();
    const created = await handleEvent(event('Create', [{ name: 'a', partitions: 1 }]), admin.invoke);
    expect(created).toMatchObject({
      Status: 'SUCCESS',
      PhysicalResourceId: 'ClusterTopicsED6A75E9-topics',
      RequestId: 'req-1',
      StackId: baseEvent.StackId,
      LogicalResourceId: baseEvent.LogicalResourceId,
    });
    const updated = await handleEvent(event('Update', [{ name: 'a', partitions: 3 }]), admin.invoke);
    expect(updated).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: 'ClusterTopicsED6A75E9-topics' });
    expect(admin.topics.get('a')).toBe(3);
  });

  it('never deletes topics', async () => {
    const admin = fakeAdmin({ a: 1 });
    const res = await handleEvent(event('Delete', [{ name: 'a' }]), admin.invoke);
    expect(res.Status).toBe('SUCCESS');
    expect(admin.calls).toEqual([]);
    expect(admin.topics.has('a')).toBe(true);
  });

  it('turns any failure into a FAILED response with the reason, never a throw', async () => {
    const admin = fakeAdmin();
    const refused = await handleEvent(event('Create', [{ name: 'bad name' }]), admin.invoke);
    expect(refused).toMatchObject({ Status: 'FAILED', PhysicalResourceId: 'ClusterTopicsED6A75E9-topics' });
    expect(refused.Reason).toContain('bad name');
    const broken = await handleEvent(event('Create', [{ name: 'a' }]), async () => {
      throw new Error('admin function timed out');
    });
    expect(broken).toMatchObject({ Status: 'FAILED', Reason: 'admin function timed out' });
  });
});
