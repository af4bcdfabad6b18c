/**
 * Consumer groups (DESIGN.md §6, API.md "Consumer groups"): a group coordinator with no
 * coordinator process. See `model.ts` for the group item, `reconcile.ts` for the hand-off
 * rules, `offsets.ts` for commit fencing and `config.ts` for the session arithmetic.
 */
export type { Assignment, AssignmentInput, Assignor, AssignorName } from './assignors/index.js';
export { ASSIGNORS, rangeAssignor, uniformAssignor } from './assignors/index.js';
export { DEFAULT_GROUP_CONFIG, type GroupConfig, heartbeatInterval } from './config.js';
export { GroupCoordinator, type GroupCoordinatorDeps } from './coordinator.js';
export type { GroupDescription, GroupSummary, MemberDescription, PartitionLag } from './describe.js';
export type { HeartbeatResponse } from './membership.js';
export type { GroupState, GroupStateName, MemberState } from './model.js';
export type { CommitLag, CommittedOffset } from './offsets.js';
export type { TopicPartitionList, TopicPartitions } from './partition-sets.js';
export { cachedTopicView, type TopicView } from './ports.js';
export type { CommitInput, HeartbeatInput, OffsetCommitInput } from './requests.js';
