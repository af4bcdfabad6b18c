import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { DEFAULT_BATCHER_OPTIONS } from '../core/inbox/batcher.js';
import { INBOX_HOLD_BACK_MS, INBOX_MAX_RECEIVE_COUNT, INBOX_ORDER_HORIZON_MS } from '../core/inbox/queue.js';
import {
  clusterStack,
  FIXTURE_ENTRY_DIR,
  fastApp,
  resourceOf,
  roleActions,
  roleStatements,
} from '../test/fixtures/cdk/synth.js';
import { INBOX_LEDGER_TTL, InvalidInboxOptionsError, KINESIS_INBOX_MAX_RETENTION } from './inbox-backend.js';
import { DEFAULT_RESERVED_CONCURRENCY, InvalidReservedConcurrencyError } from './reserved-concurrency.js';
import { SluiceCluster } from './sluice-cluster.js';
import type { ISluiceCluster } from './sluice-cluster-ref.js';
import { InvalidTopicSpecError } from './topic-spec.js';

const ROLES = ['Produce', 'Fetch', 'Admin', 'Groups', 'Schemas', 'Maintenance'] as const;
/** Every function the cluster always has: the API, maintenance and the inbox batcher. */
const ALL_ROLES = [...ROLES, 'Batcher'] as const;

// One synthesis shared by every default-configuration assertion.
const base = clusterStack({
  topics: [{ name: 'orders', partitions: 3, config: { 'cleanup.policy': 'compact' } }],
});
const { template } = base;
const json = template.toJSON() as {
  Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
};

/** The inbox queue (its logical id is a prefix of its dead-letter queue's). */
function inboxQueue(t: Template) {
  const [id, raw] = Object.entries(t.findResources('AWS::SQS::Queue')).find(([k]) =>
    /^ClusterInbox[0-9A-F]{8}$/.test(k),
  )!;
  return { id, props: (raw as { Properties: Record<string, unknown> }).Properties };
}

function fn(role: string) {
  return resourceOf(template, 'AWS::Lambda::Function', `Cluster${role}Function`);
}

describe('S3 bucket', () => {
  const bucket = resourceOf(template, 'AWS::S3::Bucket', 'ClusterData');

  it('blocks public access, encrypts, and is retained by default', () => {
    expect(bucket.props.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucket.props.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
    expect(bucket.raw.DeletionPolicy).toBe('Retain');
    expect(bucket.raw.UpdateReplacePolicy).toBe('Retain');
  });

  it('aborts incomplete multipart uploads and never expires data', () => {
    const rules = (bucket.props.LifecycleConfiguration as { Rules: Record<string, unknown>[] }).Rules;
    expect(rules).toEqual([
      expect.objectContaining({
        AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
        Status: 'Enabled',
      }),
    ]);
    for (const rule of rules) {
      expect(Object.keys(rule).filter((k) => /Expiration|Transition/.test(k))).toEqual([]);
    }
  });

  it('denies every request not made over TLS 1.2+', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          }),
          Match.objectLike({
            Effect: 'Deny',
            Action: 's3:*',
            Condition: { NumericLessThan: { 's3:TlsVersion': 1.2 } },
          }),
        ]),
      },
    });
  });
});

