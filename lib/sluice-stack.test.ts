/**
 * The stack bin/app.ts deploys, built the way the app builds it — over the real handlers in
 * lambdas/ — with bundling skipped (bundling.test.ts bundles; `npx cdk synth` does all).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import nag from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { fastApp } from '../test/fixtures/cdk/synth.js';
import { stackOptionsFromContext } from './app-context.js';
import { HANDLER_SPECS, SOURCE_ROOT } from './handler-bundles.js';
import { SluiceStack } from './sluice-stack.js';

const { stackName, props } = stackOptionsFromContext(() => undefined);
const stack = new SluiceStack(fastApp(), stackName, props);
const template = Template.fromStack(stack);

describe('SluiceStack (the app)', () => {
  it('uses the real handler of every function', () => {
    for (const role of ['produce', 'fetch', 'admin', 'groups', 'schemas', 'maintenance', 'batcher']) {
      expect(existsSync(join(SOURCE_ROOT, HANDLER_SPECS[role as 'produce'].source)), role).toBe(true);
    }
    expect(Object.keys(template.findResources('AWS::Lambda::Function'))).toHaveLength(7);
  });

  it('outputs the bootstrap URL, every function URL and the resource names', () => {
    const outputs = template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs).sort()).toEqual(
      [
        'AdminFunctionArn',
        'AdminFunctionName',
        'AdminUrl',
        'BatcherFunctionName',
        'BootstrapUrl',
        'BucketName',
        'ClusterId',
        'DashboardName',
        'DeadLetterQueueName',
        'EndpointsParameterName',
        'FetchFunctionArn',
        'FetchFunctionName',
        'FetchUrl',
        'GroupsFunctionArn',
        'GroupsFunctionName',
        'GroupsUrl',
        'InboxDeadLetterQueueName',
        'InboxQueueArn',
        'InboxQueueUrl',
        'MaintenanceFunctionName',
        'MaintenanceQueueName',
        'ProduceFunctionArn',
        'ProduceFunctionName',
        'ServiceName',
        'ProduceUrl',
        'SchemaRegistryUrl',
        'SchemasFunctionName',
        'TableName',
      ].sort(),
    );
    expect(outputs.BootstrapUrl?.Value).toEqual(outputs.AdminUrl?.Value);
    expect(JSON.stringify(outputs.AdminUrl?.Value)).toMatch(
      /ClusterAdminFunctionFunctionUrl\w+","FunctionUrl"/,
    );
  });

  it('outputs the Kinesis inbox stream instead of the queue with -c inboxBackend=kinesis', () => {
    const kinesis = stackOptionsFromContext((key) => ({ inboxBackend: 'kinesis' })[key]);
    const t = Template.fromStack(new SluiceStack(fastApp(), kinesis.stackName, kinesis.props));
    const outputs = t.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(
      Object.keys(outputs)
        .filter((k) => k.startsWith('Inbox'))
        .sort(),
    ).toEqual(['InboxDeadLetterQueueName', 'InboxStreamArn']);
    expect(JSON.stringify(outputs.InboxStreamArn?.Value)).toMatch(/ClusterInboxStream\w+","Arn"/);
  });

  it.each([
    ['AwsSolutions', new nag.AwsSolutionsChecks()],
    ['Serverless', new nag.ServerlessChecks()],
  ] as const)('passes cdk-nag %s with nothing unacknowledged', (_pack, checks) => {
    expect(checks.validateScope(stack).violations.map((v) => v.ruleName)).toEqual([]);
  });
});
