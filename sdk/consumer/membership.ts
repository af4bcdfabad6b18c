/**
 * Group membership (API.md "Consumer groups", KIP-848 style): join with epoch 0 and the
 * subscribed topics, then heartbeat with the last epoch and the partitions still owned;
 * the server answers the assignment to consume. Fenced or forgotten members drop what they
 * held (without committing) and rejoin under their old id.
 */
import type { SluiceApi } from '../api.js';
import { FencedMemberEpochError, UnknownMemberIdError } from '../errors.js';
import type { Logger } from '../logger.js';
import { isRetriable, type RetryOptions, withRetry } from '../retry.js';
import type { TopicPartitions } from './types.js';

export interface MembershipHooks {
  /** The topics to subscribe to now (regular expressions resolved). */
  topics(): Promise<string[]>;
  /** Partitions the consumer still consumes (assigned ones plus those being revoked). */
  owned(): TopicPartitions[];
  /** A new assignment: start consuming what is new, start revoking what is gone. */
  onAssignment(assignment: TopicPartitions[]): void;
  /** The membership is gone: stop consuming everything, commit nothing. */
  onLost(): Promise<void>;
  onJoin(memberId: string, epoch: number, assignment: TopicPartitions[]): void;
  onHeartbeat(memberId: string, epoch: number): void;
  /**
   * True while the member is quiet: its fetches come back empty and nothing is being
   * handed over, so it heartbeats at the idle interval (a heartbeat is a billed request).
   */
  idle?(): boolean;
}

export interface MembershipOptions {
  sessionTimeout: number;
  heartbeatInterval: number;
  /** The heartbeat interval while {@link MembershipHooks.idle} (ms); capped at a third of the session. */
  idleHeartbeatInterval?: number;
  retry?: RetryOptions;
}

/** The idle heartbeat interval when none is configured: this many heartbeat intervals. */
export const IDLE_HEARTBEAT_FACTOR = 5;

interface HeartbeatAnswer {
  memberId: string;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  assignment: TopicPartitions[];
}

export class GroupMembership {
  memberId: string | undefined;
  epoch = 0;
  private interval: number;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private kicked = false;
  private rejoin = false;
  private sentTopics: string | undefined;

  constructor(
    private readonly api: SluiceApi,
    private readonly logger: Logger,
    private readonly groupId: string,
    private readonly hooks: MembershipHooks,
    private readonly options: MembershipOptions,
  ) {
    this.interval = options.heartbeatInterval;
  }

  private get path(): string {
    return `/v1/groups/${encodeURIComponent(this.groupId)}/heartbeat`;
  }

  /** Joins (retrying retriable failures per the retry policy), then heartbeats in the background. */
  async start(): Promise<void> {
    this.running = true;
    await withRetry(this.options.retry, async () => {
      if (!(await this.heartbeat()))
        throw Object.assign(new Error('no topic to subscribe to yet'), { retriable: true });
    }).catch((err) => {
      this.running = false;
      throw err;
    });
    this.loop = this.run();
  }

  /** When the last successful heartbeat was sent (ms); the session lasts from there. */
  private lastOkSentAt = 0;

  /**
   * True once a whole session timeout has passed since the last heartbeat that succeeded:
   * the server may have given our partitions to someone else, so we must not touch them.
   */
  expired(): boolean {
    return this.epoch > 0 && Date.now() - this.lastOkSentAt >= this.options.sessionTimeout;
  }

  /** Heartbeat as soon as possible (after a revocation completed). */
  kick(): void {
    this.kicked = true;
    this.wake?.();
  }

  /** Drop everything and rejoin (a commit was fenced). */
  requestRejoin(): void {
    this.rejoin = true;
    this.kick();
  }

  /** Stops heartbeating and leaves the group (epoch -1), so partitions move at once. */
  async leave(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    if (this.memberId && this.epoch > 0) {
      try {
        await this.api.send('groups', {
          method: 'POST',
          path: this.path,
          json: { memberId: this.memberId, memberEpoch: -1 },
        });
      } catch (err) {
        this.logger.warn('could not leave the group; its session will expire', { error: String(err) });
      }
    }
    this.epoch = 0;
  }

  /**
   * The wait before the next heartbeat: the interval, or while idle the idle interval
   * (default five intervals, 15 s), never more than a third of the session timeout so a
   * quiet member is never expired. A member joining waits up to this long for an idle one to
   * release partitions; a busy member (any record fetched) is back at the interval.
   */
  nextInterval(): number {
    if (!this.hooks.idle?.()) return this.interval;
    const idle = this.options.idleHeartbeatInterval ?? this.options.heartbeatInterval * IDLE_HEARTBEAT_FACTOR;
    return Math.max(this.interval, Math.min(idle, Math.floor(this.options.sessionTimeout / 3)));
  }

  private async run(): Promise<void> {
    while (this.running) {
      await this.pause(this.nextInterval());
      if (!this.running) break;
      try {
        if (this.rejoin) {
          this.rejoin = false;
          await this.lose('a commit was fenced');
        }
        await this.heartbeat();
      } catch (err) {
        if (err instanceof FencedMemberEpochError || err instanceof UnknownMemberIdError) {
          await this.lose(err.message);
          this.kicked = true;
        } else {
          this.logger.warn('heartbeat failed', {
            groupId: this.groupId,
            error: String(err),
            retriable: isRetriable(err),
          });
          // Never two owners: past our session, drop everything and rejoin later.
          if (this.expired()) await this.lose('no successful heartbeat for a whole session timeout');
        }
      }
    }
  }

  private async lose(why: string): Promise<void> {
    this.logger.warn('lost group membership; rejoining', {
      groupId: this.groupId,
      memberId: this.memberId,
      why,
    });
    await this.hooks.onLost();
    this.epoch = 0;
  }

  /** One heartbeat; false when there is nothing to subscribe to. */
  private async heartbeat(): Promise<boolean> {
    const topics = await this.hooks.topics();
    if (topics.length === 0) return false;
    const topicsKey = JSON.stringify([...topics].sort());
    const joining = this.epoch === 0;
    const body = joining
      ? { memberId: this.memberId, memberEpoch: 0, topics, sessionTimeoutMs: this.options.sessionTimeout }
      : {
          memberId: this.memberId,
          memberEpoch: this.epoch,
          ownedPartitions: this.hooks.owned(),
          ...(topicsKey !== this.sentTopics && { topics }),
        };
    const sentAt = Date.now();
    const res = await this.api.send('groups', { method: 'POST', path: this.path, json: body });
    const answer = JSON.parse(Buffer.from(res.body).toString('utf8')) as HeartbeatAnswer;
    this.lastOkSentAt = sentAt;
    this.memberId = answer.memberId;
    this.epoch = answer.memberEpoch;
    this.sentTopics = topicsKey;
    this.interval = Math.max(
      50,
      Math.min(this.options.heartbeatInterval, answer.heartbeatIntervalMs || Infinity),
    );
    this.hooks.onHeartbeat(answer.memberId, answer.memberEpoch);
    if (joining) this.hooks.onJoin(answer.memberId, answer.memberEpoch, answer.assignment);
    this.hooks.onAssignment(answer.assignment);
    return true;
  }

  private pause(ms: number): Promise<void> {
    if (this.kicked) {
      this.kicked = false;
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const finish = () => {
        clearTimeout(timer);
        this.wake = undefined;
        this.kicked = false;
        resolve();
      };
      const timer = setTimeout(finish, ms);
      this.wake = finish;
    });
  }
}
