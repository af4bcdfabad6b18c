/**
 * A cluster's CloudWatch dashboard and alarms. Alarms watch what needs a person: functions
 * failing (unhandled errors, timeouts), functions answering server errors through their
 * URL (STORAGE_MISCONFIGURED, INTERNAL_ERROR, RESPONSE_TOO_LARGE, and UNAVAILABLE when it
 * persists: Lambda's `Errors` metric does not count answered errors), functions
 * throttled, maintenance work that failed for good (messages in the dead-letter queue), the
 * acks=1 inbox falling behind (age of its oldest message; with the Kinesis inbox, the
 * batcher's iterator age) and inbox messages that could not be committed (its dead-letter
 * queue).
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { searchExpression, sluiceMetric } from './metrics.js';

export interface SluiceMonitoringProps {
  readonly serviceName: string;
  /** The cluster's functions by role: produce, fetch, admin, groups, maintenance. */
  readonly functions: Readonly<Record<string, lambda.IFunction>>;
  /** The roles served through a Function URL (their 5xx answers are alarmed on). */
  readonly urlRoles: readonly string[];
  readonly maintenanceQueue: sqs.IQueue;
  readonly deadLetterQueue: sqs.IQueue;
  /** The acks=1 inbox: an SQS queue, or a Kinesis stream and the batcher reading it. */
  readonly inbox:
    | { readonly backend: 'sqs'; readonly queue: sqs.IQueue }
    | { readonly backend: 'kinesis'; readonly stream: kinesis.IStream; readonly batcher: lambda.IFunction };
  readonly inboxDeadLetterQueue: sqs.IQueue;
  /**
   * The inbox age (its oldest message; Kinesis: the batcher's iterator age) that raises the
   * inbox-age alarm; below the batcher's order horizon (5 minutes).
   */
  readonly inboxAgeThreshold: Duration;
  readonly dashboard: boolean;
  readonly alarms: boolean;
  readonly alarmActions: readonly cloudwatch.IAlarmAction[];
}

const FIVE_MINUTES = Duration.minutes(5);

/**
 * 5xx answers in five minutes that raise the server-error alarm: a misconfiguration fails
 * every request, while a lone UNAVAILABLE (a storage blip the SDK retries) does not page.
 */
export const SERVER_ERROR_THRESHOLD = 5;

