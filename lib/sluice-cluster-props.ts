import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { InboxBackend } from './inbox-backend.js';
import type { TopicSpec } from './topic-spec.js';

/** Properties of {@link SluiceCluster}. Every one is optional. */
export interface SluiceClusterProps {
  /**
   * What happens to the bucket, the table and the log groups when they leave the stack or
   * the stack is deleted. With `DESTROY` the bucket is emptied first (a custom resource
   * deletes its objects), so nothing is left behind.
   * @default RemovalPolicy.RETAIN: data outlives the stack
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * DynamoDB deletion protection on the table.
   * @default true, unless `removalPolicy` is `DESTROY`
   */
  readonly deletionProtection?: boolean;
  /**
   * How long the functions' logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * CPU architecture of every function; the native modules in the bundles follow it.
   * @default lambda.Architecture.ARM_64 (Graviton: about 20% cheaper per GB-second)
   */
  readonly architecture?: lambda.Architecture;

  /**
   * Memory of the produce function, in MB (CPU and network scale with it).
   * @default 1024
   */
  readonly produceMemorySize?: number;
  /**
   * Memory of the fetch function, in MB. A fetch mostly waits on one S3 GET (≈ 100 ms to first
   * byte), billed per MB: 512 MB bills half of 1,024's for it, and its CPU share still
   * verifies and frames 1 MiB in ≈ 10 ms (`npm run bench -- lambda-time`). Raise it for
   * consumers that need the lowest latency on large fetches.
   * @default 512
   */
  readonly fetchMemorySize?: number;
  /**
   * Memory of the admin function, in MB.
   * @default 256
   */
  readonly adminMemorySize?: number;
  /**
   * Memory of the groups function, in MB.
   * @default 256
   */
  readonly groupsMemorySize?: number;
  /**
   * Memory of the schema registry function, in MB.
   * @default 512
   */
  readonly schemasMemorySize?: number;
  /**
   * Memory of the maintenance function, in MB (compaction rewrites objects in memory).
   * @default 1024
   */
  readonly maintenanceMemorySize?: number;
  /**
   * Memory of the acks=1 inbox batcher, in MB (a batch of up to `inboxBatchSize` messages,
   * at most 6 MB, is encoded in memory). Its time is mostly the wait on one S3 PUT and one
   * transaction, billed per MB: 512 MB bills half of 1,024's for a batch, and its CPU share
   * still encodes a 6 MB batch in well under a second (`npm run bench -- lambda-time`).
   * @default 512
   */
  readonly batcherMemorySize?: number;

