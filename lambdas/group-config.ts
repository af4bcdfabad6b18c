/**
 * The group settings of the environment (read by the handler context and the groups function):
 * - `SLUICE_GROUP_ASSIGNOR`: `uniform` (default) or `range`
 * - `SLUICE_GROUP_HEARTBEAT_INTERVAL_MS`: the interval returned to members (default 3000;
 *   never more than a third of a member's session timeout)
 */
import { ASSIGNORS, type AssignorName, type GroupConfig } from '../core/groups/index.js';

/** Reads the group settings of the environment; throws on a value it does not understand. */
export function groupConfigFromEnv(env: NodeJS.ProcessEnv): Partial<GroupConfig> {
  const config: { -readonly [K in keyof GroupConfig]?: GroupConfig[K] } = {};
  const assignor = env.SLUICE_GROUP_ASSIGNOR;
  if (assignor) {
    if (!Object.hasOwn(ASSIGNORS, assignor)) {
      throw new Error(
        `SLUICE_GROUP_ASSIGNOR must be one of ${Object.keys(ASSIGNORS).join(', ')}, not '${assignor}'`,
      );
    }
    config.assignor = assignor as AssignorName;
  }
  const interval = env.SLUICE_GROUP_HEARTBEAT_INTERVAL_MS;
  if (interval) {
    const ms = Number(interval);
    if (!Number.isSafeInteger(ms) || ms < 100) {
      throw new Error(`SLUICE_GROUP_HEARTBEAT_INTERVAL_MS must be an integer ≥ 100, not '${interval}'`);
    }
    config.heartbeatIntervalMs = ms;
  }
  return config;
}
