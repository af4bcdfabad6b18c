/**
 * SluiceCluster: a whole Sluice deployment as one construct. S3 holds record batches,
 * DynamoDB holds everything agreed on, Lambda functions serve the API and the background
 * work, an EventBridge schedule feeds maintenance through SQS, an inbox (an SQS queue or a
 * Kinesis stream) takes acks=1 sends and feeds the batcher, and CloudWatch watches it all.
 * See docs/design.md §1–§7, §12 and docs/deploy.md.
 */
import { join } from 'node:path';
import { Annotations, ArnFormat, Aws, Duration, Fn, Names, RemovalPolicy, Stack } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as destinations from 'aws-cdk-lib/aws-lambda-destinations';
import { KinesisEventSource, SqsDlq, SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import type { Construct } from 'constructs';
import { INBOX_MAX_RECEIVE_COUNT, INBOX_ORDER_HORIZON_MS } from '../core/inbox/queue.js';
import { TRIGGER_PATTERNS } from '../core/subscriptions/trigger-patterns.js';
import { type FunctionRole, grantDataAccess } from './data-access.js';
import { DeployTimeTopics } from './deploy-time-topics.js';
import {
  defaultInboxBatchWindow,
  type InboxBackend,
  type InboxOptions,
  InvalidInboxOptionsError,
  inboxOptions,
  KINESIS_INBOX_PUT_ACTIONS,
} from './inbox-backend.js';
import { SluiceMonitoring } from './monitoring.js';
import { acknowledge, wildcardResourceFinding } from './nag.js';
import { reservedConcurrencyCap } from './reserved-concurrency.js';
import type { SluiceClusterProps, SluiceSubscriptionsOptions } from './sluice-cluster-props.js';
import {
  type ISluiceCluster,
  type SluiceClusterAttributes,
  SluiceClusterBase,
} from './sluice-cluster-ref.js';
import { FUNCTION_TIMEOUTS, SluiceFunction } from './sluice-function.js';
import {
  SluiceSubscription,
  type SluiceSubscriptionProps,
  type SluiceSubscriptionRuntime,
} from './sluice-subscription.js';
import { validateTopicSpecs } from './topic-spec.js';

/** The functions behind a Function URL, in the order of the endpoints document. */
export const API_FUNCTIONS = ['produce', 'fetch', 'admin', 'groups', 'schemas'] as const;
export type ApiFunction = (typeof API_FUNCTIONS)[number];

/** The DynamoDB layout every Sluice table has (core/keys.ts). */
export const TABLE_SCHEMA = { partitionKey: 'pk', sortKey: 'sk', ttlAttribute: 'ttl' } as const;

/**
 * A Sluice cluster: bucket, table, functions with IAM-authenticated Function URLs,
 * scheduled maintenance, dashboard and alarms.
 *
 * @example
 * const cluster = new SluiceCluster(stack, 'Cluster', {
 *   topics: [{ name: 'orders', partitions: 6 }],
 * });
 * cluster.grantProduce(ordersServiceRole);
 * cluster.grantConsume(billingServiceRole);
 * new CfnOutput(stack, 'Bootstrap', { value: cluster.bootstrapUrl });
 */
export class SluiceCluster extends SluiceClusterBase {
  readonly bucket: s3.IBucket;
  readonly table: dynamodb.ITable;
  /** SLUICE_CLUSTER_ID of every function (may be a deploy-time token). */
  readonly clusterId: string;
  /** POWERTOOLS_SERVICE_NAME of every function: the `service` dimension of the metrics. */
  readonly serviceName: string;
  readonly produceFunction: lambda.Function;
  readonly fetchFunction: lambda.Function;
  readonly adminFunction: lambda.Function;
  readonly groupsFunction: lambda.Function;
  /** The Confluent-compatible schema registry (its API under `/schemas` of its URL). */
  readonly schemasFunction: lambda.Function;
  readonly maintenanceFunction: lambda.Function;
  /** Commits what the acks=1 inbox holds, fed by its event source mapping (lambdas/batcher.ts). */
  readonly batcherFunction: lambda.Function;
  readonly produceUrl: lambda.FunctionUrl;
  readonly fetchUrl: lambda.FunctionUrl;
  readonly adminUrl: lambda.FunctionUrl;
  readonly groupsUrl: lambda.FunctionUrl;
  readonly schemasUrl: lambda.FunctionUrl;
  /** The schema registry URL to give Confluent clients: `<schemas function URL>schemas`. */
  readonly schemaRegistryUrl: string;
  /**
   * The URL to give a client first (SLUICE_ENDPOINT): the admin function's. Every function
   * answers `GET /v1/metadata` with all four URLs, so a principal allowed only to produce or
   * consume bootstraps from its own function's URL instead.
   */
  readonly bootstrapUrl: string;
  readonly maintenanceQueue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
  /** What holds acks=1 events until the batcher commits them (`inboxBackend`). */
  readonly inboxBackend: InboxBackend;
  /**
   * The acks=1 inbox with `inboxBackend: 'sqs'` (the default), an SQS standard queue:
   * producers send to it directly (SLUICE_INBOX_URL, `GET /v1/metadata`'s `inbox`), the
   * batcher drains it into the log. `undefined` with the Kinesis inbox.
   */
  readonly inboxQueue?: sqs.Queue;
  /**
   * The acks=1 inbox with `inboxBackend: 'kinesis'`, a provisioned Kinesis Data Stream:
   * producers put records to it directly (SLUICE_INBOX_STREAM, `GET /v1/metadata`'s
   * `inbox`), the batcher reads it shard by shard. `undefined` with the SQS inbox.
   */
  readonly inboxStream?: kinesis.Stream;
  /**
   * Where inbox messages that cannot be committed end up, alarmed: after
   * INBOX_MAX_RECEIVE_COUNT receives (SQS inbox); sent there by the batcher, or a discarded
   * batch's description sent there by the event source mapping (Kinesis inbox).
   */
  readonly inboxDeadLetterQueue: sqs.Queue;
  /** SSM parameter holding `{"produce","fetch","admin","groups"}` URLs (SLUICE_ENDPOINTS_PARAMETER). */
  readonly endpointsParameter: ssm.StringParameter;
  readonly endpointsParameterName: string;
  readonly dashboard?: cloudwatch.Dashboard;
  readonly alarms: readonly cloudwatch.Alarm[];

  private readonly functions: Record<FunctionRole, SluiceFunction>;
  /** What the subscriptions trigger is built from, on the first {@link addSubscription}. */
  private readonly runtime: {
    entryDir: string | undefined;
    architecture: lambda.Architecture;
    logRetention: logs.RetentionDays;
    removalPolicy: RemovalPolicy;
    tracing: lambda.Tracing;
    environment: Record<string, string>;
    data: Parameters<typeof grantDataAccess>[2];
    importedTable: boolean;
  };
  private subscriptionRuntime: SluiceSubscriptionRuntime | undefined;
  private readonly subscriptionOptions: SluiceSubscriptionsOptions;

  /** The default tag key of {@link SluiceSubscriptionsOptions.targetTagKey}. */
  static readonly SUBSCRIPTION_TARGET_TAG = 'sluice:subscriptions';

  /**
   * A cluster deployed by another stack or app, for grants and metrics.
   *
   * @example
   * const cluster = SluiceCluster.fromAttributes(stack, 'Events', {
   *   produceFunctionArn, fetchFunctionArn, adminFunctionArn, groupsFunctionArn,
   *   bootstrapUrl: 'https://abc.lambda-url.eu-west-1.on.aws/', serviceName: 'Sluice-Cluster',
   * });
   * cluster.grantProduce(ordersServiceRole);
   */
  static fromAttributes(scope: Construct, id: string, attrs: SluiceClusterAttributes): ISluiceCluster {
    return new ImportedSluiceCluster(scope, id, attrs);
  }

  constructor(scope: Construct, id: string, props: SluiceClusterProps = {}) {
    super(scope, id);
    if (props.topics) validateTopicSpecs(props.topics);
    const stack = Stack.of(this);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const architecture = props.architecture ?? lambda.Architecture.ARM_64;
    const logRetention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const entryDir = props.entryDir;
    this.serviceName = props.serviceName ?? `${stack.stackName}-${id}`;
    this.clusterId =
      props.clusterId ??
      Fn.join('-', [Fn.select(2, Fn.split('/', Aws.STACK_ID)), this.node.addr.slice(0, 8)]);

    const inbox = inboxOptions(props);
    this.inboxBackend = inbox.backend;
    const bucket = props.bucket ?? this.createBucket(props, removalPolicy);
    const table = props.table ?? this.createTable(props, removalPolicy);
    this.bucket = bucket;
    this.table = table;

    this.deadLetterQueue = new sqs.Queue(this, 'MaintenanceDeadLetters', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    acknowledge(
      this.deadLetterQueue,
      'Serverless-SQSRedrivePolicy',
      'This is the dead-letter queue: its messages stay for 14 days to be inspected and redriven, and an alarm fires on any.',
    );
    const maintenanceTimeout = props.maintenanceTimeout ?? FUNCTION_TIMEOUTS.maintenance;
    this.maintenanceQueue = new sqs.Queue(this, 'MaintenanceQueue', {
      visibilityTimeout: Duration.seconds(maintenanceTimeout.toSeconds() * 6),
      // A task is re-planned every tick, so an old one is worth nothing.
      retentionPeriod: Duration.days(1),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: 5 },
    });

    const batcherTimeout = FUNCTION_TIMEOUTS.batcher;
    this.inboxDeadLetterQueue = new sqs.Queue(this, 'InboxDeadLetters', {
      retentionPeriod: Duration.days(14),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    acknowledge(
      this.inboxDeadLetterQueue,
      'Serverless-SQSRedrivePolicy',
      'This is the dead-letter queue of the inbox: its messages stay for 14 days to be inspected and redriven to the inbox, and an alarm fires on any.',
    );
    if (inbox.backend === 'kinesis') {
      this.inboxStream = new kinesis.Stream(this, 'InboxStream', {
        streamMode: kinesis.StreamMode.PROVISIONED,
        shardCount: inbox.shards,
        retentionPeriod: inbox.retention,
        // The AWS-managed key (alias/aws/kinesis): free, and producers and the batcher need no
        // KMS permission (a customer-managed key would need kms:GenerateDataKey of every producer).
        encryption: kinesis.StreamEncryption.MANAGED,
        // Like the SQS inbox: it holds only what waits for the batcher, and a retained stream
        // would bill shard-hours after the stack is gone.
        removalPolicy: RemovalPolicy.DESTROY,
      });
      acknowledge(
        this.inboxDeadLetterQueue,
        'AwsSolutions-SQS3',
        "This is the Kinesis inbox's dead-letter queue, filled by the batcher (records it cannot commit) and by the event source mapping (its on-failure destination), not by an SQS redrive policy; as a dead-letter queue it has none of its own.",
      );
    } else {
      this.inboxQueue = new sqs.Queue(this, 'Inbox', {
        // AWS advises six times the function timeout for an SQS event source (a batch's
        // messages stay hidden while it runs and while the mapping retries): 3 minutes, so the
        // messages of a failed batch come back within the batcher's order horizon (5 min),
        // before a successor could be taken for committed without them.
        visibilityTimeout: Duration.seconds(batcherTimeout.toSeconds() * 6),
        // The batcher's ledger keeps committed ids 5 days: a redelivery is always recognised.
        retentionPeriod: Duration.days(4),
        // SSE-SQS: free, and producers need no KMS permission to send.
        encryption: sqs.QueueEncryption.SQS_MANAGED,
        enforceSSL: true,
        deadLetterQueue: { queue: this.inboxDeadLetterQueue, maxReceiveCount: INBOX_MAX_RECEIVE_COUNT },
      });
    }
    // What every API function names in GET /v1/metadata, and produce puts to (POST /v1/inbox).
    const inboxEnvironment: Record<string, string> = this.inboxStream
      ? { SLUICE_INBOX_STREAM: this.inboxStream.streamArn }
      : { SLUICE_INBOX_URL: this.inboxQueue!.queueUrl };

    // The parameter's name is fixed at synth time: a Ref to the parameter in the functions'
    // environment would make each function depend on its own URL (function → parameter →
    // URL → function).
    this.endpointsParameterName = `/sluice/${Names.uniqueResourceName(this, { maxLength: 200, separator: '-' })}/endpoints`;
    const endpointsParameterArn = stack.formatArn({
      service: 'ssm',
      resource: 'parameter',
      resourceName: this.endpointsParameterName.slice(1),
    });

    const common: Record<string, string> = {
      SLUICE_STORAGE: 'aws',
      SLUICE_BUCKET: bucket.bucketName,
      SLUICE_TABLE: table.tableName,
      SLUICE_CLUSTER_ID: this.clusterId,
      POWERTOOLS_SERVICE_NAME: this.serviceName,
      POWERTOOLS_METRICS_NAMESPACE: 'Sluice',
    };
    const memory: Record<FunctionRole, number> = {
      produce: props.produceMemorySize ?? 1024,
      fetch: props.fetchMemorySize ?? 512,
      admin: props.adminMemorySize ?? 256,
      groups: props.groupsMemorySize ?? 256,
      schemas: props.schemasMemorySize ?? 512,
      maintenance: props.maintenanceMemorySize ?? 1024,
    };
    const httpCap = reservedConcurrencyCap(props.reservedConcurrency);
    const reserved: Record<FunctionRole, number | undefined> = {
      produce: props.produceReservedConcurrency ?? httpCap,
      fetch: props.fetchReservedConcurrency ?? httpCap,
      admin: props.adminReservedConcurrency ?? httpCap,
      groups: props.groupsReservedConcurrency ?? httpCap,
      schemas: props.schemasReservedConcurrency ?? httpCap,
      maintenance: props.maintenanceReservedConcurrency,
    };
    const describe: Record<FunctionRole, string> = {
      produce: 'produce API (appends record batches)',
      fetch: 'fetch API (reads record batches)',
      admin: 'admin API (topics, offsets)',
      groups: 'consumer groups API (membership, assignment, committed offsets)',
      schemas: 'schema registry API (Confluent-compatible, under /schemas)',
      maintenance: 'maintenance (retention, compaction, orphan GC), fed by SQS',
    };
    const dataResources = {
      bucketArn: bucket.bucketArn,
      tableArn: table.tableArn,
      bucketKey: props.bucket ? (props.encryptionKey ?? bucket.encryptionKey) : props.encryptionKey,
      tableKey: props.table ? (props.encryptionKey ?? table.encryptionKey) : props.encryptionKey,
    };
    this.runtime = {
      entryDir,
      architecture,
      logRetention,
      removalPolicy,
      tracing: props.tracing ?? lambda.Tracing.DISABLED,
      environment: common,
      data: dataResources,
      importedTable: props.table !== undefined,
    };
    this.subscriptionOptions = props.subscriptions ?? {};
    const make = (role: FunctionRole): SluiceFunction => {
      // The API functions name the inbox in GET /v1/metadata; produce also sends to it
      // (POST /v1/inbox).
      const environment: Record<string, string> =
        role === 'maintenance'
          ? { ...common, SLUICE_MAINTENANCE_QUEUE_URL: this.maintenanceQueue.queueUrl }
          : {
              ...common,
              SLUICE_ENDPOINTS_PARAMETER: this.endpointsParameterName,
              ...inboxEnvironment,
            };
      // An idle long poll would hold a function (and a unit of concurrency) all the time.
      if (role === 'fetch') {
        environment.SLUICE_FETCH_MAX_WAIT_MS = String(props.fetchMaxWait?.toMilliseconds() ?? 0);
        // Its role cannot write: it leaves large transactions' roll-forward to writers (DESIGN.md §13).
        environment.SLUICE_READ_ONLY = '1';
      }
      const fn = new SluiceFunction(this, `${role[0]!.toUpperCase()}${role.slice(1)}`, {
        handler: role,
        ...(entryDir ? { entry: join(entryDir, `${role}.ts`) } : {}),
        description: `Sluice ${stack.stackName}: ${describe[role]}`,
        architecture,
        memorySize: memory[role],
        timeout: role === 'maintenance' ? maintenanceTimeout : FUNCTION_TIMEOUTS[role],
        reservedConcurrency: reserved[role],
        environment,
        logRetention,
        removalPolicy,
        tracing: props.tracing ?? lambda.Tracing.DISABLED,
        invokedBy: role === 'maintenance' ? 'schedule-and-sqs' : 'function-url',
      });
      grantDataAccess(fn.role, role, dataResources);
      if (role !== 'maintenance') {
        fn.role.addToPrincipalPolicy(
          new iam.PolicyStatement({ actions: ['ssm:GetParameter'], resources: [endpointsParameterArn] }),
        );
      }
      return fn;
    };
    this.functions = {
      produce: make('produce'),
      fetch: make('fetch'),
      admin: make('admin'),
      groups: make('groups'),
      schemas: make('schemas'),
      maintenance: make('maintenance'),
    };
    this.produceFunction = this.functions.produce.function;
    this.fetchFunction = this.functions.fetch.function;
    this.adminFunction = this.functions.admin.function;
    this.groupsFunction = this.functions.groups.function;
    this.schemasFunction = this.functions.schemas.function;
    this.maintenanceFunction = this.functions.maintenance.function;
    this.grantInboxPut(this.functions.produce.role);
    this.batcherFunction = this.createBatcher(props, inbox, {
      entryDir,
      architecture,
      logRetention,
      removalPolicy,
      environment: {
        ...common,
        ...inboxEnvironment,
        // A Kinesis mapping cannot drop one record: the batcher sends invalid ones there itself.
        ...(this.inboxStream ? { SLUICE_INBOX_DLQ_URL: this.inboxDeadLetterQueue.queueUrl } : {}),
      },
      data: dataResources,
    });

    const url = (fn: lambda.Function) =>
      fn.addFunctionUrl({
        authType: lambda.FunctionUrlAuthType.AWS_IAM,
        invokeMode: lambda.InvokeMode.BUFFERED,
      });
    this.produceUrl = url(this.produceFunction);
    this.fetchUrl = url(this.fetchFunction);
    this.adminUrl = url(this.adminFunction);
    this.groupsUrl = url(this.groupsFunction);
    this.schemasUrl = url(this.schemasFunction);
    this.schemaRegistryUrl = `${this.schemasUrl.url}schemas`;
    this.bootstrapUrl = this.adminUrl.url;

    this.endpointsParameter = new ssm.StringParameter(this, 'Endpoints', {
      parameterName: this.endpointsParameterName,
      description: `Sluice ${stack.stackName}: the Function URLs GET /v1/metadata reports`,
      stringValue: stack.toJsonString({
        produce: this.produceUrl.url,
        fetch: this.fetchUrl.url,
        admin: this.adminUrl.url,
        groups: this.groupsUrl.url,
        schemas: this.schemasUrl.url,
      }),
    });

    this.wireMaintenance(props);

    if (props.topics && props.topics.length > 0) {
      const topics = new DeployTimeTopics(this, 'Topics', {
        topics: props.topics,
        adminFunction: this.adminFunction,
        architecture,
        logRetention,
        removalPolicy,
      });
      topics.node.addDependency(this.endpointsParameter);
    }

    const inboxAgeThreshold = props.inboxAgeAlarmThreshold ?? Duration.minutes(2);
    if (inboxAgeThreshold.toMilliseconds() >= INBOX_ORDER_HORIZON_MS) {
      Annotations.of(this).addWarningV2(
        'sluice:inboxAgeAlarmThreshold',
        `inboxAgeAlarmThreshold is ${inboxAgeThreshold.toHumanString()}: at or past the batcher's order horizon (${INBOX_ORDER_HORIZON_MS / 60_000} minutes), producer order is no longer guaranteed before the alarm fires. Keep it below.`,
      );
    }
    const monitoring = new SluiceMonitoring(this, 'Monitoring', {
      serviceName: this.serviceName,
      functions: {
        produce: this.produceFunction,
        fetch: this.fetchFunction,
        admin: this.adminFunction,
        groups: this.groupsFunction,
        schemas: this.schemasFunction,
        maintenance: this.maintenanceFunction,
        batcher: this.batcherFunction,
      },
      maintenanceQueue: this.maintenanceQueue,
      deadLetterQueue: this.deadLetterQueue,
      inbox: this.inboxStream
        ? { backend: 'kinesis', stream: this.inboxStream, batcher: this.batcherFunction }
        : { backend: 'sqs', queue: this.inboxQueue! },
      inboxDeadLetterQueue: this.inboxDeadLetterQueue,
      inboxAgeThreshold,
      dashboard: props.dashboard ?? true,
      alarms: props.alarms ?? true,
      urlRoles: ['produce', 'fetch', 'admin', 'groups', 'schemas'],
      alarmActions: [
        ...(props.alarmActions ?? []),
        ...(props.alarmTopic ? [new cloudwatchActions.SnsAction(props.alarmTopic)] : []),
      ],
    });
    this.dashboard = monitoring.dashboard;
    this.alarms = monitoring.alarms;

    if (props.subscriptions) {
      // Subscriptions created at run time need the trigger whether or not the stack declares any.
      this.subscriptionTrigger();
      for (const target of props.subscriptions.targets ?? []) this.grantSubscriptionTarget(target);
      for (const queue of props.subscriptions.failureQueues ?? []) this.grantSubscriptionTarget(queue);
    }
  }

  /**
   * The function that dispatches subscriptions (fed by the table's stream), once the cluster
   * has one: `props.subscriptions` given or {@link addSubscription} called.
   */
  get subscriptionsFunction(): lambda.IFunction | undefined {
    return this.subscriptionRuntime?.trigger;
  }

  /**
   * Lets subscriptions — declared or created at run time — name `target`: a function as their
   * `target` (invoke) or a queue as their `onFailure` (send). Adds the subscriptions trigger
   * if the cluster has none yet.
   *
   * @example
   * cluster.grantSubscriptionTarget(reportingFn); // then, at run time:
   * // sluice subscriptions create reports --topic orders --target <reportingFn ARN>
   */
  grantSubscriptionTarget(target: lambda.IFunction | sqs.IQueue): void {
    const { trigger } = this.subscriptionTrigger();
    if ('queueArn' in target) {
      target.grantSendMessages(trigger);
      return;
    }
    target.grantInvoke(trigger);
    const role = trigger.role;
    if (role) {
      acknowledge(
        role,
        wildcardResourceFinding(role, `${target.functionArn}:*`),
        'grantInvoke covers the target function and its versions and aliases (`<arn>:*`), so a subscription may name a qualified target.',
      );
    }
  }

  /**
   * Declares a subscription: Sluice invokes `props.target` with batches of the topic's
   * records, in order per partition, at least once (README "Consume from Lambda"). The first
   * call adds the subscriptions trigger: a KEYS_ONLY stream on the table and a function fed
   * by it (filtered to partition heads and subscription definitions, so an idle cluster
   * invokes nothing). The definition is created at deploy time and deleted with the stack.
   *
   * @throws Error when the cluster uses an imported table without a stream.
   *
   * @example
   * cluster.addSubscription('Billing', { topic: 'orders', target: billingFn, batchSize: 50,
   *   reportBatchItemFailures: true, onFailure: billingDlq });
   */
  addSubscription(id: string, props: SluiceSubscriptionProps): SluiceSubscription {
    const sub = new SluiceSubscription(this, id, props, this.subscriptionTrigger());
    const topics = this.node.tryFindChild('Topics');
    if (topics) sub.node.addDependency(topics);
    return sub;
  }

  private subscriptionTrigger(): SluiceSubscriptionRuntime {
    if (this.subscriptionRuntime) return this.subscriptionRuntime;
    const rt = this.runtime;
    const stack = Stack.of(this);
    let streamArn: string;
    if (rt.importedTable) {
      if (!this.table.tableStreamArn) {
        throw new Error(
          'addSubscription needs a DynamoDB stream on the imported table (KEYS_ONLY or more): import it with its stream ARN',
        );
      }
      streamArn = this.table.tableStreamArn;
    } else {
      const cfn = this.table.node.defaultChild as dynamodb.CfnTable;
      cfn.streamSpecification = { streamViewType: dynamodb.StreamViewType.KEYS_ONLY };
      streamArn = cfn.attrStreamArn;
    }
    const leaseMs = 120_000;
    const trigger = new SluiceFunction(this, 'Subscriptions', {
      handler: 'subscriptions',
      ...(rt.entryDir ? { entry: join(rt.entryDir, 'subscriptions.ts') } : {}),
      description: `Sluice ${stack.stackName}: subscriptions (pushes records to functions), fed by the table's stream`,
      architecture: rt.architecture,
      memorySize: 1024,
      timeout: Duration.minutes(15),
      environment: { ...rt.environment, SLUICE_SUBSCRIPTION_LEASE_MS: String(leaseMs) },
      logRetention: rt.logRetention,
      removalPolicy: rt.removalPolicy,
      tracing: rt.tracing,
      invokedBy: 'dynamodb-stream',
    });
    grantDataAccess(trigger.role, 'subscriptions', rt.data);
    trigger.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'],
        resources: [streamArn],
      }),
    );
    const streams = `${this.table.tableArn}/stream/*`;
    trigger.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['dynamodb:ListStreams'], resources: [streams] }),
    );
    acknowledge(
      trigger.role,
      wildcardResourceFinding(trigger.role, streams),
      "The event source mapping lists the table's streams to find the current one; the grant covers only this table's streams.",
    );
    // Its own continuation (`{"dispatch": …}`): a separate policy, so the function does not
    // depend on a statement that names it.
    new iam.Policy(this, 'SubscriptionsSelfInvoke', {
      roles: [trigger.role],
      statements: [
        new iam.PolicyStatement({
          actions: ['lambda:InvokeFunction'],
          resources: [trigger.function.functionArn],
        }),
      ],
    });
    new lambda.EventSourceMapping(this, 'SubscriptionsTrigger', {
      target: trigger.function,
      eventSourceArn: streamArn,
      startingPosition: lambda.StartingPosition.LATEST,
      batchSize: 1000,
      retryAttempts: 10,
      // A trigger batch that keeps failing (storage errors) is recorded in the cluster's
      // dead-letter queue, which has an alarm; the records themselves stay in the log.
      onFailure: new SqsDlq(this.deadLetterQueue),
      filters: TRIGGER_PATTERNS.map((pattern) => lambda.FilterCriteria.filter(pattern)),
    });
    const provider = new SluiceFunction(this, 'SubscriptionsProvider', {
      handler: 'subscriptions-provider',
      description: `Sluice ${stack.stackName}: creates declared subscriptions at deploy time`,
      architecture: rt.architecture,
      memorySize: 256,
      timeout: Duration.minutes(5),
      environment: {
        SLUICE_ADMIN_FUNCTION: this.adminFunction.functionName,
        NODE_OPTIONS: '--enable-source-maps',
      },
      logRetention: rt.logRetention,
      removalPolicy: rt.removalPolicy,
      invokedBy: 'cloudformation',
    });
    provider.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [this.adminFunction.functionArn],
      }),
    );
    this.subscriptionRuntime = { trigger: trigger.function, provider: provider.function };
    this.grantTaggedTargets(trigger.role);
    // The safety net: each scheduled maintenance pass wakes the trigger for partitions left
    // with records and no live dispatcher (a run that died, a stream batch given up).
    this.maintenanceFunction.addEnvironment('SLUICE_SUBSCRIPTIONS_FUNCTION', trigger.function.functionName);
    this.maintenanceFunction.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [trigger.function.functionArn],
      }),
    );
    return this.subscriptionRuntime;
  }

  /**
   * Subscriptions created at run time may name any function, and any `onFailure` queue, of
   * the account and region tagged `<targetTagKey>` = `serviceName` (Lambda's and SQS's
   * attribute-based access control): no redeploy when a new target appears.
   */
  private grantTaggedTargets(role: iam.IRole): void {
    const key = this.subscriptionOptions.targetTagKey ?? SluiceCluster.SUBSCRIPTION_TARGET_TAG;
    if (key === false) return;
    const stack = Stack.of(this);
    const condition = { StringEquals: { [`aws:ResourceTag/${key}`]: this.serviceName } };
    const functions = stack.formatArn({
      service: 'lambda',
      resource: 'function',
      resourceName: '*',
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    const queues = stack.formatArn({ service: 'sqs', resource: '*', arnFormat: ArnFormat.NO_RESOURCE_NAME });
    const policy = new iam.Policy(this, 'SubscriptionsTaggedTargets', {
      roles: [role],
      statements: [
        new iam.PolicyStatement({
          actions: ['lambda:InvokeFunction'],
          resources: [functions],
          conditions: condition,
        }),
        new iam.PolicyStatement({
          actions: ['sqs:SendMessage', 'sqs:GetQueueUrl', 'sqs:GetQueueAttributes'],
          resources: [queues],
          conditions: condition,
        }),
      ],
    });
    const reason = `Subscriptions created at run time may name a function or queue deployed later: only those tagged ${key}=${this.serviceName} (aws:ResourceTag condition).`;
    acknowledge(policy, wildcardResourceFinding(policy, functions), reason);
    acknowledge(policy, wildcardResourceFinding(policy, queues), reason);
  }

  /**
   * Lets `grantee` produce at every acks level: call the produce API (acks=all, producer
   * ids, `GET /v1/metadata`, `POST /v1/inbox`) and put to the inbox directly, as the SDK does
   * for acks=1 and acks=0: `sqs:SendMessage` on the SQS inbox (it covers SendMessageBatch;
   * the queue is SSE-SQS), `kinesis:PutRecord` and `kinesis:PutRecords` on the Kinesis inbox
   * (encrypted with the AWS-managed key). Neither needs a KMS permission.
   *
   * @example
   * cluster.grantProduce(ordersFunction);
   */
  override grantProduce(grantee: iam.IGrantable): iam.Grant {
    return super.grantProduce(grantee).combine(this.grantInboxPut(grantee));
  }

  /** Sending to the inbox, whichever its backend. */
  private grantInboxPut(grantee: iam.IGrantable): iam.Grant {
    if (!this.inboxStream) return this.inboxQueue!.grantSendMessages(grantee);
    return iam.Grant.addToPrincipal({
      grantee,
      actions: [...KINESIS_INBOX_PUT_ACTIONS],
      resourceArns: [this.inboxStream.streamArn],
    });
  }

  /**
   * The acks=1 batcher, fed by the inbox's event source mapping in batches of up to
   * `inboxBatchSize` gathered for up to `inboxBatchWindow`; it reports what it cannot commit
   * yet as batch item failures. SQS: at most `inboxMaxConcurrency` batches at once. Kinesis:
   * one batch per shard at a time, in the shard's order, retried until it succeeds.
   */
  private createBatcher(
    props: SluiceClusterProps,
    inbox: InboxOptions,
    rt: {
      entryDir: string | undefined;
      architecture: lambda.Architecture;
      logRetention: logs.RetentionDays;
      removalPolicy: RemovalPolicy;
      environment: Record<string, string>;
      data: Parameters<typeof grantDataAccess>[2];
    },
  ): lambda.Function {
    const kinesisInbox = inbox.backend === 'kinesis';
    const batcher = new SluiceFunction(this, 'Batcher', {
      handler: 'batcher',
      ...(rt.entryDir ? { entry: join(rt.entryDir, 'batcher.ts') } : {}),
      description: `Sluice ${Stack.of(this).stackName}: inbox batcher (commits acks=1 events), fed by ${kinesisInbox ? 'Kinesis' : 'SQS'}`,
      architecture: rt.architecture,
      memorySize: props.batcherMemorySize ?? 512,
      timeout: FUNCTION_TIMEOUTS.batcher,
      environment: rt.environment,
      logRetention: rt.logRetention,
      removalPolicy: rt.removalPolicy,
      tracing: props.tracing ?? lambda.Tracing.DISABLED,
      invokedBy: kinesisInbox ? 'kinesis' : 'sqs',
    });
    grantDataAccess(batcher.role, 'batcher', rt.data);
    const batchSize = props.inboxBatchSize ?? 10_000;
    const window = props.inboxBatchWindow ?? defaultInboxBatchWindow(kinesisInbox ? 'kinesis' : 'sqs');
    if (this.inboxStream) {
      // The mapping's grant (describe, list shards, get records) is all the batcher reads.
      batcher.function.addEventSource(
        new KinesisEventSource(this.inboxStream, {
          // Everything the stream holds, also what was put before the mapping existed.
          startingPosition: lambda.StartingPosition.TRIM_HORIZON,
          batchSize,
          maxBatchingWindow: window,
          // An item failure names the first record not committed (its sequence number): the
          // mapping retries from there, so halving a batch would only add invocations.
          reportBatchItemFailures: true,
          bisectBatchOnError: false,
          // One batch per shard at a time keeps a producer's records (one partition key per
          // producer and partition) in order.
          parallelizationFactor: 1,
          // Acknowledged events must not be dropped by a retry limit: a failing batch is
          // retried until it commits or its records expire (inboxRetention), long after the
          // iterator-age alarm fired.
          retryAttempts: -1,
          // A batch the mapping ever discards (its records expired) is described there, which
          // raises the inbox dead-letter alarm. This also grants the batcher sqs:SendMessage on
          // it, for the invalid records it moves there itself (SLUICE_INBOX_DLQ_URL).
          onFailure: new SqsDlq(this.inboxDeadLetterQueue),
        }),
      );
      return batcher.function;
    }
    if (batchSize > 10 && window.toSeconds() < 1) {
      // SQS event source mappings refuse it at deploy time; say so at synth.
      throw new Error(
        `inboxBatchSize ${batchSize} needs an inboxBatchWindow of at least 1 second (SQS event sources take more than 10 messages only with a batching window)`,
      );
    }
    // The mapping's grant (receive, delete, change visibility, attributes) is also what the
    // batcher needs to release held-back messages early.
    batcher.function.addEventSource(
      new SqsEventSource(this.inboxQueue!, {
        batchSize,
        maxBatchingWindow: window,
        maxConcurrency: props.inboxMaxConcurrency ?? 5,
        reportBatchItemFailures: true,
      }),
    );
    acknowledge(
      batcher.function,
      'Serverless-LambdaEventSourceMappingDestination',
      'SQS event sources take no on-failure destination; inbox messages that cannot be committed go to the inbox redrive dead-letter queue, which is alarmed.',
    );
    return batcher.function;
  }

  /**
   * Lets `grantee` use the schema registry: register, read, delete schemas and set
   * compatibility (the schemas URL). Producers and consumers using the schema serdes need it.
   *
   * @example
   * cluster.grantSchemaRegistry(ordersServiceRole);
   */
  grantSchemaRegistry(grantee: iam.IGrantable): iam.Grant {
    return this.grantUrls(grantee, [this.schemasFunction]);
  }

  private createBucket(props: SluiceClusterProps, removalPolicy: RemovalPolicy): s3.Bucket {
    const key: kms.IKey | undefined = props.encryptionKey;
    const bucket = new s3.Bucket(this, 'Data', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      encryption: key ? s3.BucketEncryption.KMS : s3.BucketEncryption.S3_MANAGED,
      encryptionKey: key,
      // One data key per bucket instead of one KMS call per object.
      bucketKeyEnabled: key ? true : undefined,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // No expiry: Sluice owns retention (an object outlives its oldest record's retention
      // while newer batches in it are live). Only abandoned multipart uploads are cleaned.
      lifecycleRules: [
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy,
      autoDeleteObjects: removalPolicy === RemovalPolicy.DESTROY,
      serverAccessLogsBucket: props.accessLogsBucket,
      serverAccessLogsPrefix: props.accessLogsBucket ? 'sluice-data/' : undefined,
    });
    if (!props.accessLogsBucket) {
      acknowledge(
        bucket,
        'AwsSolutions-S1',
        'Access logging is opt-in (the accessLogsBucket prop): a logs bucket costs storage at rest, and every object access already goes through the functions, whose logs and metrics record it. CloudTrail data events are the other option.',
      );
    }
    return bucket;
  }

  private createTable(props: SluiceClusterProps, removalPolicy: RemovalPolicy): dynamodb.Table {
    // Table rather than TableV2: TableV2 cannot render a customer-managed key in an
    // environment-agnostic stack, and the app synthesizes without an account or region.
    return new dynamodb.Table(this, 'Meta', {
      partitionKey: { name: TABLE_SCHEMA.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE_SCHEMA.sortKey, type: dynamodb.AttributeType.STRING },
      timeToLiveAttribute: TABLE_SCHEMA.ttlAttribute,
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: props.encryptionKey
        ? dynamodb.TableEncryption.CUSTOMER_MANAGED
        : dynamodb.TableEncryption.DEFAULT,
      encryptionKey: props.encryptionKey,
      deletionProtection: props.deletionProtection ?? removalPolicy !== RemovalPolicy.DESTROY,
      removalPolicy,
    });
  }

  /**
   * Schedule → maintenance function, which plans the pass and sends one message per task
   * (partition with work, deleted topic, orphan GC) to the queue → maintenance function,
   * which runs each task under its partition's lease (lambdas/maintenance.ts).
   */
  private wireMaintenance(props: SluiceClusterProps): void {
    const fn = this.maintenanceFunction;
    fn.addEventSource(
      new SqsEventSource(this.maintenanceQueue, {
        batchSize: 10,
        maxConcurrency: props.maintenanceMaxConcurrency ?? 5,
        reportBatchItemFailures: true,
      }),
    );
    acknowledge(
      fn,
      'Serverless-LambdaEventSourceMappingDestination',
      'SQS event sources take no on-failure destination; failed messages go to the queue redrive dead-letter queue (maxReceiveCount 5), which is alarmed.',
    );
    this.functions.maintenance.role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.maintenanceQueue.queueArn] }),
    );
    // A failed plan is not retried: the next tick plans again. Its event goes to the
    // dead-letter queue, so a failing plan raises the dead-letter alarm.
    fn.configureAsyncInvoke({
      retryAttempts: 0,
      maxEventAge: Duration.minutes(5),
      onFailure: new destinations.SqsDestination(this.deadLetterQueue),
    });
    new events.Rule(this, 'MaintenanceSchedule', {
      description: `Sluice ${Stack.of(this).stackName}: plans maintenance (one SQS message per task)`,
      schedule: props.maintenanceSchedule ?? events.Schedule.rate(Duration.minutes(1)),
      targets: [
        new targets.LambdaFunction(fn, {
          deadLetterQueue: this.deadLetterQueue,
          retryAttempts: 2,
          // A plan older than a few ticks is superseded by newer ones.
          maxEventAge: Duration.minutes(10),
        }),
      ],
    });
  }
}

