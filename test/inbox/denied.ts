/**
 * What a direct acks=1 sender does when the inbox denies its credentials (an imported
 * cluster granted without its inbox ARN), for SQS and Kinesis alike: the denied send and
 * every later one go through `POST /v1/inbox`, once each, in order.
 */
import { expect } from 'vitest';
import type { SluiceContext } from '../../lambdas/context.js';
import { logLevel, Sluice } from '../../sdk/index.js';
import type { Transport } from '../../sdk/transport/types.js';
import { EMULATOR_CREDENTIALS } from '../helpers/stores.js';
import { waitFor } from '../sdk/harness.js';
import { counting } from './counting.js';

export const FAST_RETRY = { retries: 8, initialRetryTime: 20, maxRetryTime: 300 };

/** Sends three events to `topic` with every direct request answered `denial` (an AWS JSON error). */
export async function expectDeniedFallsBackToHttp(
  server: { url: string; context: SluiceContext },
  topic: string,
  denial: { contentType: string; type: string },
): Promise<void> {
  const api = counting(server.url);
  let denied = 0;
  const deny: Transport = async () => {
    denied++;
    return {
      status: 400,
      headers: { 'content-type': denial.contentType },
      body: new TextEncoder().encode(JSON.stringify({ __type: denial.type, message: 'not authorized' })),
    };
  };
  const sluice = new Sluice({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: EMULATOR_CREDENTIALS,
    transport: api.transport,
    inbox: { transport: deny },
    retry: FAST_RETRY,
    logLevel: logLevel.NOTHING,
  });
  await sluice.admin().createTopics({ topics: [{ topic, numPartitions: 1 }] });
  const p = sluice.producer({ acks: 1 });
  for (const value of ['d0', 'd1', 'd2']) {
    const [meta] = await p.send({ topic, messages: [{ partition: 0, value }] });
    expect(meta?.baseOffset).toBe('-1');
  }
  // Denied once, not retried; every send after it (and the denied one) went over HTTP.
  expect(denied).toBe(1);
  expect(api.paths.get('POST /v1/inbox')).toBe(3);
  const values = async () =>
    (await server.context.reader.fetchRecords(topic, 0, 0, { maxBytes: 1 << 20 })).records.map((r) =>
      Buffer.from(r.value!).toString(),
    );
  await waitFor(async () => (await values()).length >= 3, 30_000, 'the batcher');
  expect(await values()).toEqual(['d0', 'd1', 'd2']);
  await p.disconnect();
}
