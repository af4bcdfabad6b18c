/**
 * Time and randomness are parameters of the core, never globals: tests drive time
 * (session timeouts, retention, leases) without sleeping, and seeded randomness makes
 * backoff and fault schedules reproducible.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Resolves after `ms` milliseconds of this clock's time. */
  sleep(ms: number): Promise<void>;
}

/** A uniform number in [0, 1). */
export type Random = () => number;

/**
 * A clock that only moves when told to: `advance` resolves the sleeps it passes. With
 * `autoAdvance`, a sleep moves time forward itself (virtual time: retries and backoff
 * run instantly, yet every timestamp stays deterministic).
 */
export class ManualClock implements Clock {
  private t: number;
  private sleepers: { until: number; resolve: () => void }[] = [];
  private readonly autoAdvance: boolean;

  constructor(start = 1_700_000_000_000, options: { autoAdvance?: boolean } = {}) {
    this.t = start;
    this.autoAdvance = options.autoAdvance ?? false;
  }

  now(): number {
    return this.t;
  }

  sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    if (this.autoAdvance) {
      this.advance(ms);
      return Promise.resolve();
    }
    return new Promise((resolve) => this.sleepers.push({ until: this.t + ms, resolve }));
  }

  /** Moves time forward and wakes every sleeper whose deadline has passed. */
  advance(ms: number): void {
    this.t += ms;
    const due = this.sleepers.filter((s) => s.until <= this.t);
    this.sleepers = this.sleepers.filter((s) => s.until > this.t);
    for (const s of due) s.resolve();
  }
}

/** Mulberry32: a small, fast, seeded PRNG, good enough for jitter and fault schedules. */
export function seededRandom(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
