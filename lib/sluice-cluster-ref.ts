/**
 * A reference to a Sluice cluster: what another stack (or app) needs to give its services
 * access and to watch the cluster's metrics, whether it built the cluster
 * ({@link SluiceCluster}) or imported it ({@link SluiceCluster.fromAttributes}).
 */
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct, type IConstruct } from 'constructs';
import { type SluiceMetricName, type SluiceMetricOptions, sluiceMetric } from './metrics.js';

/** A Sluice cluster, built here or imported. */
export interface ISluiceCluster extends IConstruct {
  /** POWERTOOLS_SERVICE_NAME of the functions: the `service` dimension of the metrics. */
  readonly serviceName: string;
  /** The URL to give a client first (SLUICE_ENDPOINT); `GET /v1/metadata` lists the others. */
  readonly bootstrapUrl: string;
  readonly produceFunction: lambda.IFunction;
  readonly fetchFunction: lambda.IFunction;
  readonly adminFunction: lambda.IFunction;
  readonly groupsFunction: lambda.IFunction;
  /** Lets `grantee` produce at every acks level (the produce API, the acks=1 inbox). */
  grantProduce(grantee: iam.IGrantable): iam.Grant;
  /** Lets `grantee` fetch, look up offsets and take part in consumer groups. */
  grantConsume(grantee: iam.IGrantable): iam.Grant;
  /** Lets `grantee` manage topics. */
  grantAdmin(grantee: iam.IGrantable): iam.Grant;
  /** A Sluice metric, per topic with `topic`. */
  metric(name: SluiceMetricName, options?: SluiceMetricOptions): cloudwatch.IMetric;
}

/**
 * What {@link SluiceCluster.fromAttributes} needs: the four API functions' ARNs, the
 * bootstrap URL and the service name (the stack's outputs of SluiceStack give them all).
 */
export interface SluiceClusterAttributes {
  readonly produceFunctionArn: string;
  readonly fetchFunctionArn: string;
  readonly adminFunctionArn: string;
  readonly groupsFunctionArn: string;
  /**
   * The acks=1 inbox queue's ARN (the stack output `InboxQueueArn`): with it,
   * `grantProduce` also allows sending to the inbox directly, as the SDK does for acks=1/0.
   * @default none: acks=1/0 producers of this app send through `POST /v1/inbox`
   */
  readonly inboxQueueArn?: string;
  /**
   * The Kinesis inbox stream's ARN (the stack output `InboxStreamArn` of a cluster with
   * `inboxBackend: 'kinesis'`): with it, `grantProduce` also allows `kinesis:PutRecord` and
   * `kinesis:PutRecords` on it, as the SDK puts for acks=1/0. Not with `inboxQueueArn`.
   * @default none: acks=1/0 producers of this app send through `POST /v1/inbox`
   */
  readonly inboxStreamArn?: string;
  /** The admin function's URL (any of the four URLs works: each serves `GET /v1/metadata`). */
  readonly bootstrapUrl: string;
  /** The cluster's `serviceName` (default of the cluster: `<stack name>-<construct id>`). */
  readonly serviceName: string;
}

/** Grants and metrics over the four API functions; shared by built and imported clusters. */
export abstract class SluiceClusterBase extends Construct implements ISluiceCluster {
  abstract readonly serviceName: string;
  abstract readonly bootstrapUrl: string;
  abstract readonly produceFunction: lambda.IFunction;
  abstract readonly fetchFunction: lambda.IFunction;
  abstract readonly adminFunction: lambda.IFunction;
  abstract readonly groupsFunction: lambda.IFunction;

  /**
   * Lets `grantee` call the produce API (and `GET /v1/metadata` on the produce URL).
   *
   * @example
   * cluster.grantProduce(new iam.Role(stack, 'Orders', { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com') }));
   */
  grantProduce(grantee: iam.IGrantable): iam.Grant {
    return this.grantUrls(grantee, [this.produceFunction]);
  }

  /**
   * Lets `grantee` fetch, look up offsets and take part in consumer groups (fetch and
   * groups URLs).
   *
   * @example
   * cluster.grantConsume(billingRole);
   */
  grantConsume(grantee: iam.IGrantable): iam.Grant {
    return this.grantUrls(grantee, [this.fetchFunction, this.groupsFunction]);
  }

  /**
   * Lets `grantee` manage topics: create, list, describe, add partitions, delete (admin URL).
   *
   * @example
   * cluster.grantAdmin(operatorsRole);
   */
  grantAdmin(grantee: iam.IGrantable): iam.Grant {
    return this.grantUrls(grantee, [this.adminFunction]);
  }

  /**
   * A Sluice metric; per topic with `topic`, else summed (lag: maximum) over the cluster's
   * topics.
   *
   * @example
   * cluster.metric('BytesIn', { topic: 'orders', period: Duration.minutes(5) });
   */
  metric(name: SluiceMetricName, options?: SluiceMetricOptions): cloudwatch.IMetric {
    return sluiceMetric(this.serviceName, name, options);
  }

  /** Record batch bytes appended. @example cluster.metricBytesIn({ topic: 'orders' }) */
  metricBytesIn(options?: SluiceMetricOptions): cloudwatch.IMetric {
    return this.metric('BytesIn', options);
  }

  /** Records appended. @example cluster.metricRecordsIn({ topic: 'orders' }) */
  metricRecordsIn(options?: SluiceMetricOptions): cloudwatch.IMetric {
    return this.metric('RecordsIn', options);
  }

  /** Record batch bytes served to consumers. @example cluster.metricBytesOut() */
  metricBytesOut(options?: SluiceMetricOptions): cloudwatch.IMetric {
    return this.metric('BytesOut', options);
  }

  /** Records served to consumers. @example cluster.metricRecordsOut({ topic: 'orders' }) */
  metricRecordsOut(options?: SluiceMetricOptions): cloudwatch.IMetric {
    return this.metric('RecordsOut', options);
  }

  /**
   * Consumer lag (high watermark − committed offset), maximum over groups.
   *
   * @example
   * new cloudwatch.Alarm(stack, 'OrdersLag', {
   *   metric: cluster.metricConsumerLag({ topic: 'orders' }), threshold: 10_000, evaluationPeriods: 5,
   * });
   */
  metricConsumerLag(options?: SluiceMetricOptions): cloudwatch.IMetric {
    return this.metric('ConsumerLag', options);
  }

  protected grantUrls(grantee: iam.IGrantable, fns: readonly lambda.IFunction[]): iam.Grant {
    // grantInvokeUrl grants lambda:InvokeFunctionUrl (AuthType AWS_IAM) and
    // lambda:InvokeFunction (InvokedViaFunctionUrl), which Function URLs now both require.
    return fns.map((fn) => fn.grantInvokeUrl(grantee)).reduce((a, b) => a.combine(b));
  }
}