describe('DynamoDB table', () => {
  const table = resourceOf(template, 'AWS::DynamoDB::Table', 'ClusterMeta');

  it('has the pk/sk layout, on-demand billing, PITR, TTL and deletion protection', () => {
    expect(table.props.KeySchema).toEqual([
      { AttributeName: 'pk', KeyType: 'HASH' },
      { AttributeName: 'sk', KeyType: 'RANGE' },
    ]);
    expect(table.props.BillingMode).toBe('PAY_PER_REQUEST');
    expect(table.props.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    expect(table.props.TimeToLiveSpecification).toEqual({ AttributeName: 'ttl', Enabled: true });
    expect(table.props.DeletionProtectionEnabled).toBe(true);
    expect(table.raw.DeletionPolicy).toBe('Retain');
  });
});

describe('functions', () => {
  it('are Node 24 arm64 ES-module bundles with the handler contract', () => {
    for (const role of ALL_ROLES) {
      const { props } = fn(role);
      expect(props.Runtime).toBe('nodejs24.x');
      expect(props.Architectures).toEqual(['arm64']);
      expect(props.Handler).toBe('index.handler');
    }
  });

  it('get the environment contract; only maintenance gets the queue, only the API functions the endpoints', () => {
    const parameter = resourceOf(template, 'AWS::SSM::Parameter', 'ClusterEndpoints');
    for (const role of ROLES) {
      const env = (fn(role).props.Environment as { Variables: Record<string, unknown> }).Variables;
      expect(env).toMatchObject({
        SLUICE_STORAGE: 'aws',
        SLUICE_BUCKET: { Ref: resourceOf(template, 'AWS::S3::Bucket', 'ClusterData').id },
        SLUICE_TABLE: { Ref: resourceOf(template, 'AWS::DynamoDB::Table', 'ClusterMeta').id },
        POWERTOOLS_SERVICE_NAME: 'Test-Cluster',
        POWERTOOLS_METRICS_NAMESPACE: 'Sluice',
      });
      // No source map ships, so none is enabled (it slowed every cold start).
      expect(env.NODE_OPTIONS).toBeUndefined();
      expect(env.SLUICE_CLUSTER_ID).toBeDefined();
      // Only fetch reads without writing (its role cannot write; large commits, DESIGN.md §13).
      expect(env.SLUICE_READ_ONLY).toBe(role === 'Fetch' ? '1' : undefined);
      if (role === 'Maintenance') {
        expect(env.SLUICE_MAINTENANCE_QUEUE_URL).toEqual({
          Ref: resourceOf(template, 'AWS::SQS::Queue', 'ClusterMaintenanceQueue').id,
        });
        expect(env.SLUICE_ENDPOINTS_PARAMETER).toBeUndefined();
        expect(env.SLUICE_INBOX_URL).toBeUndefined();
      } else {
        expect(env.SLUICE_ENDPOINTS_PARAMETER).toBe(parameter.props.Name);
        expect(env.SLUICE_MAINTENANCE_QUEUE_URL).toBeUndefined();
        // GET /v1/metadata names the inbox from every API function.
        expect(env.SLUICE_INBOX_URL).toEqual({ Ref: inboxQueue(template).id });
      }
    }
  });

  it('use the default memory sizes and timeouts', () => {
    const expected = {
      Produce: [1024, 30],
      Fetch: [512, 30],
      Admin: [256, 30],
      Groups: [256, 30],
      Schemas: [512, 30],
      Maintenance: [1024, 120],
    };
    for (const role of ROLES) {
      const { props } = fn(role);
      expect([props.MemorySize, props.Timeout]).toEqual(expected[role]);
      // The HTTP functions are capped by default; maintenance by its event source mapping.
      expect(props.ReservedConcurrentExecutions).toBe(
        role === 'Maintenance' ? undefined : DEFAULT_RESERVED_CONCURRENCY,
      );
    }
    expect(DEFAULT_RESERVED_CONCURRENCY).toBe(20);
  });

  it('take one reserved concurrency for every HTTP function, or none, a function’s own winning', () => {
    const reservations = (t: Template) =>
      ROLES.map((role) => resourceOf(t, 'AWS::Lambda::Function', `Cluster${role}Function`).props).map(
        (p) => p.ReservedConcurrentExecutions,
      );
    const common = { dashboard: false, alarms: false } as const;
    expect(
      reservations(
        clusterStack({ ...common, reservedConcurrency: 50, adminReservedConcurrency: 5 }).template,
      ),
    ).toEqual([50, 50, 5, 50, 50, undefined]);
    expect(
      reservations(
        clusterStack({ ...common, reservedConcurrency: 'none', fetchReservedConcurrency: 8 }).template,
      ),
    ).toEqual([undefined, 8, undefined, undefined, undefined, undefined]);
    for (const bad of [0, -1, 2.5]) {
      expect(() => clusterStack({ ...common, reservedConcurrency: bad })).toThrow(
        InvalidReservedConcurrencyError,
      );
    }
  });

  it('log to their own group, kept one month, retained with the data', () => {
    for (const role of ALL_ROLES) {
      const logs = resourceOf(template, 'AWS::Logs::LogGroup', `Cluster${role}Logs`);
      expect(logs.props.RetentionInDays).toBe(30);
      expect(logs.raw.DeletionPolicy).toBe('Retain');
      expect(fn(role).props.LoggingConfig).toEqual({ LogGroup: { Ref: logs.id } });
    }
  });
});

describe('Function URLs', () => {
  const urls = Object.values(template.findResources('AWS::Lambda::Url'));

  it('exist for the five API functions only, with AWS_IAM auth', () => {
    expect(urls).toHaveLength(5);
    const targets = urls.map(
      (u) => (u.Properties.TargetFunctionArn as { 'Fn::GetAtt': string[] })['Fn::GetAtt'][0],
    );
    expect(targets.sort()).toEqual(
      ['Produce', 'Fetch', 'Admin', 'Groups', 'Schemas'].map((r) => fn(r).id).sort(),
    );
    for (const url of urls) expect(url.Properties.AuthType).toBe('AWS_IAM');
  });

  it('are published in the endpoints parameter, which the API functions may read', () => {
    const parameter = resourceOf(template, 'AWS::SSM::Parameter', 'ClusterEndpoints');
    const value = JSON.stringify(parameter.props.Value);
    for (const role of ['Produce', 'Fetch', 'Admin', 'Groups', 'Schemas']) {
      const url = resourceOf(template, 'AWS::Lambda::Url', `Cluster${role}FunctionFunctionUrl`);
      expect(value).toContain(`"${role.toLowerCase()}\\":\\"`);
      expect(value).toContain(url.id);
      const reads = roleStatements(template, `Cluster${role}Role`).filter(
        (s) => s.Action === 'ssm:GetParameter',
      );
      expect(JSON.stringify(reads[0]?.Resource)).toContain(`:parameter${parameter.props.Name as string}`);
    }
    expect(roleActions(template, 'ClusterMaintenanceRole')).not.toContain('ssm:GetParameter');
  });
});

describe('least privilege', () => {
  const writes = [
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:DeleteItem',
    'dynamodb:BatchWriteItem',
  ];

  it('fetch cannot write objects or items', () => {
    const actions = roleActions(template, 'ClusterFetchRole');
    expect(actions).toEqual(expect.arrayContaining(['s3:GetObject', 's3:ListBucket', 'dynamodb:Query']));
    for (const a of ['s3:PutObject', 's3:DeleteObject', ...writes]) expect(actions).not.toContain(a);
  });

  it('produce writes objects and items (deleting items: the write intents it commits) but cannot delete objects or list the bucket', () => {
    const actions = roleActions(template, 'ClusterProduceRole');
    expect(actions).toEqual(
      expect.arrayContaining([
        's3:PutObject',
        's3:GetObject',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:DeleteItem',
      ]),
    );
    for (const a of ['s3:DeleteObject', 's3:ListBucket', 'dynamodb:BatchWriteItem']) {
      expect(actions).not.toContain(a);
    }
  });

  it('admin and groups never touch S3', () => {
    expect(roleActions(template, 'ClusterGroupsRole').filter((a) => a.startsWith('s3:'))).toEqual([]);
    expect(roleActions(template, 'ClusterAdminRole').filter((a) => a.startsWith('s3:'))).toEqual([]);
  });

  it('only maintenance deletes objects and sends to its queues; only produce sends to the inbox', () => {
    const actions = roleActions(template, 'ClusterMaintenanceRole');
    // Tasks go to the queue; failed scheduled invocations to the dead-letter queue.
    const sends = roleStatements(template, 'ClusterMaintenanceRole').filter((s) =>
      [s.Action].flat().includes('sqs:SendMessage'),
    );
    expect(
      sends.map((s) => s.Resource).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    ).toEqual(
      ['ClusterMaintenanceDeadLetters', 'ClusterMaintenanceQueue'].map((q) => ({
        'Fn::GetAtt': [resourceOf(template, 'AWS::SQS::Queue', q).id, 'Arn'],
      })),
    );
    expect(actions).toEqual(expect.arrayContaining(['s3:DeleteObject', 's3:ListBucket', 'sqs:SendMessage']));
    for (const role of ['Produce', 'Fetch', 'Admin', 'Groups', 'Schemas', 'Batcher']) {
      const other = roleActions(template, `Cluster${role}Role`);
      expect(other).not.toContain('s3:DeleteObject');
      const sendsTo = roleStatements(template, `Cluster${role}Role`)
        .filter((s) => [s.Action].flat().includes('sqs:SendMessage'))
        .map((s) => s.Resource);
      // POST /v1/inbox (acks=1 without AWS credentials) goes through produce.
      expect(sendsTo).toEqual(role === 'Produce' ? [{ 'Fn::GetAtt': [inboxQueue(template).id, 'Arn'] }] : []);
    }
  });

  it('grants only the item actions the DynamoDB adapter uses', () => {
    const used = new Set([
      'dynamodb:GetItem',
      'dynamodb:BatchGetItem',
      'dynamodb:Query',
      'dynamodb:PutItem',
      'dynamodb:UpdateItem',
      'dynamodb:DeleteItem',
      'dynamodb:ConditionCheckItem',
    ]);
    for (const role of ALL_ROLES) {
      for (const a of roleActions(template, `Cluster${role}Role`).filter((x) => x.startsWith('dynamodb:'))) {
        expect(used, `${role} ${a}`).toContain(a);
      }
    }
  });

  it('grants no wildcard action, scopes objects to data/ and items to the one table', () => {
    const tableId = resourceOf(template, 'AWS::DynamoDB::Table', 'ClusterMeta').id;
    const bucketId = resourceOf(template, 'AWS::S3::Bucket', 'ClusterData').id;
    for (const role of ALL_ROLES) {
      for (const s of roleStatements(template, `Cluster${role}Role`)) {
        const actions = Array.isArray(s.Action) ? s.Action : [s.Action];
        for (const a of actions) expect(a).not.toContain('*');
        expect(s.Resource).not.toBe('*');
        if (actions.some((a) => a.startsWith('s3:') && a !== 's3:ListBucket')) {
          expect(s.Resource).toEqual({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucketId, 'Arn'] }, '/data/*']] });
        }
        if (actions.some((a) => a.startsWith('dynamodb:')))
          expect(s.Resource).toEqual({ 'Fn::GetAtt': [tableId, 'Arn'] });
      }
    }
  });

  it('lists only the one bucket, so missing objects read as 404', () => {
    const bucketId = resourceOf(template, 'AWS::S3::Bucket', 'ClusterData').id;
    for (const role of ['Fetch', 'Maintenance']) {
      const list = roleStatements(template, `Cluster${role}Role`).find((s) => s.Action === 's3:ListBucket');
      expect(list?.Resource).toEqual({ 'Fn::GetAtt': [bucketId, 'Arn'] });
    }
  });

  it('uses no managed policies (each role may write only to its own log group)', () => {
    for (const role of ALL_ROLES) {
      const r = resourceOf(template, 'AWS::IAM::Role', `Cluster${role}Role`);
      expect(r.props.ManagedPolicyArns).toBeUndefined();
      const logs = roleStatements(template, `Cluster${role}Role`).find((s) =>
        String(s.Action).includes('logs:'),
      );
      expect(logs?.Resource).toEqual({
        'Fn::GetAtt': [resourceOf(template, 'AWS::Logs::LogGroup', `Cluster${role}Logs`).id, 'Arn'],
      });
    }
  });
});

