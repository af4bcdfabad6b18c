/**
 * Stores that a test can kill or freeze at a chosen call, to play a process that dies (or
 * pauses, and comes back as a zombie) at a random point: after `killAt` calls, the call
 * either throws {@link Killed} before reaching the store, reaches it and then throws (the
 * process died before it saw the answer), or waits until {@link KillSwitch.release} —
 * a pause (a long GC, a frozen Lambda) after which the process carries on.
 */
import type { MetaStore, ObjectStore } from '../../core/ports.js';

export class Killed extends Error {
  override name = 'Killed';
}

export type KillMode = 'before' | 'after' | 'pause';

export class KillSwitch {
  calls = 0;
  dead = false;
  /** Calls are counted only while armed. */
  armed = true;
  /** Resolves when the pause begins. */
  readonly paused: Promise<void>;
  private onPaused!: () => void;
  private onRelease!: () => void;
  private readonly released: Promise<void>;

  constructor(
    readonly killAt: number,
    readonly mode: KillMode,
  ) {
    this.paused = new Promise((r) => {
      this.onPaused = r;
    });
    this.released = new Promise((r) => {
      this.onRelease = r;
    });
  }

  release(): void {
    this.onRelease();
  }

  async around<T>(call: () => Promise<T>): Promise<T> {
    if (this.dead) throw new Killed('the process is dead');
    if (!this.armed) return call();
    this.calls++;
    if (this.calls !== this.killAt) return call();
    if (this.mode === 'pause') {
      this.onPaused();
      await this.released;
      return call();
    }
    this.dead = true;
    if (this.mode === 'after') await call();
    throw new Killed(`killed at call ${this.calls} (${this.mode})`);
  }
}

export function killable(stores: { meta: MetaStore; objects: ObjectStore }, sw: KillSwitch) {
  const { meta, objects } = stores;
  const killableMeta: MetaStore = {
    get: (k) => sw.around(() => meta.get(k)),
    batchGet: (k) => sw.around(() => meta.batchGet(k)),
    query: (pk, range, options) => sw.around(() => meta.query(pk, range, options)),
    transact: (ops) => sw.around(() => meta.transact(ops)),
  };
  const killableObjects: ObjectStore = {
    put: (k, b) => sw.around(() => objects.put(k, b)),
    get: (k, r) => sw.around(() => objects.get(k, r)),
    delete: (k) => sw.around(() => objects.delete(k)),
    list: (p, o) => sw.around(() => objects.list(p, o)),
  };
  return { meta: killableMeta, objects: killableObjects };
}
