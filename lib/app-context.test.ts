import { RemovalPolicy } from 'aws-cdk-lib';
import { Architecture } from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { InvalidContextError, stackOptionsFromContext } from './app-context.js';

const from = (context: Record<string, unknown>) => stackOptionsFromContext((key) => context[key]);

describe('stackOptionsFromContext', () => {
  it('defaults: stack Sluice, arm64, data retained, no topics, schedule left to the construct', () => {
    const { stackName, props } = from({});
    expect(stackName).toBe('Sluice');
    expect(props.architecture).toBe(Architecture.ARM_64);
    expect(props.removalPolicy).toBe(RemovalPolicy.RETAIN);
    expect(props.topics).toBeUndefined();
    expect(props.maintenanceSchedule).toBeUndefined();
    expect(props.inboxBatchWindow).toBeUndefined();
    expect(props.reservedConcurrency).toBeUndefined();
    expect(props.inboxBackend).toBeUndefined();
    expect(props.inboxShards).toBeUndefined();
  });

  it('reads every option', () => {
    const { stackName, props } = from({
      stackName: 'Dev',
      architecture: 'x86_64',
      removalPolicy: 'destroy',
      topics: '[{"name":"orders","partitions":3}]',
      maintenanceMinutes: '5',
      inboxWindowSeconds: '20',
      reservedConcurrency: '40',
      inboxBackend: 'kinesis',
      inboxShards: '4',
    });
    expect(stackName).toBe('Dev');
    expect(props.architecture).toBe(Architecture.X86_64);
    expect(props.removalPolicy).toBe(RemovalPolicy.DESTROY);
    expect(props.topics).toEqual([{ name: 'orders', partitions: 3 }]);
    expect(props.maintenanceSchedule?.expressionString).toBe('rate(5 minutes)');
    expect(props.inboxBatchWindow?.toSeconds()).toBe(20);
    expect(props.reservedConcurrency).toBe(40);
    expect(props.inboxBackend).toBe('kinesis');
    expect(props.inboxShards).toBe(4);
    expect(from({ inboxBackend: 'sqs' }).props.inboxBackend).toBe('sqs');
    expect(from({ reservedConcurrency: 'none' }).props.reservedConcurrency).toBe('none');
  });

  it.each([
    [{ architecture: 'arm' }, /architecture.*arm64, x86_64/],
    [{ removalPolicy: 'snapshot' }, /removalPolicy.*retain, destroy/],
    [{ removalPolicy: 'toString' }, /removalPolicy/],
    [{ topics: '[{"name":' }, /not JSON/],
    [{ topics: '{"name":"a"}' }, /JSON list/],
    [{ maintenanceMinutes: '0.5' }, /whole number/],
    [{ inboxWindowSeconds: '0' }, /inboxWindowSeconds.*1 to 300/],
    [{ inboxWindowSeconds: '301' }, /inboxWindowSeconds/],
    [{ inboxWindowSeconds: 'soon' }, /inboxWindowSeconds/],
    [{ reservedConcurrency: '0' }, /reservedConcurrency.*whole number ≥ 1, or none/],
    [{ reservedConcurrency: 'unlimited' }, /reservedConcurrency/],
    [{ inboxBackend: 'sqs-fifo' }, /inboxBackend.*sqs, kinesis/],
    [{ inboxBackend: 'kinesis', inboxShards: '0' }, /inboxShards.*whole number ≥ 1/],
    [{ inboxShards: '2' }, /inboxShards.*inboxBackend=kinesis/],
  ])('refuses %j', (context, message) => {
    expect(() => from(context)).toThrow(InvalidContextError);
    expect(() => from(context)).toThrow(message);
  });
});
