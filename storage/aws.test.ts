/**
 * Behaviour of the AWS adapters that the conformance suite cannot reach: a request the SDK
 * sends twice (the retry of a write whose answer was lost), an emulator that returns no
 * item on a failed condition, error mapping. Run against the emulator; the SDK is not
 * mocked — a middleware replays or trims real requests.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ThrottledError, UnavailableError } from '../core/errors.js';
import { ConflictError } from '../core/ports.js';
import { makeStores, type TestStores } from '../test/helpers/stores.js';
import { mapAwsError } from './aws-errors.js';
import type { DynamoMetaStore } from './dynamodb.js';
import type { S3ObjectStore } from './s3.js';

type AnyClient = DynamoDBClient | S3Client;

/** Sends each request of `operation` twice and answers with the second response. */
function replay(client: AnyClient, operation: string): () => void {
  const name = `replay-${operation}-${Math.random()}`;
  // biome-ignore lint/suspicious/noExplicitAny: middleware over two client types
  (client.middlewareStack as any).add(
    // biome-ignore lint/suspicious/noExplicitAny: generic middleware signature
    (next: any, context: any) => async (args: any) => {
      if (context.commandName !== operation) return next(args);
      await next(args);
      return next(args);
    },
    { step: 'build', name },
  );
  // biome-ignore lint/suspicious/noExplicitAny: see above
  return () => (client.middlewareStack as any).remove(name);
}

/** Records the parameters of every request of `operation`. */
function capture(client: AnyClient, operation: string): Record<string, unknown>[] {
  const seen: Record<string, unknown>[] = [];
  // biome-ignore lint/suspicious/noExplicitAny: see above
  (client.middlewareStack as any).add(
    // biome-ignore lint/suspicious/noExplicitAny: see above
    (next: any, context: any) => async (args: any) => {
      if (context.commandName === operation) seen.push(JSON.parse(args.request.body));
      return next(args);
    },
    { step: 'finalizeRequest', name: `capture-${operation}-${Math.random()}` },
  );
  return seen;
}

