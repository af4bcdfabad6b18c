/**
 * The stack `bin/app.ts` deploys: one {@link SluiceCluster} and its outputs — the URL a
 * client bootstraps from, each function's URL, and the names of the resources behind them.
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { SluiceCluster } from './sluice-cluster.js';
import type { SluiceClusterProps } from './sluice-cluster-props.js';

export interface SluiceStackProps extends StackProps, SluiceClusterProps {}

/**
 * @example
 * new SluiceStack(app, 'Sluice', { topics: [{ name: 'orders', partitions: 3 }] });
 */
export class SluiceStack extends Stack {
  readonly cluster: SluiceCluster;

  constructor(scope: Construct, id: string, props: SluiceStackProps = {}) {
    super(scope, id, {
      description: 'Sluice: a serverless Kafka-style event log (Lambda + S3 + DynamoDB)',
      ...props,
    });
    const cluster = new SluiceCluster(this, 'Cluster', props);
    this.cluster = cluster;
    const out = (name: string, value: string, description: string) =>
      new CfnOutput(this, name, { value, description });
    out(
      'BootstrapUrl',
      cluster.bootstrapUrl,
      'SLUICE_ENDPOINT for clients (the admin function URL; IAM auth)',
    );
    out(
      'ProduceUrl',
      cluster.produceUrl.url,
      'Produce function URL (bootstrap here with produce-only access)',
    );
    out('FetchUrl', cluster.fetchUrl.url, 'Fetch function URL (bootstrap here with consume-only access)');
    out('AdminUrl', cluster.adminUrl.url, 'Admin function URL');
    out('GroupsUrl', cluster.groupsUrl.url, 'Consumer groups function URL');
    out('SchemaRegistryUrl', cluster.schemaRegistryUrl, 'Confluent-compatible schema registry URL');
    out('ClusterId', cluster.clusterId, 'Cluster id reported by GET /v1/metadata');
    // What SluiceCluster.fromAttributes takes, for stacks and apps that use this cluster.
    out('ProduceFunctionArn', cluster.produceFunction.functionArn, 'Produce function ARN (fromAttributes)');
    out('FetchFunctionArn', cluster.fetchFunction.functionArn, 'Fetch function ARN (fromAttributes)');
    out('AdminFunctionArn', cluster.adminFunction.functionArn, 'Admin function ARN (fromAttributes)');
    out('GroupsFunctionArn', cluster.groupsFunction.functionArn, 'Groups function ARN (fromAttributes)');
    out('ServiceName', cluster.serviceName, 'Metrics service dimension (fromAttributes)');
    if (cluster.inboxQueue) {
      out('InboxQueueArn', cluster.inboxQueue.queueArn, 'acks=1 inbox SQS queue ARN (fromAttributes)');
    }
    if (cluster.inboxStream) {
      out(
        'InboxStreamArn',
        cluster.inboxStream.streamArn,
        'acks=1 inbox Kinesis stream ARN (SLUICE_INBOX_STREAM; fromAttributes)',
      );
    }
    out('BucketName', cluster.bucket.bucketName, 'S3 bucket holding record batches');
    out('TableName', cluster.table.tableName, 'DynamoDB table holding offsets, leases, groups');
    out(
      'MaintenanceQueueName',
      cluster.maintenanceQueue.queueName,
      'SQS queue feeding the maintenance function',
    );
    out('DeadLetterQueueName', cluster.deadLetterQueue.queueName, 'Maintenance tasks that failed 5 times');
    if (cluster.inboxQueue) {
      out('InboxQueueUrl', cluster.inboxQueue.queueUrl, 'acks=1 inbox SQS queue (SLUICE_INBOX_URL)');
    }
    out(
      'InboxDeadLetterQueueName',
      cluster.inboxDeadLetterQueue.queueName,
      'acks=1 inbox messages that could not be committed',
    );
    out('EndpointsParameterName', cluster.endpointsParameterName, 'SSM parameter listing the function URLs');
    out('ProduceFunctionName', cluster.produceFunction.functionName, 'Produce function');
    out('FetchFunctionName', cluster.fetchFunction.functionName, 'Fetch function');
    out('AdminFunctionName', cluster.adminFunction.functionName, 'Admin function');
    out('GroupsFunctionName', cluster.groupsFunction.functionName, 'Groups function');
    out('SchemasFunctionName', cluster.schemasFunction.functionName, 'Schema registry function');
    out('MaintenanceFunctionName', cluster.maintenanceFunction.functionName, 'Maintenance function');
    out('BatcherFunctionName', cluster.batcherFunction.functionName, 'acks=1 inbox batcher function');
    if (cluster.dashboard) out('DashboardName', cluster.dashboard.dashboardName, 'CloudWatch dashboard');
  }
}
