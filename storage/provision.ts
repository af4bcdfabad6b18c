/**
 * Creates the bucket and the table on an emulator (moto, LocalStack). Never called against
 * real AWS: there the CDK stack owns both. The table layout is the one of `limits.ts`.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { errorName } from './aws-errors.js';
import { ATTR } from './limits.js';

/** Creates `bucket` unless it exists. */
export async function ensureBucket(client: S3Client, bucket: string): Promise<void> {
  try {
    await client.send(new HeadBucketCommand({ Bucket: bucket }));
    return;
  } catch (error) {
    if (errorName(error) !== 'NotFound' && errorName(error) !== 'NoSuchBucket') throw error;
  }
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } catch (error) {
    const name = errorName(error);
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw error;
  }
}

/** Creates `table` (pk/sk strings, on-demand, TTL on `ttl`) unless it exists; waits until active. */
export async function ensureTable(client: DynamoDBClient, table: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: table,
        AttributeDefinitions: [
          { AttributeName: ATTR.pk, AttributeType: 'S' },
          { AttributeName: ATTR.sk, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: ATTR.pk, KeyType: 'HASH' },
          { AttributeName: ATTR.sk, KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (error) {
    if (errorName(error) !== 'ResourceInUseException') throw error;
  }
  for (let i = 0; i < 100; i++) {
    const res = await client.send(new DescribeTableCommand({ TableName: table }));
    if (res.Table?.TableStatus === 'ACTIVE') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  try {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: table,
        TimeToLiveSpecification: { AttributeName: ATTR.ttl, Enabled: true },
      }),
    );
  } catch (error) {
    // Already enabled (LocalStack/DynamoDB answer ValidationException then).
    if (errorName(error) !== 'ValidationException') throw error;
  }
}
