/**
 * What each function may do to the data, and nothing more. Only maintenance deletes objects
 * (retention, compaction, orphan GC); the read path never writes; admin and groups never
 * touch objects.
 *
 * | function    | S3 objects under data/ | list bucket | DynamoDB items             |
 * |-------------|------------------------|-------------|----------------------------|
 * | produce     | put, get (head)        |             | read, put, update          |
 * | fetch       | get                    | yes         | read                       |
 * | admin       |                        |             | read, put, update, delete  |
 * | groups      |                        |             | read, put, update, delete  |
 * | maintenance | get, put, delete       | yes         | read, put, update, delete  |
 * | subscriptions | get                  | yes         | read, put, update          |
 *
 * Why produce may read: a create-only PUT (`If-None-Match: *`) that the SDK retried after a
 * lost response fails with 412, and the S3 adapter then HEADs the object (s3:GetObject) to
 * see whether the object is its own. Why fetch and maintenance may list: without
 * s3:ListBucket, S3 answers a missing object with 403 instead of 404, and a read racing
 * retention must see "not found", not "access denied". (An `s3:prefix` condition would
 * not do: a GET carries no prefix, so the 404 rule would not apply.)
 *
 * The DynamoDB actions are those storage/dynamodb.ts uses: GetItem, BatchGetItem, Query,
 * UpdateItem, DeleteItem and TransactWriteItems, which has no action of its own (IAM checks
 * each item's: PutItem, UpdateItem, DeleteItem, ConditionCheckItem). No Scan, no
 * BatchWriteItem, no table-level action.
 */
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { objectKeys } from '../core/keys.js';
import { acknowledge, wildcardActionFinding, wildcardResourceFinding } from './nag.js';

export type FunctionRole = 'produce' | 'fetch' | 'admin' | 'groups' | 'schemas' | 'maintenance';
/** Roles of functions created on demand (the subscriptions trigger, with the first subscription). */
export type OptionalFunctionRole = 'subscriptions' | 'batcher';

const ITEM_READ = ['dynamodb:GetItem', 'dynamodb:BatchGetItem', 'dynamodb:Query'];
const ITEM_WRITE = ['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'];
const ITEM_DELETE = ['dynamodb:DeleteItem'];

interface Access {
  objects: string[];
  listBucket: boolean;
  items: string[];
}

export const DATA_ACCESS: Readonly<Record<FunctionRole | OptionalFunctionRole, Access>> = {
  // DeleteItem: a combined commit deletes the write intents it commits (core/intents.ts).
  produce: {
    objects: ['s3:GetObject', 's3:PutObject'],
    listBucket: false,
    items: [...ITEM_READ, ...ITEM_WRITE, ...ITEM_DELETE],
  },
  fetch: { objects: ['s3:GetObject'], listBucket: true, items: ITEM_READ },
  admin: { objects: [], listBucket: false, items: [...ITEM_READ, ...ITEM_WRITE, ...ITEM_DELETE] },
  groups: { objects: [], listBucket: false, items: [...ITEM_READ, ...ITEM_WRITE, ...ITEM_DELETE] },
  // The schema registry keeps its items in the table (core/schemas/keys.ts), no objects.
  schemas: { objects: [], listBucket: false, items: [...ITEM_READ, ...ITEM_WRITE, ...ITEM_DELETE] },
  maintenance: {
    objects: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
    listBucket: true,
    items: [...ITEM_READ, ...ITEM_WRITE, ...ITEM_DELETE],
  },
  // Appends what the inbox held (objects, heads, index, ledger) like produce.
  batcher: {
    objects: ['s3:GetObject', 's3:PutObject'],
    listBucket: false,
    items: [...ITEM_READ, ...ITEM_WRITE],
  },
  // Reads records like fetch; writes only leases and committed offsets.
  subscriptions: { objects: ['s3:GetObject'], listBucket: true, items: [...ITEM_READ, ...ITEM_WRITE] },
};

export interface DataResources {
  bucketArn: string;
  tableArn: string;
  bucketKey?: kms.IKey;
  tableKey?: kms.IKey;
}

/** Adds to `role` the statements of {@link DATA_ACCESS} for `fn`, and the key use they imply. */
export function grantDataAccess(
  role: iam.IRole,
  fn: FunctionRole | OptionalFunctionRole,
  data: DataResources,
): void {
  const access = DATA_ACCESS[fn];
  const statements: iam.PolicyStatement[] = [];
  if (access.objects.length > 0) {
    const objects = `${data.bucketArn}/${objectKeys.dataPrefix}*`;
    statements.push(new iam.PolicyStatement({ actions: access.objects, resources: [objects] }));
    acknowledge(
      role,
      wildcardResourceFinding(role, objects),
      `Segment objects get random names at run time (${objectKeys.dataPrefix}<id>.seg); the grant is limited to that prefix and to ${access.objects.join(', ')}.`,
    );
  }
  if (access.listBucket) {
    statements.push(new iam.PolicyStatement({ actions: ['s3:ListBucket'], resources: [data.bucketArn] }));
  }
  statements.push(new iam.PolicyStatement({ actions: access.items, resources: [data.tableArn] }));
  for (const statement of statements) role.addToPrincipalPolicy(statement);

  const writesObjects = access.objects.includes('s3:PutObject');
  const readsObjects = access.objects.includes('s3:GetObject');
  if (data.bucketKey && (writesObjects || readsObjects)) {
    // SSE-KMS: a PUT asks KMS for a data key, a GET asks it to decrypt one.
    data.bucketKey.grant(
      role,
      ...(readsObjects ? ['kms:Decrypt'] : []),
      ...(writesObjects ? ['kms:GenerateDataKey'] : []),
    );
  }
  if (data.tableKey) {
    const writesItems = access.items.includes('dynamodb:PutItem');
    data.tableKey.grant(
      role,
      'kms:Decrypt',
      'kms:DescribeKey',
      ...(writesItems ? ['kms:Encrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*'] : []),
    );
    if (writesItems) {
      const reason =
        'The actions DynamoDB needs on a customer-managed table key (as aws-cdk-lib grants them), on that one key only.';
      acknowledge(role, wildcardActionFinding('kms:ReEncrypt*'), reason);
      acknowledge(role, wildcardActionFinding('kms:GenerateDataKey*'), reason);
    }
  }
}
