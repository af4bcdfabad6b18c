import { Duration } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import nag from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../core/errors.js';
import { clusterStack, roleActions } from '../test/fixtures/cdk/synth.js';
import type { SluiceSubscription } from './sluice-subscription.js';

function withSubscription() {
  let sub!: SluiceSubscription;
  const built = clusterStack(
    { topics: [{ name: 'orders', partitions: 3 }] },
    {
      after: (stack, cluster) => {
        const target = new lambda.Function(stack, 'Billing', {
          runtime: lambda.Runtime.NODEJS_22_X,
          handler: 'index.handler',
          code: lambda.Code.fromInline('exports.handler = async () => ({})'),
        });
        const dlq = new sqs.Queue(stack, 'BillingDlq', { enforceSSL: true });
        sub = cluster.addSubscription('Billing', {
          topic: 'orders',
          target,
          batchSize: 50,
          maxRecordAge: Duration.hours(1),
          reportBatchItemFailures: true,
          onFailure: dlq,
        });
      },
    },
  );
  return { ...built, sub };
}

describe('cluster.addSubscription', () => {
  const { stack, template, sub } = withSubscription();

  it('turns on a KEYS_ONLY stream and feeds the trigger from it, filtered to heads and definitions', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      StreamSpecification: { StreamViewType: 'KEYS_ONLY' },
    });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      StartingPosition: 'LATEST',
      FilterCriteria: {
        Filters: [
          { Pattern: JSON.stringify({ dynamodb: { Keys: { sk: { S: ['head'] } } } }) },
          { Pattern: JSON.stringify({ dynamodb: { Keys: { pk: { S: ['subscriptions'] } } } }) },
        ],
      },
    });
  });

  it('lets the trigger invoke the target and send to the failure queue, and nothing on the data it does not need', () => {
    const actions = roleActions(template, 'ClusterSubscriptionsRole');
    expect(actions).toEqual(
      expect.arrayContaining([
        'lambda:InvokeFunction',
        'sqs:SendMessage',
        'dynamodb:GetRecords',
        's3:GetObject',
      ]),
    );
    expect(actions).not.toContain('s3:PutObject');
    expect(actions).not.toContain('dynamodb:DeleteItem');
  });

  it('creates the definition at deploy time with Lambda’s names, and alarms', () => {
    template.hasResourceProperties('Custom::SluiceSubscription', {
      Subscription: Match.anyValue(),
    });
    expect(sub.name).toBe('Billing');
    expect(sub.groupId).toBe('sluice-subscription-Billing');
    expect(sub.alarms).toHaveLength(2);
  });

  it.each([
    ['AwsSolutions', new nag.AwsSolutionsChecks()],
    ['Serverless', new nag.ServerlessChecks()],
  ] as const)('cdk-nag %s: no finding on the subscription resources', (_pack, checks) => {
    const report = checks.validateScope(stack);
    const findings = report.violations
      .flatMap((v) => v.violatingResources.map((r) => `${v.ruleName}: ${r.constructPath}`))
      .filter(
        (f) => /Subscriptions|Billing\b|SubscriptionsTrigger/.test(f) && !/\/Billing\/|BillingDlq/.test(f),
      );
    expect(findings).toEqual([]);
  });

  it('refuses a bad definition at synth time', () => {
    expect(() =>
      clusterStack(
        {},
        {
          after: (s, cluster) =>
            cluster.addSubscription('Bad', {
              topic: 'orders',
              target: lambda.Function.fromFunctionName(s, 'F', 'f'),
              batchSize: 0,
            }),
        },
      ),
    ).toThrow(InvalidRequestError);
  });
});
