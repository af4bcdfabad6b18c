/**
 * The ObjectStore on Amazon S3 (or an emulator through `endpoint`).
 *
 * Create-only puts use `If-None-Match: *`: S3 answers 412 when the key exists and 409
 * (ConditionalRequestConflict) while a concurrent conditional write of the key is in
 * flight; both mean someone else owns the key. A 412 can also be the SDK's own retry of a
 * put whose first attempt succeeded, so every put carries a random token in its metadata
 * and a 412 on an object bearing our token counts as success.
 */
import { randomBytes } from 'node:crypto';
import {
  DeleteObjectsCommand,
  type DeleteObjectsCommandOutput,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  PutObjectCommand,
  S3Client,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import { UnavailableError } from '../core/errors.js';
import {
  type ByteRange,
  type ListPage,
  ObjectExistsError,
  type ObjectInfo,
  ObjectNotFoundError,
  type ObjectStore,
} from '../core/ports.js';
import { errorName, httpStatus, mapAwsError } from './aws-errors.js';
import { checkByteRange, checkObjectKey, parseListOptions } from './object-args.js';

/** S3 refuses more keys per DeleteObjects request. */
const DELETE_CHUNK = 1000;
const TOKEN_META = 'sluice-token';

export interface S3ObjectStoreOptions {
  bucket: string;
  /** A ready client; when absent one is made from `region`/`endpoint`/`credentials`. */
  client?: S3Client;
  region?: string;
  /** An emulator's URL (moto, LocalStack): switches to path-style addressing. */
  endpoint?: string;
  credentials?: S3ClientConfig['credentials'];
}

/** Builds an S3 client; path-style addressing whenever an endpoint is given. */
export function makeS3Client(options: Omit<S3ObjectStoreOptions, 'bucket' | 'client'>): S3Client {
  const config: S3ClientConfig = { region: options.region ?? process.env.AWS_REGION ?? 'us-east-1' };
  if (options.endpoint) {
    config.endpoint = options.endpoint;
    config.forcePathStyle = true;
  }
  if (options.credentials) config.credentials = options.credentials;
  return new S3Client(config);
}

function isNotFound(error: unknown): boolean {
  const name = errorName(error);
  // A missing bucket is a 404 too: a deployment fault, never a missing object.
  if (name === 'NoSuchBucket') return false;
  return name === 'NoSuchKey' || name === 'NotFound' || httpStatus(error) === 404;
}

/**
 * An ObjectStore over one S3 bucket.
 *
 * @example
 * const objects = new S3ObjectStore({ bucket: 'my-sluice-data' });
 * await objects.put('data/abc.seg', bytes);
 */
export class S3ObjectStore implements ObjectStore {
  readonly client: S3Client;
  readonly bucket: string;

  constructor(options: S3ObjectStoreOptions) {
    this.bucket = options.bucket;
    this.client = options.client ?? makeS3Client(options);
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    checkObjectKey(key);
    const token = randomBytes(16).toString('base64url');
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentLength: body.length,
          IfNoneMatch: '*',
          Metadata: { [TOKEN_META]: token },
        }),
      );
    } catch (error) {
      const status = httpStatus(error);
      if (status === 409 || errorName(error) === 'ConditionalRequestConflict')
        throw new ObjectExistsError(key);
      if (status === 412 || errorName(error) === 'PreconditionFailed') {
        if (await this.carriesToken(key, token)) return;
        throw new ObjectExistsError(key);
      }
      throw mapAwsError(error, 'PutObject', `bucket ${this.bucket}`);
    }
  }

  private async carriesToken(key: string, token: string): Promise<boolean> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return head.Metadata?.[TOKEN_META] === token;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw mapAwsError(error, 'HeadObject', `bucket ${this.bucket}`);
    }
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array> {
    checkObjectKey(key);
    checkByteRange(range);
    // HTTP cannot express an empty range: check existence only.
    if (range && range.end === range.start) {
      await this.head(key);
      return new Uint8Array(0);
    }
    try {
      const res = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Range: range ? `bytes=${range.start}-${range.end - 1}` : undefined,
        }),
      );
      if (!res.Body) return new Uint8Array(0);
      return await res.Body.transformToByteArray();
    } catch (error) {
      if (isNotFound(error)) throw new ObjectNotFoundError(key);
      // 416: the range starts at or past the end; the object exists.
      if (httpStatus(error) === 416 || errorName(error) === 'InvalidRange') return new Uint8Array(0);
      throw mapAwsError(error, 'GetObject', `bucket ${this.bucket}`);
    }
  }

  private async head(key: string): Promise<void> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      if (isNotFound(error)) throw new ObjectNotFoundError(key);
      throw mapAwsError(error, 'HeadObject', `bucket ${this.bucket}`);
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) checkObjectKey(key);
    const unique = [...new Set(keys)];
    for (let i = 0; i < unique.length; i += DELETE_CHUNK) {
      const chunk = unique.slice(i, i + DELETE_CHUNK);
      let res: DeleteObjectsCommandOutput;
      try {
        res = await this.client.send(
          new DeleteObjectsCommand({
            Bucket: this.bucket,
            Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true },
          }),
        );
      } catch (error) {
        throw mapAwsError(error, 'DeleteObjects', `bucket ${this.bucket}`);
      }
      const failed = (res.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (failed.length > 0) {
        throw new UnavailableError(
          `DeleteObjects failed for ${failed.length} keys: ${failed
            .slice(0, 3)
            .map((e) => `${e.Key} (${e.Code})`)
            .join(', ')}`,
        );
      }
    }
  }

  async list(prefix: string, options?: { after?: string; limit?: number }): Promise<ListPage> {
    const limit = parseListOptions(prefix, options);
    const objects: ObjectInfo[] = [];
    let continuation: string | undefined;
    let truncated = false;
    // S3 may return a short (even empty) page that is truncated: follow its token until
    // the page has something or the listing ends, so `next` is always a plain key.
    do {
      let res: ListObjectsV2CommandOutput;
      try {
        res = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix || undefined,
            MaxKeys: limit - objects.length,
            ...(continuation ? { ContinuationToken: continuation } : { StartAfter: options?.after }),
          }),
        );
      } catch (error) {
        throw mapAwsError(error, 'ListObjectsV2', `bucket ${this.bucket}`);
      }
      for (const o of res.Contents ?? []) {
        if (o.Key === undefined) continue;
        objects.push({ key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified?.getTime() ?? 0 });
      }
      truncated = res.IsTruncated === true;
      continuation = res.NextContinuationToken;
    } while (truncated && continuation && objects.length === 0);
    const page: ListPage = { objects };
    if (truncated && objects.length > 0) page.next = objects[objects.length - 1]!.key;
    return page;
  }
}
