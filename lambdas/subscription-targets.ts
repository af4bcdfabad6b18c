/**
 * The AWS side of a subscription's ports: Lambda `Invoke` (RequestResponse) for the target,
 * SQS `SendMessage` for the `onFailure` destination.
 */
import type { LambdaClient } from '@aws-sdk/client-lambda';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type {
  FailureDestination,
  FailureRecord,
  InvokeOutcome,
  InvokeTarget,
  SubscriptionEvent,
} from '../core/subscriptions/index.js';

/** Longest error text kept from a failed invocation. */
const MAX_ERROR = 1000;

/**
 * Invokes a function by name or ARN and waits for it. A `FunctionError` (the function threw or
 * timed out) or a failed call (throttled, not found, no permission) fails the batch.
 */
export class LambdaInvokeTarget implements InvokeTarget {
  constructor(private readonly client: LambdaClient) {}

  async invoke(target: string, event: SubscriptionEvent): Promise<InvokeOutcome> {
    const { InvokeCommand } = await import('@aws-sdk/client-lambda');
    try {
      const out = await this.client.send(
        new InvokeCommand({
          FunctionName: target,
          InvocationType: 'RequestResponse',
          Payload: Buffer.from(JSON.stringify(event)),
        }),
      );
      const text = out.Payload ? Buffer.from(out.Payload).toString('utf8') : '';
      if (out.FunctionError) return { ok: false, error: `${out.FunctionError}: ${text.slice(0, MAX_ERROR)}` };
      let response: unknown = null;
      try {
        response = text ? JSON.parse(text) : null;
      } catch {
        response = text; // a non-JSON result: no partial failures in it
      }
      return { ok: true, response };
    } catch (error) {
      return { ok: false, error: String(error).slice(0, MAX_ERROR) };
    }
  }
}

/**
 * Sends failure records to an SQS queue given by URL or ARN
 * (`arn:aws:sqs:<region>:<account>:<name>`, resolved once with GetQueueUrl).
 */
export class SqsFailureDestination implements FailureDestination {
  private readonly urls = new Map<string, Promise<string>>();

  constructor(private readonly client: SQSClient) {}

  private url(destination: string): Promise<string> {
    if (!destination.startsWith('arn:')) return Promise.resolve(destination);
    let url = this.urls.get(destination);
    if (!url) {
      const [, , , , account, name] = destination.split(':');
      url = import('@aws-sdk/client-sqs').then(async ({ GetQueueUrlCommand }) => {
        const out = await this.client.send(
          new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }),
        );
        return out.QueueUrl!;
      });
      url.catch(() => this.urls.delete(destination));
      this.urls.set(destination, url);
    }
    return url;
  }

  async send(destination: string, record: FailureRecord): Promise<void> {
    const { SendMessageCommand } = await import('@aws-sdk/client-sqs');
    await this.client.send(
      new SendMessageCommand({ QueueUrl: await this.url(destination), MessageBody: JSON.stringify(record) }),
    );
  }
}
