/**
 * The emulator under test keeps DynamoDB's promises (docs/design.md §10). Sluice's
 * guarantees rest on conditional writes and transactions being atomic and linearizable; an
 * emulator that is not (threaded `moto_server` loses acknowledged transactions) would make
 * concurrency suites fail for its sake and hide Sluice's own bugs. These tests talk to the
 * emulator with the raw AWS SDK, so that nothing of Sluice's stands between them and it.
 */
import { randomBytes } from 'node:crypto';
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { awsEndpoint, EMULATOR_CREDENTIALS } from '../helpers/stores.js';

const CLIENTS = 16;
const ROUNDS = 60;

describe('the AWS emulator is atomic and linearizable for what Sluice relies on', () => {
  let ddb: DynamoDBClient;
  const table = `emulator-${randomBytes(4).toString('hex')}`;
  const key = (pk: string, sk: string): Record<string, AttributeValue> => ({ pk: { S: pk }, sk: { S: sk } });

  beforeAll(async () => {
    ddb = new DynamoDBClient({
      endpoint: awsEndpoint(),
      region: 'us-east-1',
      credentials: EMULATOR_CREDENTIALS,
      maxAttempts: 1,
    });
    await ddb.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
      }),
    );
  });

  afterAll(async () => {
    await ddb?.send(new DeleteTableCommand({ TableName: table })).catch(() => {});
    ddb?.destroy();
  });

  async function counter(pk: string): Promise<number> {
    const got = await ddb.send(
      new GetItemCommand({ TableName: table, Key: key(pk, 'head'), ConsistentRead: true }),
    );
    return Number(got.Item?.v?.N ?? Number.NaN);
  }

  it(`${CLIENTS} clients × ${ROUNDS} conditional transactions on one item: every success applied once, no lost update`, async () => {
    const pk = 'txn';
    await ddb.send(new PutItemCommand({ TableName: table, Item: { ...key(pk, 'head'), v: { N: '0' } } }));
    let successes = 0;
    const unexpected: string[] = [];
    const client = async (c: number) => {
      for (let i = 0; i < ROUNDS; i++) {
        const v = await counter(pk);
        try {
          await ddb.send(
            new TransactWriteItemsCommand({
              TransactItems: [
                {
                  Update: {
                    TableName: table,
                    Key: key(pk, 'head'),
                    UpdateExpression: 'SET v = :n',
                    ConditionExpression: 'v = :o',
                    ExpressionAttributeValues: { ':n': { N: String(v + 1) }, ':o': { N: String(v) } },
                  },
                },
                {
                  Put: {
                    TableName: table,
                    Item: { ...key(`${pk}-index`, String(v).padStart(8, '0')), writer: { S: `${c}-${i}` } },
                    ConditionExpression: 'attribute_not_exists(pk)',
                  },
                },
              ],
            }),
          );
          successes++;
        } catch (error) {
          if (!(error instanceof TransactionCanceledException)) unexpected.push(String(error));
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, c) => client(c)));

    const index = await ddb.send(
      new QueryCommand({
        TableName: table,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': { S: `${pk}-index` } },
        ConsistentRead: true,
      }),
    );
    expect(unexpected).toEqual([]);
    expect(successes).toBeGreaterThan(0);
    // Atomic: the counter moved exactly once per acknowledged transaction, and each
    // transaction's create-only item exists exactly when its update was applied.
    expect(await counter(pk)).toBe(successes);
    expect(index.Items ?? []).toHaveLength(successes);
    const slots = (index.Items ?? []).map((item) => Number(item.sk?.S));
    expect(slots).toEqual(Array.from({ length: successes }, (_, i) => i));
  }, 240_000);

  it(`${CLIENTS} clients × ${ROUNDS} conditional puts (read-modify-write): no lost update`, async () => {
    const pk = 'put';
    await ddb.send(new PutItemCommand({ TableName: table, Item: { ...key(pk, 'head'), v: { N: '0' } } }));
    let successes = 0;
    const client = async () => {
      for (let i = 0; i < ROUNDS; i++) {
        const v = await counter(pk);
        try {
          await ddb.send(
            new PutItemCommand({
              TableName: table,
              Item: { ...key(pk, 'head'), v: { N: String(v + 1) } },
              ConditionExpression: 'v = :o',
              ExpressionAttributeValues: { ':o': { N: String(v) } },
            }),
          );
          successes++;
        } catch (error) {
          if (!(error instanceof ConditionalCheckFailedException)) throw error;
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, () => client()));
    expect(await counter(pk)).toBe(successes);
  }, 240_000);

  it(`exactly one of ${CLIENTS} concurrent create-only puts wins, and the losers see the winner's item`, async () => {
    const pk = 'create';
    const results = await Promise.allSettled(
      Array.from({ length: CLIENTS }, (_, c) =>
        ddb.send(
          new PutItemCommand({
            TableName: table,
            Item: { ...key(pk, 'once'), writer: { N: String(c) } },
            ConditionExpression: 'attribute_not_exists(pk)',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          }),
        ),
      ),
    );
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    const stored = await ddb.send(
      new GetItemCommand({ TableName: table, Key: key(pk, 'once'), ConsistentRead: true }),
    );
    for (const r of results) {
      if (r.status === 'fulfilled') continue;
      expect(r.reason).toBeInstanceOf(ConditionalCheckFailedException);
      expect((r.reason as ConditionalCheckFailedException).Item).toEqual(stored.Item);
    }
  });

  it('a failed condition in a transaction returns the current item (ALL_OLD) and applies nothing', async () => {
    const pk = 'allold';
    await ddb.send(new PutItemCommand({ TableName: table, Item: { ...key(pk, 'head'), v: { N: '7' } } }));
    const attempt = ddb.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          {
            Put: {
              TableName: table,
              Item: { ...key(pk, 'other'), v: { N: '1' } },
            },
          },
          {
            Update: {
              TableName: table,
              Key: key(pk, 'head'),
              UpdateExpression: 'SET v = :n',
              ConditionExpression: 'v = :o',
              ExpressionAttributeValues: { ':n': { N: '6' }, ':o': { N: '5' } },
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
        ],
      }),
    );
    const error = await attempt.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(TransactionCanceledException);
    const reasons = (error as TransactionCanceledException).CancellationReasons ?? [];
    expect(reasons[1]?.Code).toBe('ConditionalCheckFailed');
    expect(reasons[1]?.Item).toEqual({ ...key(pk, 'head'), v: { N: '7' } });
    // All or nothing: the unconditional put of the same transaction was not applied.
    const other = await ddb.send(
      new GetItemCommand({ TableName: table, Key: key(pk, 'other'), ConsistentRead: true }),
    );
    expect(other.Item).toBeUndefined();
    expect(await counter(pk)).toBe(7);
  });

  it('an update conditioned on a value read is linearizable: a read after an ack sees it', async () => {
    const pk = 'linear';
    await ddb.send(new PutItemCommand({ TableName: table, Item: { ...key(pk, 'head'), v: { N: '0' } } }));
    for (let i = 1; i <= 20; i++) {
      await ddb.send(
        new UpdateItemCommand({
          TableName: table,
          Key: key(pk, 'head'),
          UpdateExpression: 'SET v = :n',
          ConditionExpression: 'v = :o',
          ExpressionAttributeValues: { ':n': { N: String(i) }, ':o': { N: String(i - 1) } },
        }),
      );
      const seen = await Promise.all(Array.from({ length: 4 }, () => counter(pk)));
      expect(seen).toEqual([i, i, i, i]);
    }
  });
});