describe('maintenance', () => {
  const queue = resourceOf(template, 'AWS::SQS::Queue', 'ClusterMaintenanceQueue');
  const dlq = resourceOf(template, 'AWS::SQS::Queue', 'ClusterMaintenanceDeadLetters');

  it('is an encrypted queue with a dead-letter queue, both TLS only', () => {
    expect(queue.props.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [dlq.id, 'Arn'] },
      maxReceiveCount: 5,
    });
    expect(queue.props.VisibilityTimeout).toBe(720);
    expect(queue.props.SqsManagedSseEnabled).toBe(true);
    expect(dlq.props.SqsManagedSseEnabled).toBe(true);
    expect(dlq.props.MessageRetentionPeriod).toBe(14 * 24 * 3600);
    for (const q of [queue, dlq]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: q.id }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  it('is planned every minute by a rule invoking the maintenance function, whose failures are dead-lettered', () => {
    const rule = resourceOf(template, 'AWS::Events::Rule', 'ClusterMaintenanceSchedule');
    expect(rule.props.ScheduleExpression).toBe('rate(1 minute)');
    expect(rule.props.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': [fn('Maintenance').id, 'Arn'] },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlq.id, 'Arn'] } },
        RetryPolicy: { MaximumEventAgeInSeconds: 600, MaximumRetryAttempts: 2 },
      }),
    ]);
    // The handler tells a schedule from SQS by the event's shape: no custom input.
    expect((rule.props.Targets as Record<string, unknown>[])[0]?.Input).toBeUndefined();
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      FunctionName: { 'Fn::GetAtt': [fn('Maintenance').id, 'Arn'] },
      Principal: 'events.amazonaws.com',
      SourceArn: { 'Fn::GetAtt': [rule.id, 'Arn'] },
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: fn('Maintenance').id },
      MaximumRetryAttempts: 0,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [dlq.id, 'Arn'] } } },
    });
  });

  it('feeds the maintenance function, with partial batch failures and bounded concurrency', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fn('Maintenance').id },
      EventSourceArn: { 'Fn::GetAtt': [queue.id, 'Arn'] },
      BatchSize: 10,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
    const mappings = Object.values(template.findResources('AWS::Lambda::EventSourceMapping'));
    expect(
      mappings.filter((m) => JSON.stringify(m.Properties.FunctionName).includes(fn('Maintenance').id)),
    ).toHaveLength(1);
  });
});

describe('acks=1 inbox', () => {
  const inbox = inboxQueue(template);
  const dlq = resourceOf(template, 'AWS::SQS::Queue', 'ClusterInboxDeadLetters');

  it('is an SSE-SQS standard queue kept 4 days, TLS only, redriven to its own dead-letter queue', () => {
    expect(inbox.props.FifoQueue).toBeUndefined();
    expect(inbox.props.SqsManagedSseEnabled).toBe(true);
    expect(inbox.props.KmsMasterKeyId).toBeUndefined();
    // Shorter than the batcher's ledger (5 days): a redelivery is always recognised.
    expect(inbox.props.MessageRetentionPeriod).toBe(4 * 24 * 3600);
    // Six times the batcher's timeout (30 s), as AWS advises for SQS event sources, and
    // short enough that a failed batch's messages come back within the order horizon.
    expect(inbox.props.VisibilityTimeout).toBe(180);
    const windowMs = 1000;
    expect((inbox.props.VisibilityTimeout as number) * 1000 + windowMs).toBeLessThan(
      INBOX_ORDER_HORIZON_MS - DEFAULT_BATCHER_OPTIONS.skewMs,
    );
    expect(inbox.props.RedrivePolicy).toEqual({
      deadLetterTargetArn: { 'Fn::GetAtt': [dlq.id, 'Arn'] },
      maxReceiveCount: INBOX_MAX_RECEIVE_COUNT,
    });
    // A message held back for its predecessor is received at most once a second for the
    // order horizon (5 min): it never reaches the dead-letter queue that way.
    expect(INBOX_MAX_RECEIVE_COUNT).toBeGreaterThan(
      (INBOX_ORDER_HORIZON_MS + DEFAULT_BATCHER_OPTIONS.skewMs) / INBOX_HOLD_BACK_MS,
    );
    expect(DEFAULT_BATCHER_OPTIONS.orderHorizonMs).toBe(INBOX_ORDER_HORIZON_MS);
    expect(dlq.props.SqsManagedSseEnabled).toBe(true);
    expect(dlq.props.MessageRetentionPeriod).toBe(14 * 24 * 3600);
    for (const q of [inbox, dlq]) {
      template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: q.id }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  it('feeds the batcher: big batches, a 1 s window, partial batch failures, bounded concurrency', () => {
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: fn('Batcher').id },
      EventSourceArn: { 'Fn::GetAtt': [inbox.id, 'Arn'] },
      BatchSize: 10_000,
      MaximumBatchingWindowInSeconds: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 5 },
    });
    expect(fn('Batcher').props).toMatchObject({ MemorySize: 512, Timeout: 30 });
    const env = (fn('Batcher').props.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(env.SLUICE_INBOX_URL).toEqual({ Ref: inbox.id });
    expect(env.SLUICE_ENDPOINTS_PARAMETER).toBeUndefined();
    expect(Object.keys(template.findResources('AWS::Lambda::Url')).join()).not.toContain('Batcher');
  });

  it('the batcher appends like produce, receives and releases inbox messages, and nothing else', () => {
    const actions = roleActions(template, 'ClusterBatcherRole');
    expect(actions).toEqual(
      expect.arrayContaining([
        's3:PutObject',
        's3:GetObject',
        'dynamodb:PutItem',
        'dynamodb:UpdateItem',
        'dynamodb:Query',
        'sqs:ReceiveMessage',
        'sqs:DeleteMessage',
        // Held-back and invalid messages come back after a second (lambdas/batcher.ts).
        'sqs:ChangeMessageVisibility',
      ]),
    );
    for (const a of [
      's3:DeleteObject',
      's3:ListBucket',
      'dynamodb:DeleteItem',
      'sqs:SendMessage',
      'ssm:GetParameter',
    ])
      expect(actions).not.toContain(a);
    for (const s of roleStatements(template, 'ClusterBatcherRole')) {
      if ([s.Action].flat().some((a) => a.startsWith('sqs:')))
        expect(s.Resource).toEqual({ 'Fn::GetAtt': [inbox.id, 'Arn'] });
    }
  });

  it('refuses at synth a batch above 10 messages without a batching window (SQS would at deploy)', () => {
    expect(() =>
      clusterStack({ inboxBatchWindow: Duration.seconds(0), dashboard: false, alarms: false }),
    ).toThrow(/inboxBatchWindow of at least 1 second/);
    expect(() =>
      clusterStack({
        inboxBatchSize: 10,
        inboxBatchWindow: Duration.seconds(0),
        dashboard: false,
        alarms: false,
      }),
    ).not.toThrow();
  });

  it('warns at synth when the inbox-age alarm would fire only past the order horizon', () => {
    const late = clusterStack({ inboxAgeAlarmThreshold: Duration.minutes(6), dashboard: false });
    expect(
      Annotations.fromStack(late.stack).findWarning('*', Match.stringLikeRegexp('order horizon')),
    ).toHaveLength(1);
    expect(
      Annotations.fromStack(base.stack).findWarning('*', Match.stringLikeRegexp('order horizon')),
    ).toEqual([]);
  });

  it('inbox size, window and concurrency are configurable', () => {
    const { template: t } = clusterStack({
      inboxBatchSize: 500,
      inboxBatchWindow: Duration.seconds(20),
      inboxMaxConcurrency: 2,
      batcherMemorySize: 2048,
      inboxAgeAlarmThreshold: Duration.seconds(90),
      dashboard: false,
    });
    const batcher = resourceOf(t, 'AWS::Lambda::Function', 'ClusterBatcherFunction');
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: batcher.id },
      BatchSize: 500,
      MaximumBatchingWindowInSeconds: 20,
      ScalingConfig: { MaximumConcurrency: 2 },
    });
    expect(batcher.props.MemorySize).toBe(2048);
    t.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateAgeOfOldestMessage',
      Threshold: 90,
    });
  });
});

