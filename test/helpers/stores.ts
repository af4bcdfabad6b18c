/**
 * Fresh, isolated stores for tests, one kind per adapter pair:
 *
 * - `memory`: MemoryObjectStore + MemoryMetaStore
 * - `fs` and `sqlite`: the local-mode pair, FsObjectStore + SqliteMetaStore, in a new temp dir
 * - `aws`: S3ObjectStore + DynamoMetaStore on the emulator of the global setup
 *   (`test/setup/moto.ts`), with a bucket and a table of their own, created here
 *
 * @example
 * const stores = await makeStores('aws');
 * try { await stores.meta.get({ pk: 'a', sk: 'b' }); } finally { await stores.cleanup(); }
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inject } from 'vitest';
import type { MetaStore, ObjectStore } from '../../core/ports.js';

export type StoreKind = 'memory' | 'fs' | 'sqlite' | 'aws';

export interface TestStores {
  kind: StoreKind;
  objects: ObjectStore;
  meta: MetaStore;
  /** Where the stores live: a temp dir, `s3://bucket + table`, or `memory`. */
  describe: string;
  /** Closes clients and removes what was created. */
  cleanup(): Promise<void>;
}

export interface MakeStoresOptions {
  /** Overrides the endpoint of the global setup (aws only). */
  endpoint?: string;
}

/** Fake credentials: emulators check a signature exists, not whose it is. */
export const EMULATOR_CREDENTIALS = { accessKeyId: 'testing', secretAccessKey: 'testing' };

/**
 * The endpoint of the S3/DynamoDB emulator. Throws (never skips) with instructions when
 * the global setup could not start one.
 */
export function awsEndpoint(): string {
  const endpoint = inject('awsEndpoint');
  if (!endpoint)
    throw new Error(inject('awsEndpointError') || 'no AWS endpoint: is test/setup/moto.ts the global setup?');
  return endpoint;
}

export async function makeStores(kind: StoreKind, opts: MakeStoresOptions = {}): Promise<TestStores> {
  switch (kind) {
    case 'memory': {
      const { MemoryMetaStore, MemoryObjectStore } = await import('../../storage/memory.js');
      return {
        kind,
        objects: new MemoryObjectStore(),
        meta: new MemoryMetaStore(),
        describe: 'memory',
        cleanup: async () => {},
      };
    }
    case 'fs':
    case 'sqlite': {
      const { FsObjectStore } = await import('../../storage/fs.js');
      const { SqliteMetaStore } = await import('../../storage/sqlite.js');
      const dir = await mkdtemp(join(tmpdir(), 'sluice-test-'));
      const meta = new SqliteMetaStore(join(dir, 'meta.sqlite'));
      return {
        kind,
        objects: new FsObjectStore(join(dir, 'objects')),
        meta,
        describe: dir,
        cleanup: async () => {
          meta.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
    case 'aws': {
      const endpoint = opts.endpoint ?? awsEndpoint();
      const { S3ObjectStore, makeS3Client } = await import('../../storage/s3.js');
      const { DynamoMetaStore, makeDynamoClient } = await import('../../storage/dynamodb.js');
      const { ensureBucket, ensureTable } = await import('../../storage/provision.js');
      const { DeleteTableCommand } = await import('@aws-sdk/client-dynamodb');
      const id = randomBytes(6).toString('hex');
      const bucket = `sluice-test-${id}`;
      const table = `sluice-test-${id}`;
      const clientOptions = { endpoint, region: 'us-east-1', credentials: EMULATOR_CREDENTIALS };
      const s3 = makeS3Client(clientOptions);
      const dynamo = makeDynamoClient(clientOptions);
      await Promise.all([ensureBucket(s3, bucket), ensureTable(dynamo, table)]);
      return {
        kind,
        objects: new S3ObjectStore({ bucket, client: s3 }),
        meta: new DynamoMetaStore({ table, client: dynamo }),
        describe: `s3://${bucket} + dynamodb:${table} at ${endpoint}`,
        cleanup: async () => {
          await dynamo.send(new DeleteTableCommand({ TableName: table })).catch(() => undefined);
          s3.destroy();
          dynamo.destroy();
        },
      };
    }
  }
}
