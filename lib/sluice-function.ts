/**
 * One Sluice Lambda function: its handler bundle (an ES module for Node 24, prebuilt in the
 * package or bundled from the sources, see handler-bundles.ts) with the native packages it
 * needs installed for Lambda's platform (native-modules.ts), its own log group and its own
 * role. The role starts with nothing but writing to that log group; the
 * cluster grants each function exactly what it needs.
 */
import { Duration, type RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { type HandlerName, handlerCode } from './handler-bundles.js';
import { acknowledge } from './nag.js';

export interface SluiceFunctionProps {
  /** Which Sluice handler runs (decides what the bundle holds, handler-bundles.ts). */
  readonly handler: HandlerName;
  /** Bundle this source file (exports `handler`) instead of the prebuilt or source handler: tests. */
  readonly entry?: string;
  readonly description: string;
  readonly architecture: lambda.Architecture;
  readonly memorySize: number;
  readonly timeout: Duration;
  readonly reservedConcurrency?: number;
  readonly environment: Record<string, string>;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
  /** @default lambda.Tracing.DISABLED */
  readonly tracing?: lambda.Tracing;
  /** Who calls it; decides where failures go (a Function URL caller, CloudFormation, a dead-letter queue). */
  readonly invokedBy:
    | 'function-url'
    | 'cloudformation'
    | 'schedule-and-sqs'
    | 'dynamodb-stream'
    | 'sqs'
    | 'kinesis';
}

const FAILURES_GO_TO: Record<SluiceFunctionProps['invokedBy'], string> = {
  'dynamodb-stream':
    "Invoked by a DynamoDB stream event source mapping, which retries a failed batch; it only triggers dispatch, and records a subscription gives up on go to that subscription's onFailure queue.",
  'function-url':
    'Invoked synchronously through its Function URL: a failure is returned to the caller, which retries; there is no asynchronous event to dead-letter.',
  'schedule-and-sqs':
    'A failed scheduled (asynchronous) invocation goes to an on-failure destination, the maintenance dead-letter queue, which records more context than a function DLQ; SQS messages that keep failing go to the queue redrive dead-letter queue.',
  sqs: 'Invoked by an SQS event source mapping only (synchronously): messages it cannot commit are reported as batch item failures and, after the queue redrive count, moved to the queue dead-letter queue, which is alarmed.',
  kinesis:
    'Invoked by a Kinesis event source mapping only (synchronously), which retries a failed batch from its first failed record until it succeeds; records it cannot commit are sent by the function to the inbox dead-letter queue, and a batch the mapping discards is described there (its on-failure destination), which is alarmed.',
  cloudformation:
    'Invoked synchronously by CloudFormation as a custom resource: a failure fails the deployment, which reports it.',
};

/** A Lambda function with Sluice's bundling, a dedicated log group and a dedicated role. */
export class SluiceFunction extends Construct {
  readonly function: lambda.Function;
  readonly role: iam.Role;
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: SluiceFunctionProps) {
    super(scope, id);
    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    // A role of our own instead of AWSLambdaBasicExecutionRole: that managed policy lets a
    // function write to every log group of the account.
    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ${props.description}`,
    });
    this.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        resources: [this.logGroup.logGroupArn],
      }),
    );
    this.function = new lambda.Function(this, 'Function', {
      code: handlerCode(props.handler, props.architecture, props.entry ? { entry: props.entry } : {}),
      handler: 'index.handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: props.architecture,
      memorySize: props.memorySize,
      timeout: props.timeout,
      reservedConcurrentExecutions: props.reservedConcurrency,
      role: this.role,
      logGroup: this.logGroup,
      tracing: props.tracing ?? lambda.Tracing.DISABLED,
      environment: props.environment,
    });
    const runtime =
      'Node.js 24 is the runtime Sluice is built and tested for (node:zlib zstd, the native packages; CI and the deploy smoke test run the bundles on it); it is a supported Lambda runtime and moves with the project, not with each new release.';
    acknowledge(this, 'AwsSolutions-L1', runtime);
    acknowledge(this, 'Serverless-LambdaLatestVersion', runtime);
    acknowledge(this, 'Serverless-LambdaDLQ', FAILURES_GO_TO[props.invokedBy]);
    if (props.tracing === lambda.Tracing.ACTIVE) {
      acknowledge(
        this.role,
        'AwsSolutions-IAM5[Resource::*]',
        'xray:PutTraceSegments and xray:PutTelemetryRecords, added by active tracing, support no resource-level permissions.',
      );
    } else {
      acknowledge(
        this,
        'Serverless-LambdaTracing',
        'X-Ray is billed per trace, so tracing is opt-in (the `tracing` prop); logs and EMF metrics cover normal operation.',
      );
    }
  }
}

/** How long each function may run. Fetch long-polls up to 20 s (API.md), so 30 s leaves room. */
export const FUNCTION_TIMEOUTS = {
  produce: Duration.seconds(30),
  fetch: Duration.seconds(30),
  admin: Duration.seconds(30),
  groups: Duration.seconds(30),
  schemas: Duration.seconds(30),
  maintenance: Duration.minutes(2),
  /**
   * A batch of up to 10,000 inbox messages (≤ 6 MB): one object and a transaction per chunk
   * of partitions, seconds at most. Short on purpose: the inbox's visibility timeout is six
   * times this, and a failed batch must come back well within the order horizon (5 min).
   */
  batcher: Duration.seconds(30),
} as const;