describe('acks=1 inbox on Kinesis (inboxBackend: kinesis)', () => {
  const kin = clusterStack({ inboxBackend: 'kinesis' });
  const t = kin.template;
  const stream = resourceOf(t, 'AWS::Kinesis::Stream', 'ClusterInboxStream');
  const dlq = resourceOf(t, 'AWS::SQS::Queue', 'ClusterInboxDeadLetters');
  const kfn = (role: string) => resourceOf(t, 'AWS::Lambda::Function', `Cluster${role}Function`);
  const streamArn = { 'Fn::GetAtt': [stream.id, 'Arn'] };
  const envOf = (role: string) =>
    (kfn(role).props.Environment as { Variables: Record<string, unknown> }).Variables;

  it('is a provisioned stream of 1 shard kept 24 hours, SSE with the AWS-managed key, instead of the queue', () => {
    expect(stream.props).toEqual({
      StreamModeDetails: { StreamMode: 'PROVISIONED' },
      ShardCount: 1,
      RetentionPeriodHours: 24,
      // aws/kinesis: producers and the batcher need no KMS permission (cdk-nag KDS1, KDS3).
      StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
    });
    // Deleted with the stack, like the SQS inbox: a retained stream bills shard-hours.
    expect(stream.raw.DeletionPolicy).toBe('Delete');
    expect(kin.cluster.inboxBackend).toBe('kinesis');
    expect(kin.cluster.inboxQueue).toBeUndefined();
    expect(kin.cluster.inboxStream).toBeDefined();
    expect(base.cluster.inboxBackend).toBe('sqs');
    expect(base.cluster.inboxStream).toBeUndefined();
    expect(Object.keys(t.findResources('AWS::Kinesis::Stream'))).toEqual([stream.id]);
    expect(
      Object.keys(json.Resources).filter((k) => json.Resources[k]!.Type === 'AWS::Kinesis::Stream'),
    ).toEqual([]);
    // No SQS inbox; its dead-letter queue stays (the batcher's invalid records, discarded batches).
    const queues = Object.keys(t.findResources('AWS::SQS::Queue')).map((k) => k.replace(/[0-9A-F]{8}$/, ''));
    expect(queues.sort()).toEqual([
      'ClusterInboxDeadLetters',
      'ClusterMaintenanceDeadLetters',
      'ClusterMaintenanceQueue',
    ]);
    expect(dlq.props).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
  });

  it('feeds the batcher shard by shard from the oldest record, retried without limit, item failures by sequence number', () => {
    const mappings = Object.values(t.findResources('AWS::Lambda::EventSourceMapping')).filter(
      (m) => JSON.stringify(m.Properties.FunctionName) === JSON.stringify({ Ref: kfn('Batcher').id }),
    );
    expect(mappings.map((m) => m.Properties)).toEqual([
      {
        FunctionName: { Ref: kfn('Batcher').id },
        EventSourceArn: streamArn,
        StartingPosition: 'TRIM_HORIZON',
        BatchSize: 10_000,
        MaximumBatchingWindowInSeconds: 2, // the Kinesis default (defaultInboxBatchWindow)
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        BisectBatchOnFunctionError: false,
        ParallelizationFactor: 1,
        // Infinite: acknowledged events are never dropped by a retry limit (and no record-age limit).
        MaximumRetryAttempts: -1,
        DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [dlq.id, 'Arn'] } } },
      },
    ]);
    // The same function as with SQS: the mapping differs, not the batcher.
    expect(kfn('Batcher').props).toMatchObject({ MemorySize: 512, Timeout: 30 });
    expect(String(kfn('Batcher').props.Description)).toMatch(/fed by Kinesis$/);
  });

  it('names the stream to every API function instead of the queue; the batcher also gets the dead-letter queue', () => {
    for (const role of ['Produce', 'Fetch', 'Admin', 'Groups', 'Schemas', 'Batcher']) {
      const env = envOf(role);
      expect(env.SLUICE_INBOX_STREAM, role).toEqual(streamArn);
      expect(env.SLUICE_INBOX_URL, role).toBeUndefined();
      expect(env.SLUICE_INBOX_DLQ_URL, role).toEqual(role === 'Batcher' ? { Ref: dlq.id } : undefined);
    }
    expect(envOf('Maintenance').SLUICE_INBOX_STREAM).toBeUndefined();
    expect(envOf('Batcher').SLUICE_ENDPOINTS_PARAMETER).toBeUndefined();
  });

  it('only produce puts records, only the batcher reads them and sends to the dead-letter queue; no KMS grant', () => {
    const kinesisStatements = (role: string) =>
      roleStatements(t, `Cluster${role}Role`).filter((s) =>
        [s.Action].flat().some((a) => a.startsWith('kinesis:')),
      );
    expect(kinesisStatements('Produce').map((s) => [[s.Action].flat().sort(), s.Resource])).toEqual([
      [['kinesis:PutRecord', 'kinesis:PutRecords'], streamArn],
    ]);
    const reads = kinesisStatements('Batcher');
    expect(reads.map((s) => s.Resource)).toEqual([streamArn]);
    expect([reads[0]!.Action].flat()).toEqual(
      expect.arrayContaining(['kinesis:GetRecords', 'kinesis:GetShardIterator', 'kinesis:ListShards']),
    );
    expect([reads[0]!.Action].flat()).not.toContain('kinesis:PutRecords');
    for (const role of ['Fetch', 'Admin', 'Groups', 'Schemas', 'Maintenance']) {
      expect(kinesisStatements(role), role).toEqual([]);
    }
    const sqsOf = (role: string) =>
      roleStatements(t, `Cluster${role}Role`).filter((s) =>
        [s.Action].flat().some((a) => a.startsWith('sqs:')),
      );
    expect(sqsOf('Batcher').map((s) => s.Resource)).toEqual([{ 'Fn::GetAtt': [dlq.id, 'Arn'] }]);
    expect([sqsOf('Batcher')[0]!.Action].flat()).toContain('sqs:SendMessage');
    expect(roleActions(t, 'ClusterBatcherRole')).not.toContain('sqs:ReceiveMessage');
    expect(sqsOf('Produce')).toEqual([]);
    for (const role of ALL_ROLES) {
      expect(
        roleActions(t, `Cluster${role}Role`).filter((a) => a.startsWith('kms:')),
        role,
      ).toEqual([]);
    }
  });

  it("alarms on the batcher's iterator age instead of the queue's oldest message, and on dead letters", () => {
    const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    expect(alarms).toHaveLength(22);
    expect(alarms.filter((a) => a.MetricName === 'ApproximateAgeOfOldestMessage')).toEqual([]);
    expect(alarms).toContainEqual(
      expect.objectContaining({
        Namespace: 'AWS/Lambda',
        MetricName: 'IteratorAge',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: kfn('Batcher').id } }],
        Statistic: 'Maximum',
        Period: 60,
        // Two minutes in ms (IteratorAge is in milliseconds), below the order horizon.
        Threshold: 120_000,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      }),
    );
    expect(alarms).toContainEqual(
      expect.objectContaining({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq.id, 'QueueName'] } }],
        Threshold: 1,
      }),
    );
    const body = JSON.stringify(
      resourceOf(t, 'AWS::CloudWatch::Dashboard', 'ClusterMonitoringDashboard').props,
    );
    expect(body).toContain('acks=1 inbox (Kinesis)');
    expect(body).toContain('IncomingRecords');
    expect(body).toContain('IteratorAge');
  });

  it('grantProduce allows putting records to the stream (no SQS, no KMS) and the produce URL, nothing more', () => {
    const { template: g } = clusterStack(
      { inboxBackend: 'kinesis', dashboard: false, alarms: false },
      {
        after: (stack, cluster) => {
          expect(
            cluster.grantProduce(new iam.Role(stack, 'Client', { assumedBy: new iam.AccountRootPrincipal() }))
              .success,
          ).toBe(true);
        },
      },
    );
    const statements = roleStatements(g, 'Client');
    const gStream = { 'Fn::GetAtt': [resourceOf(g, 'AWS::Kinesis::Stream', 'ClusterInboxStream').id, 'Arn'] };
    expect(
      statements
        .filter((s) => [s.Action].flat().some((a) => a.startsWith('kinesis:')))
        .map((s) => [s.Action, s.Resource]),
    ).toEqual([[['kinesis:PutRecord', 'kinesis:PutRecords'], gStream]]);
    expect(statements.some((s) => [s.Action].flat().some((a) => /^(sqs|kms):/.test(a)))).toBe(false);
    expect(statements.filter((s) => s.Action === 'lambda:InvokeFunctionUrl')).toHaveLength(1);
    expect(statements).toHaveLength(3);
  });

  it('shards, retention, batch size and window are configurable; a window under 1 s is fine for Kinesis', () => {
    const { template: c } = clusterStack({
      inboxBackend: 'kinesis',
      inboxShards: 4,
      inboxRetention: Duration.days(4),
      inboxBatchSize: 2_000,
      inboxBatchWindow: Duration.seconds(0),
      inboxAgeAlarmThreshold: Duration.seconds(90),
      dashboard: false,
    });
    expect(resourceOf(c, 'AWS::Kinesis::Stream', 'ClusterInboxStream').props).toMatchObject({
      ShardCount: 4,
      RetentionPeriodHours: 96,
    });
    c.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      StartingPosition: 'TRIM_HORIZON',
      BatchSize: 2_000,
      MaximumBatchingWindowInSeconds: 0,
    });
    c.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'IteratorAge', Threshold: 90_000 });
  });

  it.each([
    [{ inboxShards: 2 }, /inboxShards applies to the Kinesis inbox only/],
    [{ inboxRetention: Duration.days(2) }, /inboxRetention applies to the Kinesis inbox only/],
    [{ inboxBackend: 'kinesis', inboxShards: 0 }, /inboxShards is 0/],
    [{ inboxBackend: 'kinesis', inboxShards: 1.5 }, /inboxShards is 1.5/],
    [{ inboxBackend: 'kinesis', inboxRetention: Duration.hours(12) }, /inboxRetention is 12 hours/],
    // Past the ledger's memory a redelivered record could be committed twice.
    [{ inboxBackend: 'kinesis', inboxRetention: Duration.days(7) }, /inboxRetention is 7 days.*ledger/],
    [
      { inboxBackend: 'kinesis', inboxRetention: Duration.hours(97) },
      /inboxRetention is 4 days 1 hour.*to 4 days/,
    ],
    [{ inboxBackend: 'kinesis', inboxRetention: Duration.minutes(1530) }, /whole hours/],
    [
      { inboxBackend: 'kinesis', inboxMaxConcurrency: 3 },
      /inboxMaxConcurrency applies to the SQS inbox only/,
    ],
    [{ inboxBackend: 'sqs-fifo' }, /inboxBackend is 'sqs-fifo'/],
  ] as [Record<string, unknown>, RegExp][])('refuses %j at synth', (props, message) => {
    const build = () => clusterStack({ ...props, dashboard: false, alarms: false });
    expect(build).toThrow(InvalidInboxOptionsError);
    expect(build).toThrow(message);
  });

  it("refuses a batch above Kinesis's 10,000 records", () => {
    expect(() =>
      clusterStack({ inboxBackend: 'kinesis', inboxBatchSize: 10_001, dashboard: false, alarms: false }),
    ).toThrow(/10000/);
  });

  it("keeps records a day less than the batcher's ledger remembers committed events", () => {
    expect(INBOX_LEDGER_TTL.toMilliseconds()).toBe(DEFAULT_BATCHER_OPTIONS.ledgerTtlMs);
    expect(KINESIS_INBOX_MAX_RETENTION.toMilliseconds()).toBe(
      DEFAULT_BATCHER_OPTIONS.ledgerTtlMs - 24 * 3600_000,
    );
  });
});

