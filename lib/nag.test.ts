import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as s3 from 'aws-cdk-lib/aws-s3';
import nag from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { type ClusterStackOptions, clusterStack } from '../test/fixtures/cdk/synth.js';
import type { SluiceClusterProps } from './sluice-cluster-props.js';

const CONFIGURATIONS: [string, SluiceClusterProps, ClusterStackOptions?][] = [
  ['defaults with deploy-time topics', { topics: [{ name: 'orders', partitions: 3 }] }],
  // Kinesis streams are SSE with aws/kinesis (KDS1, KDS3), and the mapping has an on-failure
  // destination: nothing acknowledged for them.
  [
    'Kinesis inbox, 4 shards, 3 days, with a KMS key',
    { inboxBackend: 'kinesis', inboxShards: 4, inboxRetention: Duration.days(3) },
    { before: (stack) => ({ encryptionKey: new kms.Key(stack, 'Key', { enableKeyRotation: true }) }) },
  ],
  [
    'KMS key, access logs, DESTROY, active tracing, x86_64',
    {
      removalPolicy: RemovalPolicy.DESTROY,
      tracing: lambda.Tracing.ACTIVE,
      architecture: lambda.Architecture.X86_64,
    },
    {
      before: (stack) => {
        const logs = new s3.Bucket(stack, 'AccessLogs', {
          enforceSSL: true,
          blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
          encryption: s3.BucketEncryption.S3_MANAGED,
        });
        Validations.of(logs).acknowledge({
          id: 'AwsSolutions-S1',
          reason: 'Test fixture: the access-logs bucket itself (logging it would recurse).',
        });
        return {
          encryptionKey: new kms.Key(stack, 'Key', { enableKeyRotation: true }),
          accessLogsBucket: logs,
        };
      },
    },
  ],
  [
    'existing bucket, table and key',
    {},
    {
      before: (stack) => ({
        bucket: s3.Bucket.fromBucketName(stack, 'Bucket', 'existing-bucket'),
        table: dynamodb.Table.fromTableName(stack, 'Table', 'existing-table'),
        encryptionKey: kms.Key.fromKeyArn(
          stack,
          'ExistingKey',
          'arn:aws:kms:eu-west-1:111122223333:key/abcd',
        ),
      }),
    },
  ],
];

describe.each(CONFIGURATIONS)('cdk-nag: %s', (_name, props, options) => {
  const { stack } = clusterStack(props, options);

  it.each([
    ['AwsSolutions', new nag.AwsSolutionsChecks()],
    ['Serverless', new nag.ServerlessChecks()],
  ] as const)('%s pack: no unacknowledged finding', (_pack, checks) => {
    const report = checks.validateScope(stack);
    const findings = report.violations.map(
      (v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
    );
    expect(findings).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('every acknowledgment names one rule (or one finding) and says why', () => {
    // aws-cdk-lib records its own CloudFormation-Validate acknowledgments; ours are the rest.
    const acks = acknowledgments(stack).filter((a) => !a.id.startsWith('CloudFormation-Validate::'));
    expect(acks.length).toBeGreaterThan(0);
    for (const { id, reason, path } of acks) {
      expect(id, path).toMatch(/^(AwsSolutions|Serverless)-[A-Za-z0-9]+(\[.+\])?$/);
      // A reason is a sentence, not a placeholder.
      expect(reason.length, `${path} ${id}`).toBeGreaterThan(40);
    }
  });
});

it('the Kinesis inbox passes KDS1, KDS3 and the mapping destination rule without an acknowledgment', () => {
  const { stack, template } = clusterStack({ inboxBackend: 'kinesis' });
  expect(new nag.AwsSolutionsChecks().validateScope(stack).violations).toEqual([]);
  expect(new nag.ServerlessChecks().validateScope(stack).violations).toEqual([]);
  expect(Object.keys(template.findResources('AWS::Kinesis::Stream'))).toHaveLength(1);
  const acks = acknowledgments(stack);
  expect(acks.filter((a) => /KDS/.test(a.id) || a.path.includes('InboxStream'))).toEqual([]);
  // The SQS inbox's mapping takes no destination and is acknowledged; the Kinesis one has one.
  const destination = (a: { id: string; path: string }) =>
    a.id === 'Serverless-LambdaEventSourceMappingDestination' && a.path.includes('/Batcher/');
  expect(acks.filter(destination)).toEqual([]);
  expect(acknowledgments(clusterStack({}).stack).filter(destination)).toHaveLength(1);
  // Only the Kinesis inbox's dead-letter queue is no queue's redrive target.
  expect(acks.filter((a) => a.id === 'AwsSolutions-SQS3').map((a) => a.path)).toEqual([
    'Test/Cluster/InboxDeadLetters',
  ]);
  expect(acknowledgments(clusterStack({}).stack).filter((a) => a.id === 'AwsSolutions-SQS3')).toEqual([]);
});

function acknowledgments(root: IConstruct): { id: string; reason: string; path: string }[] {
  const out: { id: string; reason: string; path: string }[] = [];
  for (const c of root.node.findAll()) {
    for (const entry of c.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      // Recorded as { "Annotation::<rule id>": reason }.
      for (const [key, reason] of Object.entries(entry.data as Record<string, string>)) {
        out.push({ id: key.replace(/^Annotation::/, ''), reason, path: c.node.path });
      }
    }
  }
  return out;
}
