/**
 * The custom metrics the handlers publish as CloudWatch EMF through Powertools Metrics:
 * namespace `Sluice`, dimensions `service` (Powertools adds POWERTOOLS_SERVICE_NAME, which
 * the cluster sets to its service name) and `topic`.
 *
 * | metric      | unit  | statistic | what                                         |
 * |-------------|-------|-----------|----------------------------------------------|
 * | BytesIn     | Bytes | Sum       | record batch bytes appended                  |
 * | RecordsIn   | Count | Sum       | records appended                             |
 * | BytesOut    | Bytes | Sum       | record batch bytes served to consumers       |
 * | RecordsOut  | Count | Sum       | records served to consumers                  |
 * | ConsumerLag | Count | Maximum   | high watermark − committed offset, any group |
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';

export const METRICS_NAMESPACE = 'Sluice';

export type SluiceMetricName = 'BytesIn' | 'RecordsIn' | 'BytesOut' | 'RecordsOut' | 'ConsumerLag';

/** Options of the `metric*` helpers of {@link SluiceCluster}. */
export interface SluiceMetricOptions {
  /**
   * One topic's metric. A plain CloudWatch metric, usable in alarms.
   * @default all topics of the cluster, combined by a metric-math SEARCH expression
   * (graphs and dashboards only: CloudWatch alarms cannot use SEARCH)
   */
  readonly topic?: string;
  /**
   * @default 1 minute
   */
  readonly period?: Duration;
  /**
   * @default `Sum`, or `Maximum` for ConsumerLag
   */
  readonly statistic?: string;
  /**
   * @default none for one topic's metric (CloudWatch shows its name and dimensions); the
   * metric name over all topics
   */
  readonly label?: string;
}

/**
 * One Sluice metric of the cluster whose Powertools service name is `serviceName`.
 *
 * @example
 * sluiceMetric('Sluice-Cluster', 'BytesIn', { topic: 'orders' }); // a Metric with dimensions service, topic
 */
export function sluiceMetric(
  serviceName: string,
  name: SluiceMetricName,
  options: SluiceMetricOptions = {},
): cloudwatch.IMetric {
  const statistic = options.statistic ?? (name === 'ConsumerLag' ? 'Maximum' : 'Sum');
  const period = options.period ?? Duration.minutes(1);
  if (options.topic !== undefined) {
    return new cloudwatch.Metric({
      namespace: METRICS_NAMESPACE,
      metricName: name,
      dimensionsMap: { service: serviceName, topic: options.topic },
      statistic,
      period,
      // No default label: a labelled metric makes an alarm render as metric math.
      label: options.label,
    });
  }
  const combine = name === 'ConsumerLag' ? 'MAX' : 'SUM';
  return new cloudwatch.MathExpression({
    expression: `${combine}(${searchExpression(serviceName, name, statistic, period)})`,
    usingMetrics: {},
    period,
    label: options.label ?? name,
  });
}

/** A SEARCH over every topic's series of one metric of one cluster (one line per topic). */
export function searchExpression(
  serviceName: string,
  name: SluiceMetricName,
  statistic: string,
  period: Duration,
): string {
  return `SEARCH('{${METRICS_NAMESPACE},service,topic} MetricName="${name}" service="${serviceName}"', '${statistic}', ${period.toSeconds()})`;
}