describe('monitoring', () => {
  it('alarms on errors and throttles of every function and on dead-lettered work', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    // 7 functions × (errors, throttles), 5 URL functions × server errors, dead letters,
    // inbox age, inbox dead letters.
    expect(alarms).toHaveLength(22);
    for (const role of ALL_ROLES) {
      // Answered server errors (STORAGE_MISCONFIGURED…) are not in Lambda's Errors metric.
      const url = alarms.filter(
        (a) => a.MetricName === 'Url5xxCount' && JSON.stringify(a.Dimensions).includes(fn(role).id),
      );
      expect(url).toEqual(
        role === 'Maintenance' || role === 'Batcher'
          ? []
          : [
              expect.objectContaining({
                Namespace: 'AWS/Lambda',
                Statistic: 'Sum',
                Period: 300,
                Dimensions: [{ Name: 'FunctionName', Value: { Ref: fn(role).id } }],
                Threshold: 5,
              }),
            ],
      );
      for (const metric of ['Errors', 'Throttles']) {
        expect(alarms).toContainEqual(
          expect.objectContaining({
            MetricName: metric,
            Namespace: 'AWS/Lambda',
            Dimensions: [{ Name: 'FunctionName', Value: { Ref: fn(role).id } }],
            Threshold: 1,
            TreatMissingData: 'notBreaching',
          }),
        );
      }
    }
    expect(alarms).toContainEqual(
      expect.objectContaining({
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [
          {
            Name: 'QueueName',
            Value: {
              'Fn::GetAtt': [
                resourceOf(template, 'AWS::SQS::Queue', 'ClusterMaintenanceDeadLetters').id,
                'QueueName',
              ],
            },
          },
        ],
      }),
    );
  });

  it('alarms when the inbox falls behind (age of its oldest message) and on dead-lettered inbox messages', () => {
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    const inbox = inboxQueue(template).id;
    const dlq = resourceOf(template, 'AWS::SQS::Queue', 'ClusterInboxDeadLetters').id;
    expect(alarms).toContainEqual(
      expect.objectContaining({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateAgeOfOldestMessage',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [inbox, 'QueueName'] } }],
        Statistic: 'Maximum',
        Period: 60,
        // Two minutes: below the batcher's order horizon (5 minutes).
        Threshold: 120,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      }),
    );
    expect(alarms).toContainEqual(
      expect.objectContaining({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlq, 'QueueName'] } }],
        Threshold: 1,
      }),
    );
    const body = JSON.stringify(
      resourceOf(template, 'AWS::CloudWatch::Dashboard', 'ClusterMonitoringDashboard').props,
    );
    expect(body).toContain('acks=1 inbox');
  });

  it('notifies an alarm topic from every alarm', () => {
    const { template: t } = clusterStack(
      { dashboard: false },
      { before: (stack) => ({ alarmTopic: new sns.Topic(stack, 'Ops') }) },
    );
    const alarms = Object.values(t.findResources('AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    const topic = resourceOf(t, 'AWS::SNS::Topic', 'Ops').id;
    expect(alarms).toHaveLength(22);
    for (const alarm of alarms) expect(alarm.AlarmActions).toEqual([{ Ref: topic }]);
  });

  it('has a dashboard with traffic, lag, errors, throttles and duration', () => {
    const body = JSON.stringify(
      resourceOf(template, 'AWS::CloudWatch::Dashboard', 'ClusterMonitoringDashboard').props,
    );
    for (const name of [
      'BytesIn',
      'RecordsIn',
      'BytesOut',
      'RecordsOut',
      'ConsumerLag',
      'Errors',
      'Throttles',
      'Duration',
    ]) {
      expect(body).toContain(name);
    }
    expect(body).toContain(
      `{Sluice,service,topic} MetricName=\\\\\\"BytesIn\\\\\\" service=\\\\\\"Test-Cluster\\\\\\"`,
    );
  });
});

