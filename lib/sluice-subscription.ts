/**
 * `cluster.addSubscription(id, props)`: a subscription declared in the stack (DESIGN.md
 * "Subscriptions"). Props carry Lambda event source mapping names and defaults; the
 * definition is created through the admin function at deploy time (and changed on update,
 * deleted with the stack), the trigger function may invoke the target and send to the
 * `onFailure` queue, and alarms watch the queue and the target's errors.
 */
import { CustomResource, Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { resolveSubscription, type StartingPosition } from '../core/subscriptions/config.js';
import { acknowledge, wildcardResourceFinding } from './nag.js';

export interface SluiceSubscriptionProps {
  /** The topic whose records are delivered. */
  readonly topic: string;
  /** The function invoked with batches (Lambda's self-managed Kafka event). */
  readonly target: lambda.IFunction;
  /** @default the construct id */
  readonly name?: string;
  /** The consumer group holding its offsets. @default `sluice-subscription-<name>` */
  readonly groupId?: string;
  /** Records per invocation, 1–10,000. @default 100 */
  readonly batchSize?: number;
  /** How long to gather records before invoking with less than a full batch (≤ 300 s). @default Duration.seconds(0) */
  readonly maxBatchingWindow?: Duration;
  /** @default 'latest' */
  readonly startingPosition?: StartingPosition;
  /** Retries of a failing batch before it goes to `onFailure`; -1 = until `maxRecordAge`. @default -1 */
  readonly maxRetryAttempts?: number;
  /** Records older than this go to `onFailure` unprocessed (≥ 1 s). @default no limit */
  readonly maxRecordAge?: Duration;
  /** @default false */
  readonly bisectBatchOnFunctionError?: boolean;
  /** Honour `batchItemFailures` in the function's response. @default false */
  readonly reportBatchItemFailures?: boolean;
  /** Where records given up on go (one JSON message each, with their coordinates). @default none: never skipped */
  readonly onFailure?: sqs.IQueue;
  /** @default true */
  readonly enabled?: boolean;
  /**
   * Lambda's event filtering, as for an MSK event source: `lambda.FilterCriteria.filter({ value:
   * { kind: lambda.FilterRule.isEqual('order') } })`, ORed, at most 5. Records matching none
   * are skipped and committed past. Grammar: docs/api.md "Subscriptions".
   * @default every record is delivered
   */
  readonly filters?: ReadonlyArray<{ readonly [key: string]: unknown }>;
}

export interface SluiceSubscriptionRuntime {
  /** The function that dispatches (invokes targets, sends failures). */
  readonly trigger: lambda.IFunction;
  /** The custom resource provider that calls the admin function. */
  readonly provider: lambda.IFunction;
}

export class SluiceSubscription extends Construct {
  readonly name: string;
  readonly groupId: string;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(
    scope: Construct,
    id: string,
    props: SluiceSubscriptionProps,
    runtime: SluiceSubscriptionRuntime,
  ) {
    super(scope, id);
    const spec = {
      name: props.name ?? id,
      topic: props.topic,
      target: props.target.functionArn,
      ...(props.groupId !== undefined && { groupId: props.groupId }),
      ...(props.batchSize !== undefined && { batchSize: props.batchSize }),
      ...(props.maxBatchingWindow !== undefined && {
        maxBatchingWindowMs: props.maxBatchingWindow.toMilliseconds(),
      }),
      ...(props.startingPosition !== undefined && { startingPosition: props.startingPosition }),
      ...(props.maxRetryAttempts !== undefined && { maxRetryAttempts: props.maxRetryAttempts }),
      ...(props.maxRecordAge !== undefined && { maxRecordAgeMs: props.maxRecordAge.toMilliseconds() }),
      ...(props.bisectBatchOnFunctionError !== undefined && {
        bisectBatchOnFunctionError: props.bisectBatchOnFunctionError,
      }),
      ...(props.reportBatchItemFailures !== undefined && {
        reportBatchItemFailures: props.reportBatchItemFailures,
      }),
      ...(props.onFailure !== undefined && { onFailure: props.onFailure.queueArn }),
      ...(props.enabled !== undefined && { enabled: props.enabled }),
      ...(props.filters !== undefined && { filters: props.filters }),
    };
    // The same validation as the API, at synth time (tokens pass as strings).
    const resolved = resolveSubscription(spec, 0);
    this.name = resolved.name;
    this.groupId = resolved.groupId;

    props.target.grantInvoke(runtime.trigger);
    const role = runtime.trigger.role;
    if (role) {
      acknowledge(
        role,
        wildcardResourceFinding(role, `${props.target.functionArn}:*`),
        'grantInvoke covers the target function and its versions and aliases (`<arn>:*`), so a subscription may name a qualified target.',
      );
    }
    props.onFailure?.grantSendMessages(runtime.trigger);

    const resource = new CustomResource(this, 'Resource', {
      serviceToken: runtime.provider.functionArn,
      resourceType: 'Custom::SluiceSubscription',
      properties: { Subscription: Stack.of(this).toJsonString(spec) },
      serviceTimeout: Duration.minutes(6),
    });
    this.node.defaultChild = resource;

    this.alarms.push(
      new cloudwatch.Alarm(this, 'TargetErrors', {
        alarmDescription: `Sluice subscription ${this.name}: its function failed (batches are being retried)`,
        metric: props.target.metricErrors({ period: Duration.minutes(5) }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
    if (props.onFailure) {
      this.alarms.push(
        new cloudwatch.Alarm(this, 'GivenUp', {
          alarmDescription: `Sluice subscription ${this.name}: records were given up on and sent to onFailure`,
          metric: props.onFailure.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
          threshold: 1,
          evaluationPeriods: 1,
          comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }),
      );
    }
  }
}
