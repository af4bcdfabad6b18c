/**
 * Shared helpers for benchmarks. A benchmark is a module `bench/<name>.ts` that exports
 * `run(args: string[]): Promise<void>`; `npm run bench -- <name> [args]` runs it (bench/run.ts).
 * Benchmarks print figures and write `bench/results/<name>.json` as `{ name, metrics }`;
 * they are never timed tests.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The signature every bench module exports. */
export type BenchRun = (args: string[]) => Promise<void>;

/** Median of `values` (mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) throw new RangeError('median of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Throughput in MB/s (10^6 bytes per second). */
export function mbPerSecond(bytes: number, ms: number): number {
  return bytes / 1e6 / (ms / 1000);
}

/** Rounds `value` to `digits` decimals, for printing and JSON. */
export function round(value: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/**
 * Times `fn` for `rounds` rounds after `warmup` untimed ones. A round repeats `fn`
 * `iterations` times; returns each round's milliseconds per iteration.
 *
 * @example
 * const perCall = await timeRounds(() => encode(records), { rounds: 11, iterations: 20 });
 * console.log(median(perCall));
 */
export async function timeRounds(
  fn: () => unknown,
  { rounds, iterations, warmup = 2 }: { rounds: number; iterations: number; warmup?: number },
): Promise<number[]> {
  const out: number[] = [];
  for (let r = 0; r < warmup + rounds; r++) {
    const start = performance.now();
    for (let i = 0; i < iterations; i++) await fn();
    const ms = (performance.now() - start) / iterations;
    if (r >= warmup) out.push(ms);
  }
  return out;
}

/**
 * Runs `fn` `iterations` times and returns the wall-clock and the process CPU milliseconds
 * per iteration. CPU time barely moves when other processes load the machine, wall time does:
 * report wall time, use CPU time to tell noise from a real change.
 */
export async function sample(
  fn: () => unknown,
  iterations: number,
): Promise<{ wallMs: number; cpuMs: number }> {
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < iterations; i++) await fn();
  const wallMs = (performance.now() - start) / iterations;
  const used = process.cpuUsage(cpu);
  return { wallMs, cpuMs: (used.user + used.system) / 1000 / iterations };
}

/** Reads `--name=value` from bench args, with a default. */
export function numberArg(args: readonly string[], name: string, fallback: number): number {
  const hit = args.find((a) => a.startsWith(`--${name}=`));
  if (hit === undefined) return fallback;
  const value = Number(hit.slice(name.length + 3));
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`--${name} must be a positive number`);
  return value;
}

/** Prints rows as an aligned table. */
export function printTable(rows: readonly (readonly (string | number)[])[]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => String(r[c]).length)));
  for (const row of rows) console.log(row.map((cell, c) => String(cell).padEnd(widths[c]!)).join('  '));
}

/** Writes `bench/results/<name>.json` as `{ name, metrics }` and returns its path. */
export function writeResults(name: string, metrics: Record<string, number>): string {
  const path = join(dirname(fileURLToPath(import.meta.url)), 'results', `${name}.json`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify({ name, metrics }, null, 2)}\n`);
  return path;
}

/** Value at quantile `q` (0..1) of `values`, nearest rank. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) throw new RangeError('quantile of nothing');
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * Discrete-event virtual time for benches over the modelled stores: `sleep` registers a
 * timer, and {@link VirtualClock.run} jumps to the next timer whenever every runnable task
 * has run (the event loop is idle). Modelled latencies then cost no wall time, and the
 * figures do not depend on how loaded the machine is; CPU work takes no virtual time.
 */
export class VirtualClock {
  private t = 0;
  private seq = 0;
  private timers: { at: number; seq: number; resolve: () => void }[] = [];

  now(): number {
    return this.t;
  }

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      this.timers.push({ at: this.t + Math.max(0, ms), seq: this.seq++, resolve });
    });
  }

  /** Settles `promise`, moving time to each next timer whenever nothing else can run. */
  async run<T>(promise: Promise<T>): Promise<T> {
    let done = false;
    const settled = promise.finally(() => {
      done = true;
    });
    settled.catch(() => {});
    while (!done) {
      await new Promise((resolve) => setImmediate(resolve));
      if (done || this.timers.length === 0) continue;
      let next = 0;
      for (let i = 1; i < this.timers.length; i++) {
        const a = this.timers[i]!;
        const b = this.timers[next]!;
        if (a.at < b.at || (a.at === b.at && a.seq < b.seq)) next = i;
      }
      const timer = this.timers.splice(next, 1)[0]!;
      this.t = Math.max(this.t, timer.at);
      timer.resolve();
    }
    return settled;
  }
}
