/**
 * What maintenance needs (stores, clock, randomness, an owner name for leases) and the
 * knobs that shape its work, with their defaults in one place.
 */
import type { Clock, Random } from '../clock.js';
import { InvalidRequestError } from '../errors.js';
import type { MetaStore, ObjectStore } from '../ports.js';

export interface MaintenanceDeps {
  meta: MetaStore;
  objects: ObjectStore;
  clock: Clock;
  random: Random;
  /** Who holds the partition leases this process takes (host, process, random part). */
  owner: string;
}

export interface MaintenanceOptions {
  /** How long a partition lease lasts; renewed at half-life between steps. @default 60000 */
  leaseTtlMs: number;
  /** Size of the objects small-object compaction writes (a run closes once it reaches it). @default 8 MiB */
  targetObjectBytes: number;
  /** Index entries smaller than this are "small" and may be rewritten. @default 1 MiB */
  smallEntryBytes: number;
  /** A run of small entries is rewritten once it holds this many (and is full or old enough). @default 8 */
  minSmallEntries: number;
  /**
   * A run of small entries that has not filled up is rewritten anyway once its first entry
   * is this old, so a quiet partition does not keep many tiny objects forever. @default 600000
   */
  maxCompactionDelayMs: number;
  /** Compacted topics: clean when dirty bytes / partition bytes reach this. @default 0.5 (Kafka's min.cleanable.dirty.ratio) */
  minCleanableDirtyRatio: number;
  /** Compacted topics: entries younger than this are never cleaned. @default 0 (Kafka's min.compaction.lag.ms) */
  minCompactionLagMs: number;
  /** Compacted topics: dirty bytes mapped per pass (bounds memory and time). @default 256 MiB */
  maxDirtyBytesPerPass: number;
  /** Orphan GC deletes unregistered objects older than this. @default 3600000 (1 h) */
  orphanGraceMs: number;
  /** The planner schedules orphan GC at most this often. @default 3600000 (1 h) */
  orphanGcIntervalMs: number;
  /**
   * Deleted topics are reclaimed only this long after the deletion, so that appenders and
   * readers whose topic cache still holds the topic have given up on it. @default 60000
   */
  deletedTopicGraceMs: number;
  /** Parallel GETs while reading entries to rewrite. @default 8 */
  parallelGets: number;
}

export const DEFAULT_MAINTENANCE_OPTIONS: MaintenanceOptions = {
  leaseTtlMs: 60_000,
  targetObjectBytes: 8 * 1024 * 1024,
  smallEntryBytes: 1024 * 1024,
  minSmallEntries: 8,
  maxCompactionDelayMs: 600_000,
  minCleanableDirtyRatio: 0.5,
  minCompactionLagMs: 0,
  maxDirtyBytesPerPass: 256 * 1024 * 1024,
  orphanGraceMs: 3_600_000,
  orphanGcIntervalMs: 3_600_000,
  deletedTopicGraceMs: 60_000,
  parallelGets: 8,
};

const POSITIVE = new Set<string>(['leaseTtlMs', 'targetObjectBytes', 'parallelGets', 'minSmallEntries']);

/**
 * Defaults with `overrides` applied, each checked.
 *
 * @example
 * const options = resolveMaintenanceOptions({ orphanGraceMs: 0 });
 */
export function resolveMaintenanceOptions(overrides: Partial<MaintenanceOptions> = {}): MaintenanceOptions {
  const out = { ...DEFAULT_MAINTENANCE_OPTIONS };
  for (const [name, value] of Object.entries(overrides) as [keyof MaintenanceOptions, unknown][]) {
    if (value === undefined) continue;
    if (!(name in DEFAULT_MAINTENANCE_OPTIONS))
      throw new InvalidRequestError(`unknown maintenance option ${name}`, name);
    const ratio = name === 'minCleanableDirtyRatio';
    const min = POSITIVE.has(name) ? 1 : 0;
    const ok =
      typeof value === 'number' &&
      (ratio ? value >= 0 && value <= 1 : Number.isSafeInteger(value) && value >= min);
    if (!ok) {
      const wanted = ratio ? 'a number from 0 to 1' : `an integer ≥ ${min}`;
      throw new InvalidRequestError(
        `maintenance option ${name} must be ${wanted}, got ${String(value)}`,
        name,
      );
    }
    (out as Record<string, number>)[name] = value as number;
  }
  return out;
}