/** A cluster known by its attributes (SluiceCluster.fromAttributes). */
class ImportedSluiceCluster extends SluiceClusterBase {
  readonly serviceName: string;
  readonly bootstrapUrl: string;
  readonly produceFunction: lambda.IFunction;
  readonly fetchFunction: lambda.IFunction;
  readonly adminFunction: lambda.IFunction;
  readonly groupsFunction: lambda.IFunction;

  constructor(scope: Construct, id: string, attrs: SluiceClusterAttributes) {
    super(scope, id);
    this.serviceName = attrs.serviceName;
    this.bootstrapUrl = attrs.bootstrapUrl;
    const fn = (name: string, arn: string) => lambda.Function.fromFunctionArn(this, name, arn);
    this.produceFunction = fn('Produce', attrs.produceFunctionArn);
    this.fetchFunction = fn('Fetch', attrs.fetchFunctionArn);
    this.adminFunction = fn('Admin', attrs.adminFunctionArn);
    this.groupsFunction = fn('Groups', attrs.groupsFunctionArn);
    if (attrs.inboxQueueArn && attrs.inboxStreamArn) {
      throw new InvalidInboxOptionsError(
        'a cluster has one inbox: give inboxQueueArn (SQS inbox) or inboxStreamArn (Kinesis inbox), not both',
      );
    }
    this.inboxQueueArn = attrs.inboxQueueArn;
    this.inboxStreamArn = attrs.inboxStreamArn;
  }

  private readonly inboxQueueArn: string | undefined;
  private readonly inboxStreamArn: string | undefined;

  /** The produce API, and putting to the inbox when its ARN was given. */
  override grantProduce(grantee: iam.IGrantable): iam.Grant {
    const urls = super.grantProduce(grantee);
    if (this.inboxStreamArn) {
      return urls.combine(
        iam.Grant.addToPrincipal({
          grantee,
          actions: [...KINESIS_INBOX_PUT_ACTIONS],
          resourceArns: [this.inboxStreamArn],
        }),
      );
    }
    if (!this.inboxQueueArn) return urls;
    return urls.combine(
      iam.Grant.addToPrincipal({ grantee, actions: ['sqs:SendMessage'], resourceArns: [this.inboxQueueArn] }),
    );
  }
}
