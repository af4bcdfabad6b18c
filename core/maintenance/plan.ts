/**
 * The planner: what a maintenance pass should do, decided from a few batched reads so
 * idle partitions cost nothing but their share of a batchGet.
 *
 *   - one task per partition with work: new data since the last pass (its head moved),
 *     a due time reached (retention, a ripening run of small objects), more bytes than
 *     `retention.bytes`, or no progress item yet;
 *   - one task per deleted topic past its grace period;
 *   - one transactions task (abort the abandoned ones) when any transactional id exists;
 *   - one orphan GC task when the last one is older than `orphanGcIntervalMs`.
 *
 * Cost: one catalog query per 1000 topics, one batchGet per 50 partitions (head and
 * progress item each), one query of `deleted-topics`, one query (limit 1) of the
 * transaction catalog, one get of the GC marker.
 */
import { type Head, headFromItem } from '../heads.js';
import { keys } from '../keys.js';
import type { Item } from '../ports.js';
import { DEFAULT_TOPIC_CONFIG, type TopicConfig } from '../topics.js';
import type { DeletedTopicTask } from './deleted-topics.js';
import type { MaintenanceDeps, MaintenanceOptions } from './options.js';
import type { OrphansTask } from './orphans.js';
import type { PartitionTask } from './partition.js';
import { type MaintenanceState, stateFromItem } from './state.js';
import type { TransactionsTask } from './transactions.js';

export type MaintenanceTask = PartitionTask | DeletedTopicTask | TransactionsTask | OrphansTask;

export interface PlanOptions {
  /** Every partition with data, whatever its state; and orphan GC regardless of its interval. */
  force?: boolean;
}

/** Partitions per batchGet: two keys each, 100 keys per request. */
const PARTITIONS_PER_READ = 50;

/** True when a partition has something to do. */
export function partitionNeedsWork(
  head: Head,
  state: MaintenanceState | undefined,
  config: TopicConfig,
  now: number,
): boolean {
  if (head.version === 0) return false;
  if (!state || head.data.next !== state.seen) return true;
  if (state.due >= 0 && now >= state.due) return true;
  const bound = config['retention.bytes'];
  return config['cleanup.policy'] === 'delete' && bound >= 0 && head.data.size > bound;
}

/**
 * Lists the tasks of a pass.
 *
 * @example
 * const tasks = await planMaintenance(deps, resolveMaintenanceOptions());
 * for (const task of tasks) await runTask(deps, options, task);
 */
export async function planMaintenance(
  deps: MaintenanceDeps,
  options: MaintenanceOptions,
  plan: PlanOptions = {},
): Promise<MaintenanceTask[]> {
  const now = deps.clock.now();
  const tasks: MaintenanceTask[] = [];
  for await (const topic of catalog(deps)) {
    for (let p = 0; p < topic.partitions; p += PARTITIONS_PER_READ) {
      const parts = Array.from(
        { length: Math.min(PARTITIONS_PER_READ, topic.partitions - p) },
        (_, i) => p + i,
      );
      const items = await deps.meta.batchGet(
        parts.flatMap((partition) => [keys.head(topic.id, partition), keys.maintenance(topic.id, partition)]),
      );
      parts.forEach((partition, i) => {
        const head = headFromItem(items[2 * i]);
        const stateItem = items[2 * i + 1];
        const state = stateItem ? stateFromItem(stateItem) : undefined;
        const busy = plan.force ? head.version > 0 : partitionNeedsWork(head, state, topic.config, now);
        if (busy) tasks.push({ kind: 'partition', topic: topic.name, topicId: topic.id, partition });
      });
    }
  }

  let after: string | undefined;
  do {
    const page = await deps.meta.query(keys.deletedTopicsPk, undefined, { after, limit: 1000 });
    for (const item of page.items) {
      if (now >= Number(item.data.deletedAt ?? 0) + options.deletedTopicGraceMs) {
        tasks.push({ kind: 'deleted-topic', topicId: item.sk });
      }
    }
    after = page.next;
  } while (after);

  // Abandoned transactions go before orphan GC, which then finds their staged objects unreferenced.
  const ids = await deps.meta.query(keys.transactionCatalogPk, undefined, { limit: 1 });
  if (ids.items.length > 0) tasks.push({ kind: 'transactions' });

  const gc = await deps.meta.get(keys.orphanGc);
  if (plan.force || !gc || now - Number(gc.data.at ?? 0) >= options.orphanGcIntervalMs) {
    tasks.push({ kind: 'orphans' });
  }
  return tasks;
}

interface CatalogTopic {
  name: string;
  id: string;
  partitions: number;
  config: TopicConfig;
}

async function* catalog(deps: MaintenanceDeps): AsyncGenerator<CatalogTopic> {
  let after: string | undefined;
  do {
    const page = await deps.meta.query(keys.topicCatalogPk, undefined, { after, limit: 1000 });
    for (const item of page.items) yield topicOf(item);
    after = page.next;
  } while (after);
}

function topicOf(item: Item): CatalogTopic {
  return {
    name: item.sk,
    id: String(item.data.id),
    partitions: Number(item.data.partitions ?? 0),
    config: { ...DEFAULT_TOPIC_CONFIG, ...(item.data.config as Partial<TopicConfig> | undefined) },
  };
}
