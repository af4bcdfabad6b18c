/**
 * A partition's maintenance progress, one small item beside its head (`p#…`/`maint`),
 * written only under the partition lease. It lets the planner skip idle partitions with
 * one batched read, and lets a pass resume its index scans where the last one stopped
 * instead of reading the whole index every time.
 */
import type { Item, ItemData } from '../ports.js';

export interface MaintenanceState {
  /** The head's next offset when the last pass ended: no new data since, if unchanged. */
  seen: number;
  /** Small-object compaction reads the index from here (the start of the open run). */
  scanFrom: number;
  /** Compacted topics: the log below this offset is clean. */
  cleanTo: number;
  /** When a pass becomes due without new data (retention, a ripening run), ms; -1: never. */
  due: number;
}

export const INITIAL_STATE: MaintenanceState = { seen: -1, scanFrom: 0, cleanTo: 0, due: -1 };

export function stateFromItem(item: Item | undefined): MaintenanceState {
  if (!item) return { ...INITIAL_STATE };
  const d = item.data;
  const num = (v: unknown, fallback: number) => (typeof v === 'number' ? v : fallback);
  return {
    seen: num(d.seen, -1),
    scanFrom: num(d.sc, 0),
    cleanTo: num(d.kc, 0),
    due: num(d.due, -1),
  };
}

export function stateToData(s: MaintenanceState): ItemData {
  return { seen: s.seen, sc: s.scanFrom, kc: s.cleanTo, due: s.due };
}

/** The earlier of two due times, -1 meaning never. */
export function earliest(a: number, b: number): number {
  if (a < 0) return b;
  if (b < 0) return a;
  return Math.min(a, b);
}
