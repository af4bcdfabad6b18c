/**
 * The safety net of the subscriptions trigger (DESIGN.md "Subscriptions"): the partitions of
 * enabled subscriptions that have records to deliver and no live dispatcher. The trigger runs
 * on changes only, so a run that died (its function timed out or crashed, leaving its lease to
 * expire) or whose stream batch was given up would leave a partition waiting for the next
 * produce; the scheduled maintenance pass asks this once a tick and wakes the trigger with
 * what it finds. Reads only: the subscriptions, and per partition its lease, committed offset
 * and head — nothing per idle cluster without subscriptions beyond one query.
 */
import type { Clock } from '../clock.js';
import type { Reader } from '../fetch.js';
import { currentItem } from '../groups/offsets.js';
import { keys } from '../keys.js';
import type { MetaStore } from '../ports.js';
import type { Topics } from '../topics.js';
import type { SubscriptionConfig } from './config.js';
import type { PendingDispatch } from './scheduler.js';

export interface SweepDeps {
  meta: MetaStore;
  topics: Topics;
  reader: Reader;
  clock: Clock;
  listSubscriptions(): Promise<SubscriptionConfig[]>;
}

/** (subscription, partition)s behind their partition's head with no unexpired lease. */
export async function strandedDispatches(deps: SweepDeps): Promise<PendingDispatch[]> {
  const now = deps.clock.now();
  const out: PendingDispatch[] = [];
  for (const sub of await deps.listSubscriptions()) {
    if (!sub.enabled) continue;
    const topic = await deps.topics.load(sub.topic);
    if (!topic) continue;
    const found = await Promise.all(
      Array.from({ length: topic.partitions }, async (_, partition) => {
        const [lease, stored, head] = await Promise.all([
          deps.meta.get(keys.subscriptionLease(topic.id, partition, sub.name)),
          deps.meta.get(keys.committed(sub.groupId, sub.topic, partition)),
          deps.reader.head(topic, partition),
        ]);
        const expiresAt = lease?.data.expiresAt;
        if (typeof expiresAt === 'number' && expiresAt > now) return undefined; // a dispatcher is on it
        const committed = currentItem(stored, topic.id)?.data.offset;
        const offset = typeof committed === 'number' ? committed : 0;
        return offset < head.data.next ? { subscription: sub.name, partition } : undefined;
      }),
    );
    for (const f of found) if (f) out.push(f);
  }
  return out;
}
