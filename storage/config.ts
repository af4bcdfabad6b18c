/**
 * Chooses the stores from the environment (DESIGN.md §8):
 *
 * | variable            | meaning                                                       |
 * |---------------------|---------------------------------------------------------------|
 * | `SLUICE_STORAGE`    | `local` (default): files + SQLite; `aws`: S3 + DynamoDB; `memory` |
 * | `SLUICE_DATA_DIR`   | local only; default `./.sluice` (`objects/`, `meta.sqlite`)    |
 * | `SLUICE_BUCKET`     | aws only; the S3 bucket                                        |
 * | `SLUICE_TABLE`      | aws only; the DynamoDB table                                   |
 * | `AWS_ENDPOINT_URL`  | aws only; an emulator (moto, LocalStack): bucket and table are created on first use |
 * | `AWS_REGION`        | aws only; default `us-east-1` with an emulator                 |
 *
 * Adapters are imported lazily: a Lambda bundle never loads better-sqlite3, and local
 * mode never loads the AWS SDK.
 */
import { InvalidRequestError } from '../core/errors.js';
import type { MetaStore, ObjectStore } from '../core/ports.js';
import { awsClientConfig, isLocalEndpoint, LOCAL_EMULATOR_CREDENTIALS } from './aws-client-config.js';

export interface Stores {
  objects: ObjectStore;
  meta: MetaStore;
  /** A human-readable account of where data lives, for logs and the CLI. */
  describe: string;
  /** Releases files and connections. */
  close(): Promise<void>;
}

/**
 * @example
 * const { objects, meta, describe, close } = await storesFromEnv();
 * console.log(`storage: ${describe}`);
 */
export async function storesFromEnv(env: NodeJS.ProcessEnv = process.env): Promise<Stores> {
  const kind = env.SLUICE_STORAGE || 'local';
  switch (kind) {
    case 'memory': {
      const { MemoryMetaStore, MemoryObjectStore } = await import('./memory.js');
      return {
        objects: new MemoryObjectStore(),
        meta: new MemoryMetaStore(),
        describe: 'memory (lost on exit)',
        close: async () => {},
      };
    }
    case 'local': {
      const { mkdir } = await import('node:fs/promises');
      const { join, resolve } = await import('node:path');
      const dir = resolve(env.SLUICE_DATA_DIR || './.sluice');
      await mkdir(join(dir, 'objects'), { recursive: true });
      const { FsObjectStore } = await import('./fs.js');
      const { SqliteMetaStore } = await import('./sqlite.js');
      const meta = new SqliteMetaStore(join(dir, 'meta.sqlite'));
      return {
        objects: new FsObjectStore(join(dir, 'objects')),
        meta,
        describe: `local: objects in ${join(dir, 'objects')}, metadata in ${join(dir, 'meta.sqlite')}`,
        close: async () => meta.close(),
      };
    }
    case 'aws': {
      const bucket = env.SLUICE_BUCKET;
      const table = env.SLUICE_TABLE;
      if (!bucket) throw new InvalidRequestError('SLUICE_STORAGE=aws needs SLUICE_BUCKET', 'SLUICE_BUCKET');
      if (!table) throw new InvalidRequestError('SLUICE_STORAGE=aws needs SLUICE_TABLE', 'SLUICE_TABLE');
      const { endpoint, region, credentials } = awsClientConfig(env);
      const { S3ObjectStore, makeS3Client } = await import('./s3.js');
      const { DynamoMetaStore, makeDynamoClient } = await import('./dynamodb.js');
      const s3 = makeS3Client({ endpoint, region, credentials });
      const dynamo = makeDynamoClient({ endpoint, region, credentials });
      // Only on an emulator: in AWS the CDK stack owns the bucket and the table.
      if (endpoint) {
        const { ensureBucket, ensureTable } = await import('./provision.js');
        await Promise.all([ensureBucket(s3, bucket), ensureTable(dynamo, table)]);
      }
      return {
        objects: new S3ObjectStore({ bucket, client: s3 }),
        meta: new DynamoMetaStore({ table, client: dynamo }),
        describe: `aws: s3://${bucket}, dynamodb table ${table}${endpoint ? ` at ${endpoint}` : ''}`,
        close: async () => {
          s3.destroy();
          dynamo.destroy();
        },
      };
    }
    default:
      throw new InvalidRequestError(
        `SLUICE_STORAGE must be local, aws or memory (got '${kind}')`,
        'SLUICE_STORAGE',
      );
  }
}

export { isLocalEndpoint, LOCAL_EMULATOR_CREDENTIALS };
