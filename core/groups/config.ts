/**
 * Group coordinator settings and the session arithmetic that keeps a stable group cheap.
 *
 * Liveness without a write per heartbeat: each member's session deadline is stored in the
 * group item, and a heartbeat pushes it forward only once the deadline is less than one
 * session timeout away. With `sessionSlack` = 0.5 a refresh sets the deadline 1.5 session
 * timeouts ahead, and the next refresh comes half a session timeout later, so:
 *
 * - a member that heartbeats at least once per session timeout is never expired, and one
 *   that stops is expired between 1 and 1 + `sessionSlack` session timeouts after its last
 *   heartbeat (45–67.5 s by default);
 * - a member in a stable group costs one write per `sessionTimeoutMs × sessionSlack`
 *   (one per 22.5 s by default, whatever its heartbeat interval).
 */
import type { AssignorName } from './assignors/index.js';

export interface GroupConfig {
  /** The assignor computing target assignments. @default 'uniform' */
  readonly assignor: AssignorName;
  /** Session timeout of a member that names none. @default 45000 */
  readonly defaultSessionTimeoutMs: number;
  /** @default 6000 */
  readonly minSessionTimeoutMs: number;
  /** @default 1800000 (30 min) */
  readonly maxSessionTimeoutMs: number;
  /** Heartbeat interval returned to members, capped at a third of their session. @default 3000 */
  readonly heartbeatIntervalMs: number;
  /** Extra lifetime of a refreshed deadline, as a fraction of the session timeout. @default 0.5 */
  readonly sessionSlack: number;
  /** Compare-and-set attempts on the group item before UNAVAILABLE. @default 50 */
  readonly maxAttempts: number;
}

export const DEFAULT_GROUP_CONFIG: GroupConfig = {
  assignor: 'uniform',
  defaultSessionTimeoutMs: 45_000,
  minSessionTimeoutMs: 6_000,
  maxSessionTimeoutMs: 30 * 60_000,
  heartbeatIntervalMs: 3_000,
  sessionSlack: 0.5,
  maxAttempts: 50,
};

/** The interval a member should heartbeat at: at least three heartbeats per session. */
export function heartbeatInterval(config: GroupConfig, sessionTimeoutMs: number): number {
  return Math.min(config.heartbeatIntervalMs, Math.floor(sessionTimeoutMs / 3));
}

/** The deadline a refresh at `now` sets. */
export function sessionDeadline(config: GroupConfig, now: number, sessionTimeoutMs: number): number {
  return now + Math.ceil(sessionTimeoutMs * (1 + config.sessionSlack));
}

/** True when a heartbeat at `now` should push the deadline forward (less than one session left). */
export function needsRefresh(now: number, expiresAt: number, sessionTimeoutMs: number): boolean {
  return now >= expiresAt - sessionTimeoutMs;
}
