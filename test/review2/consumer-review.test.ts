/**
 * Review: the SDK consumer's group contract (core/groups/membership.ts header: what a member
 * must do for "never two owners" to hold) and its delivery guarantees.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHttpTransport, type Transport } from '../../sdk/index.js';
import { type Harness, startHarness, topicName, waitFor } from '../sdk/harness.js';

const enc = new TextEncoder();
function errorResponse(status: number, code: string, retriable: boolean) {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: enc.encode(JSON.stringify({ error: { code, message: 'injected by the test', retriable } })),
  };
}

describe('review: SDK consumer in a group', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness('memory');
  });
  afterAll(async () => {
    await h?.close();
  });

  async function send(topic: string, values: string[]) {
    const producer = h.sluice.producer();
    await producer.send({ topic, messages: values.map((value) => ({ value, partition: 0 })) });
    await producer.disconnect();
  }

  it('stops consuming once its session ran out without a successful heartbeat (never two owners)', async () => {
    const topic = topicName('lapse');
    await h.sluice.admin().createTopics({ topics: [{ topic, numPartitions: 1 }] });
    const groupId = topicName('lapse-group');
    const inner = createHttpTransport({ endpoint: h.url });
    let groupsDown = false;
    // The groups function becomes unreachable for A (heartbeats and commits); fetch still works.
    const transport: Transport = async (req) => {
      if (groupsDown && req.url.includes('/v1/groups/')) return errorResponse(503, 'UNAVAILABLE', true);
      return inner(req);
    };
    const config = { groupId, maxWaitTimeInMs: 100, heartbeatInterval: 200, sessionTimeout: 6000 };
    const a = h.client({ transport, retry: { retries: 0 } }).consumer(config);
    const b = h.sluice.consumer(config);
    const seenA: string[] = [];
    const seenB: string[] = [];
    await a.subscribe({ topics: [topic], fromBeginning: true });
    await a.run({ eachMessage: async ({ message }) => void seenA.push(message.value!.toString()) });
    await send(topic, ['m0']);
    await waitFor(() => seenA.length === 1, 10_000, 'A consumes m0');

    groupsDown = true;
    // More than A's session (6 s; the server expires it within 1.5 sessions) without a heartbeat.
    await new Promise((r) => setTimeout(r, 9_500));
    await b.subscribe({ topics: [topic], fromBeginning: true });
    await b.run({ eachMessage: async ({ message }) => void seenB.push(message.value!.toString()) });
    await waitFor(() => b.assignment()[0]?.partitions.length === 1, 10_000, 'B owns partition 0');

    await send(topic, ['m1']);
    await waitFor(() => seenB.includes('m1'), 10_000, 'B consumes m1');
    await new Promise((r) => setTimeout(r, 500));
    const aStillOwns = a.assignment();
    groupsDown = false;
    await Promise.all([a.disconnect(), b.disconnect()]);
    // A's session ran out 9.5 s ago from its own point of view: it must have stopped consuming.
    expect({ aProcessed: seenA, aAssignment: aStillOwns }).toEqual({ aProcessed: ['m0'], aAssignment: [] });
  }, 60_000);

  it('at-most-once: a batch whose commit was refused (fenced) is not handed over', async () => {
    const topic = topicName('amo');
    await h.sluice.admin().createTopics({ topics: [{ topic, numPartitions: 1 }] });
    const groupId = topicName('amo-group');
    const inner = createHttpTransport({ endpoint: h.url });
    let commits = 0;
    let fenced = true;
    let rejoined = false;
    // Commits are fenced (the group moved on: the member's epoch is stale) until it rejoins.
    const transport: Transport = async (req) => {
      if (req.method === 'POST' && req.url.endsWith('/offsets')) {
        commits++;
        if (fenced) return errorResponse(409, 'FENCED_MEMBER_EPOCH', false);
      }
      if (req.url.endsWith('/heartbeat') && commits > 0) {
        const body = JSON.parse(Buffer.from(req.body!).toString());
        if (body.memberEpoch === 0) {
          fenced = false;
          rejoined = true;
        }
      }
      // Heartbeats take a while (a cold Lambda): one is usually in flight when the commit is fenced.
      if (req.url.endsWith('/heartbeat')) await new Promise((r) => setTimeout(r, 300));
      return inner(req);
    };
    const consumer = h
      .client({ transport })
      .consumer({ groupId, maxWaitTimeInMs: 100, heartbeatInterval: 50, sessionTimeout: 6000 });
    const seen: string[] = [];
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      delivery: 'at-most-once',
      eachMessage: async ({ message }) => void seen.push(message.value!.toString()),
    });
    await new Promise((r) => setTimeout(r, 100));
    await send(topic, ['x0', 'x1', 'x2']);
    await waitFor(() => rejoined, 10_000, 'the rejoin after the fenced commit');
    await new Promise((r) => setTimeout(r, 1000));
    await consumer.disconnect();
    // At most once: no message twice (the fenced batch must not have been handed over).
    expect(seen).toEqual(['x0', 'x1', 'x2']);
  }, 30_000);
});
