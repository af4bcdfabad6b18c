/** Sluice's CDK library: the {@link SluiceCluster} construct and the {@link SluiceStack}. */
export { type InboxBackend, InvalidInboxOptionsError } from './inbox-backend.js';
export { METRICS_NAMESPACE, type SluiceMetricName, type SluiceMetricOptions } from './metrics.js';
export {
  DEFAULT_RESERVED_CONCURRENCY,
  InvalidReservedConcurrencyError,
} from './reserved-concurrency.js';
export {
  API_FUNCTIONS,
  SluiceCluster,
  TABLE_SCHEMA,
} from './sluice-cluster.js';
export type { SluiceClusterProps } from './sluice-cluster-props.js';
export {
  type ISluiceCluster,
  type SluiceClusterAttributes,
  SluiceClusterBase,
} from './sluice-cluster-ref.js';
export { SluiceStack, type SluiceStackProps } from './sluice-stack.js';
export { SluiceSubscription, type SluiceSubscriptionProps } from './sluice-subscription.js';
export { InvalidTopicSpecError, type TopicSpec, validateTopicSpecs } from './topic-spec.js';