export class SluiceMonitoring extends Construct {
  readonly dashboard?: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: SluiceMonitoringProps) {
    super(scope, id);
    if (props.alarms) this.createAlarms(props);
    if (props.dashboard) this.dashboard = this.createDashboard(props);
  }

  private createAlarms(props: SluiceMonitoringProps): void {
    const stackName = Stack.of(this).stackName;
    for (const [role, fn] of Object.entries(props.functions)) {
      this.addAlarm(`${role}Errors`, {
        metric: fn.metricErrors({ period: FIVE_MINUTES, statistic: 'Sum' }),
        threshold: 1,
        alarmDescription: `Sluice ${stackName}: the ${role} function failed (unhandled error or timeout) in the last 5 minutes. Its log group has the stack trace.`,
      });
      if (props.urlRoles.includes(role)) {
        this.addAlarm(`${role}ServerErrors`, {
          metric: new cloudwatch.Metric({
            namespace: 'AWS/Lambda',
            metricName: 'Url5xxCount',
            dimensionsMap: { FunctionName: fn.functionName },
            period: FIVE_MINUTES,
            statistic: 'Sum',
          }),
          threshold: SERVER_ERROR_THRESHOLD,
          alarmDescription: `Sluice ${stackName}: the ${role} function answered ${SERVER_ERROR_THRESHOLD} or more server errors (HTTP 5xx) in the last 5 minutes. STORAGE_MISCONFIGURED in its log says what to fix (access denied, missing bucket or table, KMS key); UNAVAILABLE means storage kept failing.`,
        });
      }
      this.addAlarm(`${role}Throttles`, {
        metric: fn.metricThrottles({ period: FIVE_MINUTES, statistic: 'Sum' }),
        threshold: 1,
        alarmDescription: `Sluice ${stackName}: the ${role} function was throttled in the last 5 minutes (reserved or account concurrency reached); clients received THROTTLED and retried.`,
      });
    }
    this.addAlarm('DeadLetters', {
      metric: props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: FIVE_MINUTES,
        statistic: 'Maximum',
      }),
      threshold: 1,
      alarmDescription: `Sluice ${stackName}: maintenance tasks failed repeatedly and were dead-lettered. Inspect the messages, fix the cause, then redrive them to the maintenance queue.`,
    });
    const { inbox } = props;
    this.addAlarm('InboxAge', {
      ...(inbox.backend === 'sqs'
        ? {
            metric: inbox.queue.metricApproximateAgeOfOldestMessage({
              period: Duration.minutes(1),
              statistic: 'Maximum',
            }),
            threshold: props.inboxAgeThreshold.toSeconds(),
          }
        : {
            // The age of the last record the batcher was handed (ms): how far behind the
            // stream's newest record the mapping reads, per shard at most.
            metric: inboxIteratorAge(inbox.batcher, Duration.minutes(1)),
            threshold: props.inboxAgeThreshold.toMilliseconds(),
          }),
      alarmDescription: `Sluice ${stackName}: the oldest acks=1 event in the inbox has waited ${props.inboxAgeThreshold.toHumanString()} or more: the batcher is behind or failing (see its errors and log). Past 5 minutes, order per producer is no longer guaranteed for events still waiting.`,
    });
    this.addAlarm('InboxDeadLetters', {
      metric: props.inboxDeadLetterQueue.metricApproximateNumberOfMessagesVisible({
        period: FIVE_MINUTES,
        statistic: 'Maximum',
      }),
      threshold: 1,
      alarmDescription:
        inbox.backend === 'sqs'
          ? `Sluice ${stackName}: acks=1 events were acknowledged but could not be committed (not an inbox message, a topic or partition that does not exist, or batches failing for good) and were dead-lettered. The batcher's log says why; fix the cause, then redrive them to the inbox.`
          : `Sluice ${stackName}: acks=1 events were acknowledged but could not be committed (not an inbox message, a topic or partition that does not exist) and the batcher moved them here, or the event source mapping discarded a batch whose records expired from the Kinesis inbox (the message names the shard and sequence numbers; those records are lost). The batcher's log says why; fix the cause, then put the moved messages' bodies back into the stream.`,
    });
    for (const alarm of this.alarms) alarm.addAlarmAction(...props.alarmActions);
  }

  private addAlarm(
    id: string,
    options: Pick<cloudwatch.AlarmProps, 'metric' | 'threshold' | 'alarmDescription'>,
  ): void {
    this.alarms.push(
      new cloudwatch.Alarm(this, id, {
        ...options,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // No invocations means nothing failed.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    );
  }

  private createDashboard(props: SluiceMonitoringProps): cloudwatch.Dashboard {
    const service = props.serviceName;
    const fns = Object.entries(props.functions);
    const perFunction = (metric: (fn: lambda.IFunction) => cloudwatch.Metric) =>
      fns.map(([role, fn]) => metric(fn).with({ label: role }));
    const minute = Duration.minutes(1);
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
    });
    dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown: `# Sluice ${Stack.of(this).stackName}\nCustom metrics: namespace \`Sluice\`, service \`${service}\`, one series per topic.`,
        width: 24,
        height: 2,
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Bytes in / out (all topics)',
        left: [sluiceMetric(service, 'BytesIn'), sluiceMetric(service, 'BytesOut')],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Records in / out (all topics)',
        left: [sluiceMetric(service, 'RecordsIn'), sluiceMetric(service, 'RecordsOut')],
        width: 8,
      }),
      new cloudwatch.GraphWidget({
        title: 'Consumer lag by topic (max over groups)',
        left: [
          new cloudwatch.MathExpression({
            expression: searchExpression(service, 'ConsumerLag', 'Maximum', minute),
            usingMetrics: {},
            period: minute,
            label: 'lag',
          }),
        ],
        width: 8,
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Bytes in by topic',
        left: [
          new cloudwatch.MathExpression({
            expression: searchExpression(service, 'BytesIn', 'Sum', minute),
            usingMetrics: {},
            period: minute,
            label: 'in',
          }),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Bytes out by topic',
        left: [
          new cloudwatch.MathExpression({
            expression: searchExpression(service, 'BytesOut', 'Sum', minute),
            usingMetrics: {},
            period: minute,
            label: 'out',
          }),
        ],
        width: 12,
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Invocations',
        left: perFunction((fn) => fn.metricInvocations({ period: minute, statistic: 'Sum' })),
        width: 6,
      }),
      new cloudwatch.GraphWidget({
        title: 'Errors',
        left: perFunction((fn) => fn.metricErrors({ period: minute, statistic: 'Sum' })),
        width: 6,
      }),
      new cloudwatch.GraphWidget({
        title: 'Throttles',
        left: perFunction((fn) => fn.metricThrottles({ period: minute, statistic: 'Sum' })),
        width: 6,
      }),
      new cloudwatch.GraphWidget({
        title: 'Duration p99 (ms)',
        left: perFunction((fn) => fn.metricDuration({ period: minute, statistic: 'p99' })),
        width: 6,
      }),
    );
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Maintenance queue',
        left: [
          props.maintenanceQueue.metricApproximateNumberOfMessagesVisible({
            period: minute,
            label: 'visible',
          }),
          props.maintenanceQueue.metricApproximateNumberOfMessagesNotVisible({
            period: minute,
            label: 'in flight',
          }),
        ],
        right: [
          props.maintenanceQueue.metricApproximateAgeOfOldestMessage({ period: minute, label: 'oldest (s)' }),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Dead-lettered maintenance tasks',
        left: [props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: minute })],
        width: 12,
      }),
    );
    const { inbox } = props;
    dashboard.addWidgets(
      inbox.backend === 'sqs'
        ? new cloudwatch.GraphWidget({
            title: 'acks=1 inbox',
            left: [
              inbox.queue.metricApproximateNumberOfMessagesVisible({ period: minute, label: 'visible' }),
              inbox.queue.metricApproximateNumberOfMessagesNotVisible({
                period: minute,
                label: 'in flight',
              }),
            ],
            right: [
              inbox.queue.metricApproximateAgeOfOldestMessage({
                period: minute,
                statistic: 'Maximum',
                label: 'oldest (s)',
              }),
            ],
            width: 12,
          })
        : new cloudwatch.GraphWidget({
            title: 'acks=1 inbox (Kinesis)',
            left: [
              inbox.stream.metricIncomingRecords({ period: minute, statistic: 'Sum', label: 'records in' }),
              inbox.stream.metricWriteProvisionedThroughputExceeded({
                period: minute,
                statistic: 'Sum',
                label: 'puts throttled',
              }),
            ],
            right: [inboxIteratorAge(inbox.batcher, minute).with({ label: 'batcher iterator age (ms)' })],
            width: 12,
          }),
      new cloudwatch.GraphWidget({
        title: 'Dead-lettered inbox messages',
        left: [props.inboxDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: minute })],
        width: 12,
      }),
    );
    if (this.alarms.length > 0) {
      dashboard.addWidgets(new cloudwatch.AlarmStatusWidget({ alarms: this.alarms, width: 24 }));
    }
    return dashboard;
  }
}

/** The batcher's `IteratorAge` (AWS/Lambda, ms), maximum over `period`: how far behind the Kinesis inbox it reads. */
function inboxIteratorAge(batcher: lambda.IFunction, period: Duration): cloudwatch.Metric {
  return batcher.metric('IteratorAge', { period, statistic: 'Maximum' });
}