describe('deploy-time topics', () => {
  it('passes the declared topics to a custom resource whose handler may only invoke the admin function', () => {
    const topics = resourceOf(template, 'Custom::SluiceTopics', 'ClusterTopics');
    expect(JSON.parse(topics.props.Topics as string)).toEqual([
      { name: 'orders', partitions: 3, config: { 'cleanup.policy': 'compact' } },
    ]);
    const handler = resourceOf(template, 'AWS::Lambda::Function', 'ClusterTopicsHandlerFunction');
    expect(topics.props.ServiceToken).toEqual({ 'Fn::GetAtt': [handler.id, 'Arn'] });
    const invoke = roleStatements(template, 'ClusterTopicsHandlerRole').filter(
      (s) => s.Action === 'lambda:InvokeFunction',
    );
    expect(invoke).toEqual([
      expect.objectContaining({ Resource: { 'Fn::GetAtt': [fn('Admin').id, 'Arn'] } }),
    ]);
    expect(roleActions(template, 'ClusterTopicsHandlerRole').sort()).toEqual(
      ['lambda:InvokeFunction', 'logs:CreateLogStream', 'logs:PutLogEvents'].sort(),
    );
  });

  it('refuses an invalid topic at synth time', () => {
    expect(() => clusterStack({ topics: [{ name: 'bad name' }] })).toThrow(InvalidTopicSpecError);
    expect(() => clusterStack({ topics: [{ name: 'a', partitions: 0 }] })).toThrow(/partitions/);
    expect(() => clusterStack({ topics: [{ name: 'a' }, { name: 'a' }] })).toThrow(/twice/);
  });

  it('adds nothing when no topic is declared', () => {
    const { template: t } = clusterStack({ dashboard: false, alarms: false });
    expect(t.findResources('Custom::SluiceTopics')).toEqual({});
    expect(t.findResources('AWS::CloudWatch::Alarm')).toEqual({});
    expect(t.findResources('AWS::CloudWatch::Dashboard')).toEqual({});
  });
});

describe('grants', () => {
  const granted = (method: 'grantProduce' | 'grantConsume' | 'grantAdmin') => {
    let grant: iam.Grant | undefined;
    const built = clusterStack(
      { dashboard: false, alarms: false },
      {
        after: (stack, cluster) => {
          grant = cluster[method](
            new iam.Role(stack, 'Client', { assumedBy: new iam.AccountRootPrincipal() }),
          );
        },
      },
    );
    const target = (role: string) => ({
      'Fn::GetAtt': [resourceOf(built.template, 'AWS::Lambda::Function', `Cluster${role}Function`).id, 'Arn'],
    });
    return {
      grant: grant!,
      statements: roleStatements(built.template, 'Client'),
      target,
      template: built.template,
    };
  };

  it('grantProduce also allows sending to the inbox (acks=1/0 straight to SQS), and nothing more', () => {
    const { grant, statements, target, template: t } = granted('grantProduce');
    expect(grant.success).toBe(true);
    expect(statements.filter((s) => s.Action === 'lambda:InvokeFunctionUrl').map((s) => s.Resource)).toEqual([
      target('Produce'),
    ]);
    const sqsStatements = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('sqs:')));
    // SendMessageBatch is authorised by sqs:SendMessage; SSE-SQS needs no KMS permission.
    expect(sqsStatements.map((s) => [[s.Action].flat().sort(), s.Resource])).toEqual([
      [
        ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'],
        { 'Fn::GetAtt': [inboxQueue(t).id, 'Arn'] },
      ],
    ]);
    expect(statements.some((s) => [s.Action].flat().some((a) => a.startsWith('kms:')))).toBe(false);
    expect(statements).toHaveLength(3);
  });

  it.each([
    ['grantConsume', ['Fetch', 'Groups']],
    ['grantAdmin', ['Admin']],
  ] as const)('%s allows invoking exactly the URLs of %j, with IAM auth', (method, roles) => {
    const { grant, statements, target } = granted(method);
    expect(grant.success).toBe(true);
    const urlInvokes = statements.filter((s) => s.Action === 'lambda:InvokeFunctionUrl');
    const viaUrl = statements.filter((s) => s.Action === 'lambda:InvokeFunction');
    expect(urlInvokes.map((s) => s.Resource)).toEqual(roles.map(target));
    for (const s of urlInvokes)
      expect(s.Condition).toEqual({ StringEquals: { 'lambda:FunctionUrlAuthType': 'AWS_IAM' } });
    // Function URLs also check lambda:InvokeFunction, limited here to calls through the URL.
    expect(viaUrl.map((s) => s.Resource)).toEqual(roles.map(target));
    for (const s of viaUrl) expect(s.Condition).toEqual({ Bool: { 'lambda:InvokedViaFunctionUrl': true } });
    expect(statements).toHaveLength(roles.length * 2);
  });
});