describe('AWS adapters on the emulator', () => {
  let stores: TestStores;
  let meta: DynamoMetaStore;
  let objects: S3ObjectStore;
  beforeAll(async () => {
    stores = await makeStores('aws');
    meta = stores.meta as DynamoMetaStore;
    objects = stores.objects as S3ObjectStore;
  });
  afterAll(async () => stores?.cleanup());

  it('reports success when a conditional write that succeeded is sent again', async () => {
    const key = { pk: 'retry', sk: 'put' };
    const undo = replay(meta.client, 'PutItemCommand');
    const undoUpdate = replay(meta.client, 'UpdateItemCommand');
    try {
      await meta.transact([{ type: 'put', key, data: { n: 1 }, condition: { absent: true } }]);
      await meta.transact([{ type: 'put', key, data: { n: 2 }, condition: { version: 1 } }]);
      await meta.transact([{ type: 'update', key, add: { n: 1 }, condition: { version: 2 } }]);
    } finally {
      undo();
      undoUpdate();
    }
    expect(await meta.get(key)).toMatchObject({ version: 3, data: { n: 3 } });
    // Someone else's write is still a conflict.
    await expect(
      meta.transact([{ type: 'put', key, data: {}, condition: { absent: true } }]),
    ).rejects.toBeInstanceOf(ConflictError);
  });

  it('reports success when a create-only put that succeeded is sent again', async () => {
    const undo = replay(objects.client, 'PutObjectCommand');
    try {
      await objects.put('retry/object', new Uint8Array([1, 2]));
    } finally {
      undo();
    }
    expect(await objects.get('retry/object')).toEqual(new Uint8Array([1, 2]));
    await expect(objects.put('retry/object', new Uint8Array([3]))).rejects.toMatchObject({
      name: 'ObjectExistsError',
    });
  });

  it('sends transactions with an idempotency token, the same on every retry, and survives a replay', async () => {
    const seen = capture(meta.client, 'TransactWriteItemsCommand');
    const undo = replay(meta.client, 'TransactWriteItemsCommand');
    try {
      await meta.transact([
        { type: 'put', key: { pk: 'tx', sk: 'a' }, data: {}, condition: { absent: true } },
        { type: 'put', key: { pk: 'tx', sk: 'b' }, data: {}, condition: { absent: true } },
      ]);
    } finally {
      undo();
    }
    expect(seen).toHaveLength(2);
    expect(seen[0]?.ClientRequestToken).toMatch(/^[0-9a-f-]{36}$/);
    expect(seen[1]?.ClientRequestToken).toBe(seen[0]?.ClientRequestToken);
    // moto ignores the token and fails the second attempt's conditions; the adapter sees its
    // own write tokens on the items and reports the success it was.
    expect(
      await meta.batchGet([
        { pk: 'tx', sk: 'a' },
        { pk: 'tx', sk: 'b' },
      ]),
    ).toMatchObject([{ version: 1 }, { version: 1 }]);
  });

  it('still carries the current items when the service returns none on a failed condition', async () => {
    const key = { pk: 'noallold', sk: 'x' };
    await meta.transact([{ type: 'put', key, data: { v: 'current' } }]);
    const other = { pk: 'noallold', sk: 'y' };
    const name = `strip-${Math.random()}`;
    // biome-ignore lint/suspicious/noExplicitAny: see above
    (meta.client.middlewareStack as any).add(
      // biome-ignore lint/suspicious/noExplicitAny: see above
      (next: any) => async (args: any) => {
        const strip = (o: Record<string, unknown>) => delete o.ReturnValuesOnConditionCheckFailure;
        strip(args.input);
        for (const item of args.input.TransactItems ?? [])
          for (const op of Object.values(item)) strip(op as never);
        return next(args);
      },
      { step: 'initialize', name },
    );
    try {
      const single = (await meta
        .transact([{ type: 'put', key, data: {}, condition: { absent: true } }])
        .catch((e: unknown) => e)) as ConflictError;
      expect(single.currentOf(key)).toMatchObject({ version: 1, data: { v: 'current' } });
      const multi = (await meta
        .transact([
          { type: 'put', key: other, data: {} },
          { type: 'check', key, condition: { version: 7 } },
        ])
        .catch((e: unknown) => e)) as ConflictError;
      expect(multi.failures).toEqual([{ index: 1, key, current: expect.objectContaining({ version: 1 }) }]);
    } finally {
      // biome-ignore lint/suspicious/noExplicitAny: see above
      (meta.client.middlewareStack as any).remove(name);
    }
  });

  it('maps throttling and server errors to retriable typed errors, keeping the cause', () => {
    const throttled = Object.assign(new Error('slow down'), {
      name: 'ProvisionedThroughputExceededException',
    });
    const mapped = mapAwsError(throttled, 'GetItem');
    expect(mapped).toBeInstanceOf(ThrottledError);
    expect((mapped as ThrottledError).cause).toBe(throttled);
    expect(
      mapAwsError(
        Object.assign(new Error('x'), { name: 'SlowDown', $metadata: { httpStatusCode: 503 } }),
        'PutObject',
      ),
    ).toBeInstanceOf(ThrottledError);
    expect(
      mapAwsError(
        Object.assign(new Error('x'), { name: 'InternalServerError', $metadata: { httpStatusCode: 500 } }),
        'Query',
      ),
    ).toBeInstanceOf(UnavailableError);
    expect(mapAwsError(Object.assign(new Error('x'), { code: 'ECONNRESET' }), 'Query')).toBeInstanceOf(
      UnavailableError,
    );
    expect(mapAwsError(Object.assign(new Error('x'), { name: 'TimeoutError' }), 'Query')).toBeInstanceOf(
      UnavailableError,
    );
    const other = Object.assign(new Error('x'), {
      name: 'ValidationException',
      $metadata: { httpStatusCode: 400 },
    });
    expect(mapAwsError(other, 'Query')).toBe(other);
  });

  it('addresses S3 path-style when an endpoint is set', async () => {
    expect(await objects.client.config.forcePathStyle).toBe(true);
  });
});
