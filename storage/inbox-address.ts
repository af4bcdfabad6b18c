/** Where an SQS or Kinesis inbox is, for clients that sign their own requests to it. */

/** The region of `https://sqs.<region>.amazonaws.com/…`, else AWS_REGION / AWS_DEFAULT_REGION, else us-east-1. */
export function regionOfQueueUrl(url: string, env: NodeJS.ProcessEnv = process.env): string {
  return (
    /^sqs\.([a-z0-9-]+)\.amazonaws\.com/i.exec(new URL(url).hostname)?.[1] ??
    env.AWS_REGION ??
    env.AWS_DEFAULT_REGION ??
    'us-east-1'
  );
}

/** The region of `arn:aws:kinesis:<region>:<account>:stream/<name>`, else as {@link regionOfQueueUrl}. */
export function regionOfStreamArn(arn: string, env: NodeJS.ProcessEnv = process.env): string {
  return (
    /^arn:[^:]+:kinesis:([a-z0-9-]+):/.exec(arn)?.[1] ||
    env.AWS_REGION ||
    env.AWS_DEFAULT_REGION ||
    'us-east-1'
  );
}