describe('SluiceCluster.fromAttributes', () => {
  const attrs = {
    produceFunctionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:p',
    fetchFunctionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:f',
    adminFunctionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:a',
    groupsFunctionArn: 'arn:aws:lambda:eu-west-1:111122223333:function:g',
    bootstrapUrl: 'https://abc.lambda-url.eu-west-1.on.aws/',
    serviceName: 'Events-Cluster',
  };

  it('grants URL invocation on the imported functions and makes the same metrics, creating nothing else', () => {
    const stack = new Stack(fastApp(), 'User', { env: { account: '111122223333', region: 'eu-west-1' } });
    const cluster: ISluiceCluster = SluiceCluster.fromAttributes(stack, 'Events', attrs);
    const role = new iam.Role(stack, 'Client', { assumedBy: new iam.AccountRootPrincipal() });
    expect(cluster.grantConsume(role).success).toBe(true);
    expect(cluster.grantProduce(role).success).toBe(true);
    const template = Template.fromStack(stack);
    const statements = roleStatements(template, 'Client');
    const on = (action: string) =>
      statements
        .filter((s) => s.Action === action)
        .map((s) => s.Resource as string)
        .sort();
    const arns = [attrs.fetchFunctionArn, attrs.groupsFunctionArn, attrs.produceFunctionArn].sort();
    expect(on('lambda:InvokeFunctionUrl')).toEqual(arns);
    expect(on('lambda:InvokeFunction')).toEqual(arns);
    expect(Object.keys(template.findResources('AWS::Lambda::Function'))).toEqual([]);
    expect(Object.keys(template.findResources('AWS::Lambda::Permission'))).toEqual([]);
    const m = cluster.metric('BytesIn', { topic: 'orders' }) as cloudwatch.Metric;
    expect(m.dimensions).toEqual({ service: 'Events-Cluster', topic: 'orders' });
    expect(cluster.bootstrapUrl).toBe(attrs.bootstrapUrl);
  });

  it('with the inbox ARN, grantProduce also allows sending to the inbox', () => {
    const stack = new Stack(fastApp(), 'User', { env: { account: '111122223333', region: 'eu-west-1' } });
    const inboxQueueArn = 'arn:aws:sqs:eu-west-1:111122223333:sluice-inbox';
    const cluster = SluiceCluster.fromAttributes(stack, 'Events', { ...attrs, inboxQueueArn });
    const role = new iam.Role(stack, 'Client', { assumedBy: new iam.AccountRootPrincipal() });
    expect(cluster.grantProduce(role).success).toBe(true);
    const statements = roleStatements(Template.fromStack(stack), 'Client');
    expect(statements.filter((s) => s.Action === 'sqs:SendMessage').map((s) => s.Resource)).toEqual([
      inboxQueueArn,
    ]);
    expect(statements.filter((s) => s.Action === 'lambda:InvokeFunctionUrl').map((s) => s.Resource)).toEqual([
      attrs.produceFunctionArn,
    ]);
  });

  it('with the Kinesis inbox ARN, grantProduce also allows putting records to it; not with a queue ARN too', () => {
    const stack = new Stack(fastApp(), 'User', { env: { account: '111122223333', region: 'eu-west-1' } });
    const inboxStreamArn = 'arn:aws:kinesis:eu-west-1:111122223333:stream/sluice-inbox';
    const cluster = SluiceCluster.fromAttributes(stack, 'Events', { ...attrs, inboxStreamArn });
    const role = new iam.Role(stack, 'Client', { assumedBy: new iam.AccountRootPrincipal() });
    expect(cluster.grantProduce(role).success).toBe(true);
    const statements = roleStatements(Template.fromStack(stack), 'Client');
    expect(
      statements
        .filter((s) => [s.Action].flat().some((a) => a.startsWith('kinesis:')))
        .map((s) => [s.Action, s.Resource]),
    ).toEqual([[['kinesis:PutRecord', 'kinesis:PutRecords'], inboxStreamArn]]);
    expect(statements.some((s) => [s.Action].flat().some((a) => /^(sqs|kms):/.test(a)))).toBe(false);
    expect(() =>
      SluiceCluster.fromAttributes(stack, 'Both', {
        ...attrs,
        inboxStreamArn,
        inboxQueueArn: 'arn:aws:sqs:eu-west-1:111122223333:sluice-inbox',
      }),
    ).toThrow(InvalidInboxOptionsError);
  });

  it('a built cluster is an ISluiceCluster another stack of the app can use', () => {
    const app = fastApp();
    const owner = new Stack(app, 'Owner');
    const cluster = new SluiceCluster(owner, 'Cluster', {
      entryDir: FIXTURE_ENTRY_DIR,
      dashboard: false,
      alarms: false,
    });
    const user = new Stack(app, 'User');
    const useCluster = (c: ISluiceCluster) =>
      c.grantProduce(new iam.Role(user, 'Client', { assumedBy: new iam.AccountRootPrincipal() }));
    expect(useCluster(cluster).success).toBe(true);
    const statements = roleStatements(Template.fromStack(user), 'Client');
    // The ARN crosses stacks as an export of the owner's function.
    expect(JSON.stringify(statements)).toContain('Fn::ImportValue');
  });
});

describe('metrics', () => {
  const cluster = base.cluster;

  it('per topic: a plain metric in namespace Sluice with service and topic dimensions', () => {
    const m = cluster.metricBytesIn({ topic: 'orders', period: Duration.minutes(5) }) as cloudwatch.Metric;
    expect(m).toBeInstanceOf(cloudwatch.Metric);
    expect([m.namespace, m.metricName, m.statistic, m.period.toMinutes()]).toEqual([
      'Sluice',
      'BytesIn',
      'Sum',
      5,
    ]);
    expect(m.dimensions).toEqual({ service: 'Test-Cluster', topic: 'orders' });
    const lag = cluster.metricConsumerLag({ topic: 'orders' }) as cloudwatch.Metric;
    expect([lag.metricName, lag.statistic]).toEqual(['ConsumerLag', 'Maximum']);
    for (const [m2, name] of [
      [cluster.metricRecordsIn({ topic: 't' }), 'RecordsIn'],
      [cluster.metricBytesOut({ topic: 't' }), 'BytesOut'],
      [cluster.metricRecordsOut({ topic: 't' }), 'RecordsOut'],
    ] as const) {
      expect((m2 as cloudwatch.Metric).metricName).toBe(name);
    }
  });

  it('over all topics: a SEARCH over the cluster, summed (lag: maximum)', () => {
    const all = cluster.metricRecordsOut() as cloudwatch.MathExpression;
    expect(all).toBeInstanceOf(cloudwatch.MathExpression);
    expect(all.expression).toBe(
      `SUM(SEARCH('{Sluice,service,topic} MetricName="RecordsOut" service="Test-Cluster"', 'Sum', 60))`,
    );
    expect((cluster.metricConsumerLag() as cloudwatch.MathExpression).expression).toMatch(
      /^MAX\(SEARCH\(.*'Maximum', 60\)\)$/,
    );
  });

  it('a per-topic metric can back an alarm', () => {
    const other = new Stack(fastApp(), 'Alarms');
    new cloudwatch.Alarm(other, 'Lag', {
      metric: cluster.metricConsumerLag({ topic: 'orders' }),
      threshold: 1000,
      evaluationPeriods: 3,
    });
    Template.fromStack(other).hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'Sluice',
      MetricName: 'ConsumerLag',
      Statistic: 'Maximum',
      Dimensions: [
        { Name: 'service', Value: 'Test-Cluster' },
        { Name: 'topic', Value: 'orders' },
      ],
    });
  });
});

