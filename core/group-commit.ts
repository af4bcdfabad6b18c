/**
 * Group commit inside one instance: requests that wait to commit on the same partitions
 * share one commit instead of queueing one transaction each (docs/design.md, "Contention and group commit").
 *
 * A request joins the open group of its partition set, if there is one with room left;
 * otherwise it opens a new group. A group stays open while it waits for the partitions'
 * lock — that is, while the previous commit on them is in flight — and closes when it
 * takes the lock and commits. So an idle partition commits a lone request at once, and a
 * busy one commits everything that arrived during the previous commit in the next.
 */
import type { KeyedMutex } from './mutex.js';

/** Commits a group; returns, per member in order, its error or `undefined` when it landed. */
export type CommitGroup<T> = (members: T[]) => Promise<(unknown | undefined)[]>;

interface Member<T> {
  value: T;
  resolve: () => void;
  reject: (error: unknown) => void;
}

export class GroupCommitter<T> {
  private readonly open = new Map<string, Member<T>[]>();

  constructor(
    private readonly locks: KeyedMutex,
    private readonly commit: CommitGroup<T>,
  ) {}

  /**
   * Commits `value` on the partitions `keys`, with other values of the same key set when
   * they wait at the same time, at most `capacity` in one group (1: never shared).
   * Resolves when `value` landed; rejects with its own error, or the group's.
   */
  submit(keys: readonly string[], value: T, capacity: number): Promise<void> {
    const id = [...new Set(keys)].sort().join('\u0000');
    return new Promise<void>((resolve, reject) => {
      const member = { value, resolve, reject };
      const open = this.open.get(id);
      if (open && open.length < capacity) {
        open.push(member);
        return;
      }
      const group = [member];
      // A group of capacity 1 is never shared: others must not join it.
      if (capacity > 1) this.open.set(id, group);
      this.locks
        .run(keys, async () => {
          if (this.open.get(id) === group) this.open.delete(id);
          return this.commit(group.map((m) => m.value));
        })
        .then(
          (errors) =>
            group.forEach((m, i) => {
              if (errors[i] === undefined) m.resolve();
              else m.reject(errors[i]);
            }),
          (error: unknown) => {
            for (const m of group) m.reject(error);
          },
        );
    });
  }
}