  /**
   * The longest a fetch may wait for data (SLUICE_FETCH_MAX_WAIT_MS; a request's
   * `maxWaitMs` above it is cut to it). An idle long poll holds the function, billed, and
   * a unit of concurrency for its whole wait: the SDK instead polls without waiting and
   * backs off while a partition stays empty.
   * @default Duration.millis(0): fetches answer at once
   */
  readonly fetchMaxWait?: Duration;
  /**
   * Concurrency reserved for, and capping, each HTTP function (produce, fetch, admin,
   * groups, schemas) whose own `<role>ReservedConcurrency` is not set. Capped, a runaway
   * client or a retry storm is throttled (the Function URL answers 429, which the SDK
   * retries with backoff) instead of scaling cost and the account's concurrency without
   * bound, and fewer writers contend for one partition's head (`npm run bench --
   * contention`: 64 concurrent writers commit fewer requests a second than 4).
   *
   * A reservation comes out of the account's concurrency, which must keep 100 unreserved:
   * the default (5 × 20 = 100) needs an account quota of at least 200 (most accounts have
   * 1,000). An account below that (new accounts may have 10) fails the deployment with
   * "Specified ReservedConcurrentExecutions for function decreases account's
   * UnreservedConcurrentExecution below its minimum value of [100]": use `'none'` there
   * (`npx cdk deploy -c reservedConcurrency=none`), or ask for a quota increase.
   * Maintenance is capped by `maintenanceMaxConcurrency`, the subscriptions trigger by its
   * stream's shards.
   * @default 20
   */
  readonly reservedConcurrency?: number | 'none';
  /**
   * Concurrency reserved for (and capping) the produce function.
   * @default `reservedConcurrency`
   */
  readonly produceReservedConcurrency?: number;
  /**
   * Concurrency reserved for (and capping) the fetch function.
   * @default `reservedConcurrency`
   */
  readonly fetchReservedConcurrency?: number;
  /**
   * Concurrency reserved for (and capping) the admin function.
   * @default `reservedConcurrency`
   */
  readonly adminReservedConcurrency?: number;
  /**
   * Concurrency reserved for (and capping) the groups function.
   * @default `reservedConcurrency`
   */
  readonly groupsReservedConcurrency?: number;
  /**
   * Concurrency reserved for (and capping) the schema registry function.
   * @default `reservedConcurrency`
   */
  readonly schemasReservedConcurrency?: number;
  /**
   * Concurrency reserved for (and capping) the maintenance function.
   * @default none: the function shares the account's unreserved concurrency
   */
  readonly maintenanceReservedConcurrency?: number;
  /**
   * How many maintenance invocations the SQS event source runs at once (2–1000).
   * @default 5
   */
  readonly maintenanceMaxConcurrency?: number;
  /**
   * What holds acks=1 (and acks=0) events until the batcher commits them (docs/design.md,
   * "acks=1: the inbox"):
   * - `'sqs'`: an SQS standard queue. Nothing to pay at rest, $0.40 per million sends: the
   *   cheapest up to tens of millions of events a month.
   * - `'kinesis'`: a shared provisioned Kinesis Data Stream of `inboxShards` shards. About
   *   $11 a month per shard at rest (shard-hours) plus $0.014 per million 25 KB PUT payload
   *   units (us-east-1): cheaper than SQS's $0.40 per million sends from about 25 million
   *   events a month, sustained. The
   *   batcher reads each shard in order (one batch per shard at a time), with unlimited
   *   retries; producers need `kinesis:PutRecords` (`grantProduce`) and no KMS permission
   *   (encrypted with the AWS-managed `aws/kinesis` key, whose KMS requests Kinesis makes and
   *   bills about every 5 minutes per distinct producer credential: docs/design.md §12).
   * @default 'sqs'
   */
  readonly inboxBackend?: InboxBackend;
  /**
   * Shards of the Kinesis inbox (`inboxBackend: 'kinesis'` only). A shard takes up to 1,000
   * records or 1 MB a second in (a PutRecords beyond that is throttled, and the SDK retries
   * it), is read by one batcher invocation at a time, and costs about $0.015 an hour
   * (us-east-1). Raise it for throughput; CloudFormation reshards in place.
   * @default 1
   */
  readonly inboxShards?: number;
  /**
   * How long the Kinesis inbox keeps a record the batcher has not committed
   * (`inboxBackend: 'kinesis'` only): 24 hours to 4 days. 24 hours costs nothing extra; more
   * is Kinesis extended retention, billed per shard-hour (about $0.02 per shard-hour in
   * us-east-1, more than the shard itself). At most 4 days, as the SQS inbox: the batcher's
   * ledger remembers committed events for 5 days, so a record redelivered within retention is always
   * recognised as a duplicate. Past it, an uncommitted record is gone: the iterator-age alarm
   * fires long before (`inboxAgeAlarmThreshold`), and a discarded batch is reported to the
   * inbox's dead-letter queue.
   * @default Duration.hours(24)
   */
  readonly inboxRetention?: Duration;
  /**
   * Messages the acks=1 inbox's event source mapping hands the batcher at most (1–10,000);
   * each batch is one object and one transaction per chunk of partitions.
   * @default 10000
   */
  readonly inboxBatchSize?: number;
  /**
   * How long the event source mapping gathers inbox messages before invoking the batcher
   * (0–300 s): the bound on an acks=1 event's delay at low volume, and the lever on its cost
   * (longer windows, bigger batches, fewer objects and transactions). With the SQS inbox, at
   * least 1 s when `inboxBatchSize` is above 10 (an SQS event source's rule).
   *
   * The default depends on `inboxBackend`: 1 s for SQS (an event visible ≤ 2 s after its ack
   * at low volume); 2 s for Kinesis, the backend for sustained volume, whose mapping reads
   * each shard once a second anyway (visible ≤ 3 s): at 100 M events a month it halves the
   * commits, $29 a month instead of $45, under a Kinesis on-demand stream's $37
   * (`npm run bench -- cost`).
   * @default Duration.seconds(1) with SQS, Duration.seconds(2) with Kinesis
   */
  readonly inboxBatchWindow?: Duration;
  /**
   * Batcher invocations the SQS inbox's event source mapping runs at once (2–1000). Not for
   * the Kinesis inbox, read by one invocation per shard (`inboxShards`).
   * @default 5
   */
  readonly inboxMaxConcurrency?: number;
  /**
   * The inbox-age alarm's threshold: the oldest acks=1 message waiting this long means the
   * batcher is behind (SQS: the queue's `ApproximateAgeOfOldestMessage`; Kinesis: the
   * batcher's `IteratorAge`). Keep it below the batcher's order horizon (5 minutes), past
   * which a message's predecessor is taken as committed.
   * @default Duration.minutes(2)
   */
  readonly inboxAgeAlarmThreshold?: Duration;
  /**
   * How often maintenance is planned: each tick invokes the maintenance function, which
   * sends one SQS message per task (partition with work, deleted topic, orphan GC).
   * @default events.Schedule.rate(Duration.minutes(1))
   */
  readonly maintenanceSchedule?: events.Schedule;
  /**
   * How long one maintenance invocation may run. The queue's visibility timeout is six
   * times this, as AWS advises for SQS event sources.
   * @default Duration.minutes(2)
   */
  readonly maintenanceTimeout?: Duration;