describe('props', () => {
  it('DESTROY empties and deletes the bucket, drops deletion protection, deletes logs', () => {
    const { template: t } = clusterStack({
      removalPolicy: RemovalPolicy.DESTROY,
      dashboard: false,
      alarms: false,
    });
    expect(resourceOf(t, 'AWS::S3::Bucket', 'ClusterData').raw.DeletionPolicy).toBe('Delete');
    expect(Object.keys(t.findResources('Custom::S3AutoDeleteObjects'))).toHaveLength(1);
    const table = resourceOf(t, 'AWS::DynamoDB::Table', 'ClusterMeta');
    expect(table.raw.DeletionPolicy).toBe('Delete');
    expect(table.props.DeletionProtectionEnabled).toBe(false);
    expect(resourceOf(t, 'AWS::Logs::LogGroup', 'ClusterProduceLogs').raw.DeletionPolicy).toBe('Delete');
  });

  it('sizes, concurrency, architecture, log retention and schedule are configurable', () => {
    const { template: t } = clusterStack({
      architecture: lambda.Architecture.X86_64,
      produceMemorySize: 2048,
      fetchMemorySize: 1536,
      adminMemorySize: 512,
      groupsMemorySize: 384,
      maintenanceMemorySize: 3008,
      produceReservedConcurrency: 50,
      maintenanceReservedConcurrency: 4,
      maintenanceMaxConcurrency: 2,
      maintenanceTimeout: Duration.minutes(5),
      maintenanceSchedule: events.Schedule.rate(Duration.minutes(5)),
      logRetention: logs.RetentionDays.ONE_WEEK,
      deletionProtection: false,
      dashboard: false,
      alarms: false,
    });
    const get = (role: string) => resourceOf(t, 'AWS::Lambda::Function', `Cluster${role}Function`).props;
    expect(get('Produce')).toMatchObject({
      Architectures: ['x86_64'],
      MemorySize: 2048,
      ReservedConcurrentExecutions: 50,
    });
    expect(get('Fetch').MemorySize).toBe(1536);
    expect(get('Admin').MemorySize).toBe(512);
    expect(get('Groups').MemorySize).toBe(384);
    expect(get('Maintenance')).toMatchObject({
      MemorySize: 3008,
      ReservedConcurrentExecutions: 4,
      Timeout: 300,
    });
    expect(resourceOf(t, 'AWS::SQS::Queue', 'ClusterMaintenanceQueue').props.VisibilityTimeout).toBe(1800);
    t.hasResourceProperties('AWS::Lambda::EventSourceMapping', { ScalingConfig: { MaximumConcurrency: 2 } });
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
    expect(resourceOf(t, 'AWS::Logs::LogGroup', 'ClusterFetchLogs').props.RetentionInDays).toBe(7);
    expect(resourceOf(t, 'AWS::DynamoDB::Table', 'ClusterMeta').props.DeletionProtectionEnabled).toBe(false);
  });

  it('a KMS key encrypts the bucket (with a bucket key) and the table, and the functions may use it', () => {
    const { template: t } = clusterStack(
      { dashboard: false, alarms: false },
      { before: (stack) => ({ encryptionKey: new kms.Key(stack, 'Key', { enableKeyRotation: true }) }) },
    );
    const keyId = resourceOf(t, 'AWS::KMS::Key', 'Key').id;
    const keyArn = { 'Fn::GetAtt': [keyId, 'Arn'] };
    expect(resourceOf(t, 'AWS::S3::Bucket', 'ClusterData').props.BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [
        {
          BucketKeyEnabled: true,
          ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyArn },
        },
      ],
    });
    expect(resourceOf(t, 'AWS::DynamoDB::Table', 'ClusterMeta').props.SSESpecification).toEqual({
      KMSMasterKeyId: keyArn,
      SSEEnabled: true,
      SSEType: 'KMS',
    });
    const kmsActions = (role: string) =>
      roleStatements(t, `Cluster${role}Role`)
        .filter((s) => JSON.stringify(s.Resource) === JSON.stringify(keyArn))
        .flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    expect(kmsActions('Produce')).toContain('kms:GenerateDataKey');
    expect([...new Set(kmsActions('Fetch'))].sort()).toEqual(['kms:Decrypt', 'kms:DescribeKey']);
  });

  it('uses an existing bucket and table instead of creating them', () => {
    const { template: t } = clusterStack(
      { dashboard: false, alarms: false },
      {
        before: (stack) => ({
          bucket: s3.Bucket.fromBucketName(stack, 'Bucket', 'existing-bucket'),
          table: dynamodb.Table.fromTableName(stack, 'Table', 'existing-table'),
        }),
      },
    );
    expect(t.findResources('AWS::S3::Bucket')).toEqual({});
    expect(t.findResources('AWS::DynamoDB::Table')).toEqual({});
    const env = (
      resourceOf(t, 'AWS::Lambda::Function', 'ClusterFetchFunction').props.Environment as {
        Variables: Record<string, unknown>;
      }
    ).Variables;
    expect([env.SLUICE_BUCKET, env.SLUICE_TABLE]).toEqual(['existing-bucket', 'existing-table']);
    expect(JSON.stringify(roleStatements(t, 'ClusterFetchRole'))).toContain(':s3:::existing-bucket/data/*');
    expect(JSON.stringify(roleStatements(t, 'ClusterFetchRole'))).toContain(':table/existing-table');
  });

  it('a given cluster id and service name reach the functions and metrics', () => {
    const built = clusterStack({
      clusterId: 'prod-eu',
      serviceName: 'orders-log',
      dashboard: false,
      alarms: false,
    });
    const env = (
      resourceOf(built.template, 'AWS::Lambda::Function', 'ClusterAdminFunction').props.Environment as {
        Variables: Record<string, unknown>;
      }
    ).Variables;
    expect([env.SLUICE_CLUSTER_ID, env.POWERTOOLS_SERVICE_NAME]).toEqual(['prod-eu', 'orders-log']);
    expect((built.cluster.metricBytesIn({ topic: 'x' }) as cloudwatch.Metric).dimensions?.service).toBe(
      'orders-log',
    );
  });

  it('the default cluster id is the stack UUID and a hash of the construct path', () => {
    const env = (fn('Admin').props.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(env.SLUICE_CLUSTER_ID).toEqual({
      'Fn::Join': [
        '-',
        [
          { 'Fn::Select': [2, { 'Fn::Split': ['/', { Ref: 'AWS::StackId' }] }] },
          base.cluster.node.addr.slice(0, 8),
        ],
      ],
    });
  });
});

it('has no resource types beyond the expected ones', () => {
  const types = new Set(Object.values(json.Resources).map((r) => r.Type));
  expect([...types].sort()).toEqual(
    [
      'AWS::CloudWatch::Alarm',
      'AWS::CloudWatch::Dashboard',
      'AWS::DynamoDB::Table',
      'AWS::Events::Rule',
      'AWS::IAM::Policy',
      'AWS::IAM::Role',
      'AWS::Lambda::EventInvokeConfig',
      'AWS::Lambda::EventSourceMapping',
      'AWS::Lambda::Function',
      'AWS::Lambda::Permission',
      'AWS::Lambda::Url',
      'AWS::Logs::LogGroup',
      'AWS::S3::Bucket',
      'AWS::S3::BucketPolicy',
      'AWS::SQS::Queue',
      'AWS::SQS::QueuePolicy',
      'AWS::SSM::Parameter',
      'Custom::SluiceTopics',
    ].sort(),
  );
});
