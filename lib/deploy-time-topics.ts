/**
 * A custom resource that creates a cluster's declared topics when the stack deploys, by
 * invoking the admin function (see topics-handler.ts). Topics are never deleted by it.
 */
import { CustomResource, Duration, type RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { SluiceFunction } from './sluice-function.js';
import { type TopicSpec, validateTopicSpecs } from './topic-spec.js';

export interface DeployTimeTopicsProps {
  readonly topics: readonly TopicSpec[];
  readonly adminFunction: lambda.IFunction;
  /** Bundle this source instead of lib/topics-handler.ts (tests). */
  readonly handlerEntry?: string;
  readonly architecture: lambda.Architecture;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

/** Creates (or grows) the declared topics on every deployment that changes them. */
export class DeployTimeTopics extends Construct {
  readonly resource: CustomResource;
  readonly handler: SluiceFunction;

  constructor(scope: Construct, id: string, props: DeployTimeTopicsProps) {
    super(scope, id);
    validateTopicSpecs(props.topics);
    this.handler = new SluiceFunction(this, 'Handler', {
      handler: 'topics',
      ...(props.handlerEntry ? { entry: props.handlerEntry } : {}),
      description: `Sluice ${Stack.of(this).stackName}: creates declared topics at deploy time`,
      architecture: props.architecture,
      memorySize: 256,
      timeout: Duration.minutes(5),
      environment: { SLUICE_ADMIN_FUNCTION: props.adminFunction.functionName },
      logRetention: props.logRetention,
      removalPolicy: props.removalPolicy,
      invokedBy: 'cloudformation',
    });
    this.handler.role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['lambda:InvokeFunction'],
        resources: [props.adminFunction.functionArn],
      }),
    );
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: this.handler.function.functionArn,
      resourceType: 'Custom::SluiceTopics',
      // Custom resource properties reach the handler as strings: pass one JSON document.
      properties: { Topics: JSON.stringify(props.topics) },
      serviceTimeout: Duration.minutes(6),
    });
  }
}
