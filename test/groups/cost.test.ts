/**
 * The cost of a stable group, measured at the port with the metered store (the figures of
 * `npm run bench -- groups`): heartbeats that change nothing write nothing, and a member
 * costs one small write per half session timeout.
 */
import { describe, expect, it } from 'vitest';
import { simulateStableGroup } from '../../bench/groups.js';

describe('group cost', () => {
  it('a member of a stable 3-member group costs 2.5 writes (2.5 WCU) per minute at default settings', async () => {
    const f = await simulateStableGroup({ members: 3, partitions: 12, minutes: 10 });
    console.log(
      `stable group of 3: ${f.writesPerMemberPerMinute} writes, ${f.wcuPerMemberPerMinute} WCU, ` +
        `${f.readsPerMemberPerMinute} reads, ${f.rcuPerMemberPerMinute} RCU per member per minute ` +
        `(heartbeat every ${f.heartbeatIntervalMs} ms, group item ${f.groupItemBytes} B, commit ${f.wcuPerCommit} WCU)`,
    );
    expect(f.heartbeatIntervalMs).toBe(3000);
    // One refresh per 22.5 s of session, taken at the first heartbeat after it: every 24 s.
    expect(f.writesPerMemberPerMinute).toBe(2.5);
    expect(f.wcuPerMemberPerMinute).toBe(2.5);
    expect(f.readsPerMemberPerMinute).toBe(20);
    expect(f.groupItemBytes).toBeLessThan(1024);
    // A commit: one transaction of a check on the group item and one offset put, 2 WCU each.
    expect(f.wcuPerCommit).toBe(4);
  });
});