  /**
   * An existing bucket for the record batches, instead of a new one. Sluice writes under
   * `data/` and owns retention there: give it no lifecycle expiry on that prefix.
   * @default a new bucket: private, TLS only, encrypted, no expiry
   */
  readonly bucket?: s3.IBucket;
  /**
   * An existing DynamoDB table, instead of a new one: partition key `pk` (String), sort key
   * `sk` (String), TTL attribute `ttl`.
   * @default a new on-demand table with point-in-time recovery
   */
  readonly table?: dynamodb.ITable;
  /**
   * A customer-managed KMS key for the new bucket and table. With an existing bucket or
   * table, the key they use (the functions are granted its use).
   * @default SSE-S3 for the bucket, an AWS-owned key for the table (both free)
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Where the new bucket sends S3 server access logs.
   * @default no server access logs
   */
  readonly accessLogsBucket?: s3.IBucket;

  /**
   * Topics created when the stack deploys (and grown when their partitions are raised).
   * Removing one from the list does not delete it.
   * @default none
   */
  readonly topics?: readonly TopicSpec[];
  /**
   * The cluster id reported by `GET /v1/metadata` (SLUICE_CLUSTER_ID).
   * @default the stack's UUID (from its stack id) and a hash of this construct's path
   */
  readonly clusterId?: string;
  /**
   * POWERTOOLS_SERVICE_NAME of every function: the `service` field of their logs and the
   * `service` dimension of their metrics.
   * @default `<stack name>-<construct id>`
   */
  readonly serviceName?: string;
  /**
   * Create a CloudWatch dashboard ($3 a month beyond an account's first three).
   * @default true
   */
  readonly dashboard?: boolean;
  /**
   * Create the CloudWatch alarms (function errors and throttles, dead-lettered maintenance
   * work, the acks=1 inbox's age and dead letters; $0.10 a month each).
   * @default true
   */
  readonly alarms?: boolean;
  /**
   * Actions run when an alarm fires, e.g. an SNS topic action.
   * @default none: alarms show on the dashboard and in the console only
   */
  readonly alarmActions?: readonly cloudwatch.IAlarmAction[];
  /**
   * An SNS topic every alarm notifies (in addition to `alarmActions`): subscribe a
   * person, a pager or a chat integration to it.
   * @example
   * new SluiceCluster(stack, 'Cluster', { alarmTopic: new sns.Topic(stack, 'Ops') });
   * @default none
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * X-Ray tracing of the functions.
   * @default lambda.Tracing.DISABLED (X-Ray is billed per trace)
   */
  readonly tracing?: lambda.Tracing;
  /**
   * Directory of TypeScript handler files `produce.ts`, `fetch.ts`, `admin.ts`, `groups.ts`,
   * `maintenance.ts`, each exporting `handler`, bundled at synth with esbuild (which must then
   * be installed). For tests and custom handlers.
   * @default Sluice's own handlers: the bundles prebuilt in the package (from the sources in this repository)
   */
  readonly entryDir?: string;
  /**
   * Subscriptions created at run time (`POST /v1/subscriptions`, `sluice subscriptions
   * create`, `admin.createSubscription`): deploys the subscriptions trigger even when the
   * stack declares no {@link SluiceCluster.addSubscription}, and says which functions and
   * queues such subscriptions may name. See {@link SluiceSubscriptionsOptions}.
   * @default the trigger exists only once `addSubscription` is called
   */
  readonly subscriptions?: SluiceSubscriptionsOptions;
}

/**
 * What the subscriptions trigger may reach for subscriptions created at run time, beyond the
 * targets and queues of `addSubscription` (which it is always granted).
 */
export interface SluiceSubscriptionsOptions {
  /**
   * Functions a runtime subscription may name as `target` (granted `lambda:InvokeFunction`).
   * @default none
   */
  readonly targets?: readonly lambda.IFunction[];
  /**
   * Queues a runtime subscription may name as `onFailure` (granted `sqs:SendMessage`).
   * @default none
   */
  readonly failureQueues?: readonly sqs.IQueue[];
  /**
   * A tag key: the trigger may also invoke any function, and send to any queue, of the
   * stack's account and region tagged `<targetTagKey>` = the cluster's `serviceName`
   * (attribute-based access control, so a function deployed later becomes a target by being
   * tagged, with no redeploy of the cluster). `false` turns it off.
   * @example
   * // aws lambda tag-resource --resource <function ARN> --tags sluice:subscriptions=<serviceName>
   * @default 'sluice:subscriptions'
   */
  readonly targetTagKey?: string | false;
}
