/**
 * What the parts of a consumer share (consumer.ts owns it): its configuration, the partition
 * table, the run configuration, the group membership while running, and the hooks that wake
 * the fetch loop and emit events. Each part (fetch loop, delivery, commit policy, group
 * assignment) reads and updates this one object, so the consumer has a single state.
 */
import type { SluiceApi } from '../api.js';
import type { Logger } from '../logger.js';
import type { RetryOptions } from '../retry.js';
import type { GroupMembership } from './membership.js';
import type { PartitionTable } from './partition-table.js';
import type { ConsumerConfig, ConsumerEventName, ConsumerRunConfig } from './types.js';

/** `run()`'s configuration with its defaults applied. */
export type RunSettings<K, V> = Required<
  Pick<
    ConsumerRunConfig<K, V>,
    'autoCommit' | 'eachBatchAutoResolve' | 'partitionsConsumedConcurrently' | 'delivery'
  >
> &
  ConsumerRunConfig<K, V>;

export interface ConsumerRuntime<K, V> {
  readonly api: SluiceApi;
  readonly logger: Logger;
  readonly config: ConsumerConfig<K, V>;
  readonly groupId: string | undefined;
  readonly retry: Required<RetryOptions>;
  readonly table: PartitionTable;
  /** The subscription (names and patterns) and its reset policy; undefined until `subscribe`. */
  subscription: { patterns: (string | RegExp)[]; fromBeginning: boolean } | undefined;
  runConfig: RunSettings<K, V>;
  running: boolean;
  membership: GroupMembership | undefined;
  /** Interrupts the fetch loop's long poll or idle wait so it re-reads the table. */
  wakeUp(): void;
  emit(type: ConsumerEventName, payload: Record<string, unknown>): void;
}
