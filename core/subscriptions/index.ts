/**
 * Subscriptions (DESIGN.md "Subscriptions", API.md "Subscriptions"): Sluice pushes a topic's
 * records to a function, in order per partition, at least once, built on consumer groups
 * (committed offsets) and fenced partition leases.
 */
export {
  defaultGroupId,
  MUTABLE_FIELDS,
  resolveSubscription,
  type StartingPosition,
  SUBSCRIPTION_DEFAULTS,
  type SubscriptionConfig,
  type SubscriptionInput,
  validateChanges,
} from './config.js';
export {
  Dispatcher,
  type DispatcherDeps,
  type DispatchOptions,
  type DispatchResult,
  type DispatchStatus,
} from './dispatcher.js';
export {
  buildEvent,
  firstFailedOffset,
  itemIdentifier,
  type SubscriptionEvent,
  type SubscriptionEventRecord,
} from './event.js';
export {
  compileFilters,
  eventPatternMatcher,
  type FilterableRecord,
  MAX_FILTERS,
  MAX_PATTERN_LENGTH,
  type SubscriptionFilter,
  validateFilters,
} from './filters.js';
export type { FailureDestination, FailureRecord, InvokeOutcome, InvokeTarget } from './ports.js';
export { type PendingDispatch, type SchedulerDeps, SubscriptionScheduler } from './scheduler.js';
export { SubscriptionStore, type SubscriptionStoreDeps } from './store.js';
export { type SweepDeps, strandedDispatches } from './sweep.js';
export { TRIGGER_PATTERNS } from './trigger-patterns.js';
