/** What the consumer tracks for one partition it consumes. */

export class PartitionState {
  readonly key: string;
  /** Next offset to fetch and hand over; undefined until resolved from commits or the reset policy. */
  position: number | undefined;
  /** Offset last committed (as the server has it). */
  committed: number | undefined;
  /** Next offset after the last processed message: what a commit stores. */
  resolved: number | undefined;
  /** Messages processed since the last commit. */
  uncommitted = 0;
  /** Set when the position must come from the reset policy (out of range), not from commits. */
  reset = false;
  /** Being taken away: no more fetching or processing; commit and report it released. */
  revoking = false;
  /** Bumped by `seek`: processing of a batch fetched before stops. */
  generation = 0;
  /** No fetch before this time (after a failure of the handler or of the partition). */
  retryAt = 0;
  retryAttempt = 0;
  highWatermark = -1;
  /**
   * The id of the topic incarnation `position` belongs to (docs/design.md "Topic
   * incarnations"), once an answer named it; fetches and commits carry it, so a topic
   * deleted and re-created under its name is never read or committed from this position.
   */
  topicId: string | undefined;
  private busy: Promise<void> | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {
    this.key = `${topic}\u0000${partition}`;
  }

  /**
   * Forgets the position, commits and incarnation: the topic was deleted (and maybe
   * re-created), so the next position comes from the group's commits on the topic as it is
   * now, or from the reset policy. Work fetched before is dropped.
   */
  forgetIncarnation(): void {
    this.position = undefined;
    this.committed = undefined;
    this.resolved = undefined;
    this.uncommitted = 0;
    this.topicId = undefined;
    this.generation++;
  }

  /** Runs `work` as this partition's processing; `idle()` waits for it. */
  async process(work: () => Promise<void>): Promise<void> {
    const run = work();
    this.busy = run.then(
      () => undefined,
      () => undefined,
    );
    try {
      await run;
    } finally {
      this.busy = undefined;
    }
  }

  idle(): Promise<void> {
    return this.busy ?? Promise.resolve();
  }
}
