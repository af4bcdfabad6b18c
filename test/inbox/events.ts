/** What the event source mappings hand the batcher function, built in tests from what a queue or stream holds. */
import type { SQSEvent } from 'aws-lambda';
import type { InboxDelivery } from '../../core/inbox/queue.js';
import type { KinesisInboxQueue, ShardRecord } from '../../storage/kinesis.js';

/** What the SQS event source mapping hands the function for these deliveries. */
export function sqsEvent(deliveries: readonly InboxDelivery[]): SQSEvent {
  return {
    Records: deliveries.map((d) => ({
      messageId: d.messageId,
      receiptHandle: d.receipt,
      body: d.body,
      attributes: {
        ApproximateReceiveCount: String(d.receiveCount),
        SentTimestamp: String(d.sentAt),
        SenderId: 'AIDAEXAMPLE',
        ApproximateFirstReceiveTimestamp: String(d.firstReceivedAt),
      },
      messageAttributes: {},
      md5OfBody: '',
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:inbox',
      awsRegion: 'us-east-1',
    })),
  };
}

/** Every record of a shard from `at` (a sequence number) or its start (50 pages at most). */
export async function readShard(
  stream: KinesisInboxQueue,
  shardId: string,
  at?: string,
): Promise<ShardRecord[]> {
  let iterator: string | undefined = await stream.iterator(shardId, at ? { at } : {});
  const out: ShardRecord[] = [];
  for (let i = 0; i < 50 && iterator; i++) {
    const page = await stream.read(iterator);
    out.push(...page.records);
    if (page.records.length === 0) break;
    iterator = page.next;
  }
  return out;
}
