import { Duration } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import nag from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../core/errors.js';
import { clusterStack, roleActions, roleStatements } from '../test/fixtures/cdk/synth.js';
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
          filters: [lambda.FilterCriteria.filter({ value: { kind: lambda.FilterRule.isEqual('order') } })],
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
    const [resource] = Object.values(template.findResources('Custom::SluiceSubscription'));
    // The definition is JSON joined around the target's and queue's ARNs: its tail holds the filters.
    const parts = (resource as { Properties: { Subscription: { 'Fn::Join': [string, unknown[]] } } })
      .Properties.Subscription['Fn::Join'][1];
    expect(JSON.parse(`{"x":"${parts.at(-1)}`)).toMatchObject({
      filters: [{ pattern: JSON.stringify({ value: { kind: ['order'] } }) }],
    });
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
            cluster.addSubscription('BadFilter', {
              topic: 'orders',
              target: lambda.Function.fromFunctionName(s, 'F', 'f'),
              filters: [lambda.FilterCriteria.filter({ value: { n: [{ numeric: ['<', 'x'] }] } })],
            }),
        },
      ),
    ).toThrow(/filters\[0\]\.value\.n: numeric bounds must be numbers/);
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

/** Event source mappings reading a stream (SQS ones have no starting position). */
const streamMappings = (t: Template) =>
  Object.keys(
    t.findResources('AWS::Lambda::EventSourceMapping', { Properties: { StartingPosition: 'LATEST' } }),
  );

describe('subscriptions created at run time', () => {
  it('without addSubscription, props.subscriptions deploys the trigger and grants the listed targets and queues', () => {
    let reports!: lambda.IFunction;
    const { cluster, template } = clusterStack(
      { subscriptions: {} },
      {
        before: (stack) => {
          reports = new lambda.Function(stack, 'Reports', {
            runtime: lambda.Runtime.NODEJS_22_X,
            handler: 'index.handler',
            code: lambda.Code.fromInline('exports.handler = async () => ({})'),
          });
          const dlq = new sqs.Queue(stack, 'ReportsDlq', { enforceSSL: true });
          return { subscriptions: { targets: [reports], failureQueues: [dlq] } };
        },
      },
    );
    expect(cluster.subscriptionsFunction).toBeDefined();
    expect(streamMappings(template)).toHaveLength(1); // the trigger's, on the table's stream
    // The safety net: scheduled maintenance may wake the trigger, which it knows by name.
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ SLUICE_SUBSCRIPTIONS_FUNCTION: Match.anyValue() }) },
    });
    expect(roleActions(template, 'ClusterMaintenanceRole')).toContain('lambda:InvokeFunction');
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      StreamSpecification: { StreamViewType: 'KEYS_ONLY' },
    });
    template.resourceCountIs('Custom::SluiceSubscription', 0);
    const statements = roleStatements(template, 'ClusterSubscriptionsRole');
    const invoke = statements.filter((s) => [s.Action].flat().includes('lambda:InvokeFunction'));
    const resources = JSON.stringify(invoke.map((s) => s.Resource));
    expect(resources).toContain('Reports'); // the listed target, by ARN
    expect(JSON.stringify(statements.filter((s) => [s.Action].flat().includes('sqs:SendMessage')))).toContain(
      'ReportsDlq',
    );
  });

  it('lets the trigger invoke functions and send to queues tagged sluice:subscriptions=<serviceName>, only those', () => {
    const { cluster, template } = clusterStack({ subscriptions: {} });
    const tagged = roleStatements(template, 'ClusterSubscriptionsRole').filter(
      (s) => s.Condition !== undefined,
    );
    const condition = { StringEquals: { 'aws:ResourceTag/sluice:subscriptions': cluster.serviceName } };
    expect(tagged).toEqual([
      expect.objectContaining({ Action: 'lambda:InvokeFunction', Condition: condition }),
      expect.objectContaining({
        Action: ['sqs:SendMessage', 'sqs:GetQueueUrl', 'sqs:GetQueueAttributes'],
        Condition: condition,
      }),
    ]);
    expect(JSON.stringify(tagged[0]!.Resource)).toContain(':function:*');

    const off = clusterStack({ subscriptions: { targetTagKey: false } }).template;
    expect(roleStatements(off, 'ClusterSubscriptionsRole').filter((s) => s.Condition !== undefined)).toEqual(
      [],
    );
    // No subscriptions at all: no trigger, no stream.
    const none = clusterStack({});
    expect(none.cluster.subscriptionsFunction).toBeUndefined();
    expect(streamMappings(none.template)).toHaveLength(0);
  });

  it.each([
    ['AwsSolutions', new nag.AwsSolutionsChecks()],
    ['Serverless', new nag.ServerlessChecks()],
  ] as const)('cdk-nag %s: no finding on the runtime trigger and its tag-based grants', (_pack, checks) => {
    const { stack } = clusterStack({ subscriptions: {} });
    const findings = checks
      .validateScope(stack)
      .violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName}: ${r.constructPath}`))
      .filter((f) => /Subscriptions/.test(f));
    expect(findings).toEqual([]);
  });
});
