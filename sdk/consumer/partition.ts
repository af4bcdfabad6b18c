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
  private busy: Promise<void> | undefined;

  constructor(
    readonly topic: string,
    readonly partition: number,
  ) {
    this.key = `${topic}\u0000${partition}`;
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
