/**
 * Cooperative hand-off (KIP-848): moving a member towards its target without ever letting
 * two members hold a partition.
 *
 * A member *holds* its assignment plus the partitions it is revoking. A partition leaves a
 * member's assignment as soon as the target no longer has it, but stays held (revoking)
 * until the member confirms it stopped consuming it; only partitions no other member holds
 * are added to an assignment. A member confirms a release by a heartbeat whose
 * `ownedPartitions` omits the partition — or, with no `ownedPartitions`, by a heartbeat at
 * the epoch of the response that took the partition away (that epoch proves it saw the
 * response, and the contract is to consume only the assignment).
 *
 * A partition taken away in a response is never released by the same heartbeat: the member
 * has not seen that response yet.
 */
import type { MemberState } from './model.js';
import { held } from './model.js';
import { EMPTY, equals, intersect, minus, type TopicPartitions, union } from './partition-sets.js';

export interface ReconcileInput {
  member: MemberState;
  /** The other live members. */
  others: readonly MemberState[];
  /** The member's `ownedPartitions`, when the heartbeat carried them. */
  owned: TopicPartitions | undefined;
  /** True when the heartbeat carried the member's current epoch (not the previous one). */
  atCurrentEpoch: boolean;
}

/**
 * The member after one heartbeat: releases confirmed, revocations started, free partitions
 * of its target granted; its epoch +1 when its assignment changed.
 *
 * @example
 * reconcileMember({ member, others, owned: tp({ orders: [0] }), atCurrentEpoch: true });
 */
export function reconcileMember(input: ReconcileInput): MemberState {
  const { member, owned } = input;
  let revoking = member.revoking;
  if (owned !== undefined) revoking = intersect(revoking, owned);
  else if (input.atCurrentEpoch) revoking = EMPTY;

  const kept = intersect(member.assigned, member.target);
  revoking = union(revoking, minus(member.assigned, member.target));

  const heldByOthers = union(...input.others.map(held));
  const assigned = union(kept, minus(minus(member.target, kept), heldByOthers));
  // A partition being revoked that the target gives back is simply kept.
  revoking = minus(revoking, assigned);

  if (equals(assigned, member.assigned)) {
    return equals(revoking, member.revoking) ? member : { ...member, revoking };
  }
  const next: MemberState = {
    ...member,
    assigned,
    revoking,
    previousEpoch: member.epoch,
    epoch: member.epoch + 1,
    granted: EMPTY,
  };
  next.granted = minus(held(next), held(member));
  return next;
}
