/**
 * Counts the SQS requests an inbox queue costs, as SQS bills them: a SendMessageBatch,
 * ReceiveMessage, DeleteMessageBatch or ChangeMessageVisibilityBatch is one request per 10
 * messages (and per 64 KiB chunk of payload), an empty receive one request too.
 */
import type { InboxDelivery, InboxQueue } from '../core/inbox/queue.js';

export interface QueueCounts {
  send: number;
  receive: number;
  delete: number;
  release: number;
  /** Billed requests: every call above, each 64 KiB of a send's payload counting as one. */
  requests: number;
}

const CHUNK = 64 * 1024;

export class MeteredInboxQueue implements InboxQueue {
  readonly counts: QueueCounts = { send: 0, receive: 0, delete: 0, release: 0, requests: 0 };
  constructor(readonly inner: InboxQueue) {}

  /** The inner queue's address: a metered SQS queue is still reached directly by clients. */
  get address() {
    return this.inner.address;
  }

  async send(bodies: readonly string[]): Promise<string[]> {
    for (let i = 0; i < bodies.length; i += 10) {
      const bytes = bodies.slice(i, i + 10).reduce((n, b) => n + Buffer.byteLength(b), 0);
      this.counts.send++;
      this.counts.requests += Math.max(1, Math.ceil(bytes / CHUNK));
    }
    return this.inner.send(bodies);
  }

  async receive(max: number, waitMs?: number): Promise<InboxDelivery[]> {
    this.counts.receive++;
    this.counts.requests++;
    return this.inner.receive(max, waitMs);
  }

  async delete(receipts: readonly string[]): Promise<void> {
    const calls = Math.ceil(receipts.length / 10);
    this.counts.delete += calls;
    this.counts.requests += calls;
    return this.inner.delete(receipts);
  }

  async release(receipts: readonly string[], delayMs: number): Promise<void> {
    const calls = Math.ceil(receipts.length / 10);
    this.counts.release += calls;
    this.counts.requests += calls;
    return this.inner.release(receipts, delayMs);
  }
}
