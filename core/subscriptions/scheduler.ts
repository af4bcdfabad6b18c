/**
 * Turns changes of MetaStore items into dispatcher runs, so subscriptions cost nothing at
 * rest (DESIGN.md "Subscriptions"): a partition is dispatched only when its head item
 * changed (a produce committed) and a subscription's partitions when its definition changed
 * (created, resumed). Nothing polls. In AWS the changes come from the table's DynamoDB
 * stream (which Lambda reads for free); in `sluice dev` from the MetaStore decorator of
 * `storage/notifying.ts`.
 *
 * Runs of one (subscription, partition) are coalesced: a change during a run asks for one
 * more run after it, never a second concurrent one.
 */
import type { Clock } from '../clock.js';
import { keys } from '../keys.js';
import type { ItemKey } from '../ports.js';
import type { Topics } from '../topics.js';
import type { SubscriptionConfig } from './config.js';
import type { Dispatcher, DispatchResult } from './dispatcher.js';

export interface SchedulerDeps {
  dispatcher: Dispatcher;
  topics: Topics;
  /** Every subscription (called at most once per `cacheMs`, and after a definition changed). */
  listSubscriptions(): Promise<SubscriptionConfig[]>;
  clock: Clock;
  /** No run starts an invocation after this instant (ms since the epoch); none by default (`sluice dev`). */
  deadline?: number;
  /** How long the list of subscriptions is reused (ms). @default 1000 */
  cacheMs?: number;
  /** Called with a run that failed (a storage error); the next change retries. */
  onError?(error: unknown, subscription: string, partition: number): void;
  /** Called after every run. */
  onRun?(subscription: string, partition: number, result: DispatchResult): void;
}

/** A (subscription, partition) left with work when its run reached the deadline. */
export interface PendingDispatch {
  subscription: string;
  partition: number;
}

export class SubscriptionScheduler {
  private readonly running = new Map<string, { again: boolean; done: Promise<void> }>();
  private subs: { at: number; list: SubscriptionConfig[] } | undefined;
  private topicNames = new Map<string, string>();
  private readonly pending = new Set<string>();
  private readonly inflight = new Set<Promise<void>>();

  constructor(private readonly deps: SchedulerDeps) {}

  /**
   * Items changed: dispatches the partitions whose head changed and every partition of a
   * subscription whose definition changed. Resolves when those runs are over.
   */
  changed(changedKeys: readonly ItemKey[]): Promise<void> {
    const work = this.dispatchChanged(changedKeys);
    this.inflight.add(work);
    const done = () => this.inflight.delete(work);
    work.then(done, done);
    return work;
  }

  private async dispatchChanged(changedKeys: readonly ItemKey[]): Promise<void> {
    const runs: Promise<void>[] = [];
    const heads = new Set<string>();
    for (const key of changedKeys) {
      if (key.pk === keys.subscriptionsPk) {
        this.subs = undefined;
        runs.push(this.kick(key.sk));
      } else if (key.sk === 'head' && key.pk.startsWith('p#')) heads.add(key.pk);
    }
    for (const pk of heads) {
      const hash = pk.lastIndexOf('#');
      const topicId = pk.slice(2, hash);
      const partition = Number(pk.slice(hash + 1));
      runs.push(this.headChanged(topicId, partition));
    }
    await Promise.all(runs);
  }

  /** Dispatches every partition of subscription `name` (after it was created or resumed). */
  async kick(name: string): Promise<void> {
    const sub = (await this.subscriptions()).find((s) => s.name === name);
    if (!sub?.enabled) return;
    const topic = await this.deps.topics.load(sub.topic);
    if (!topic) return;
    await Promise.all(Array.from({ length: topic.partitions }, (_, p) => this.schedule(name, p)));
  }

  /** Dispatches `partition` of every enabled subscription of the topic with id `topicId`. */
  async headChanged(topicId: string, partition: number): Promise<void> {
    const subs = await this.subscriptions();
    if (subs.length === 0) return;
    let topic = this.topicNames.get(topicId);
    if (topic === undefined) {
      this.topicNames = new Map((await this.deps.topics.list()).map((t) => [t.id, t.name]));
      topic = this.topicNames.get(topicId);
      if (topic === undefined) return;
    }
    await Promise.all(
      subs.filter((s) => s.topic === topic && s.enabled).map((s) => this.schedule(s.name, partition)),
    );
  }

  /** Runs (or asks for one more run of) the dispatcher on one partition. */
  schedule(name: string, partition: number): Promise<void> {
    const id = `${partition}#${name}`;
    const current = this.running.get(id);
    if (current) {
      current.again = true;
      return current.done;
    }
    const state = { again: true, done: Promise.resolve() };
    state.done = (async () => {
      try {
        while (state.again) {
          state.again = false;
          const deadline = this.deps.deadline;
          const result = await this.deps.dispatcher.dispatch(
            name,
            partition,
            deadline === undefined ? {} : { deadline },
          );
          this.deps.onRun?.(name, partition, result);
          if (result.status === 'deadline') this.pending.add(id);
          else this.pending.delete(id);
        }
      } catch (error) {
        this.deps.onError?.(error, name, partition);
      } finally {
        this.running.delete(id);
      }
    })();
    this.running.set(id, state);
    return state.done;
  }

  /** Partitions whose last run stopped at its deadline with records left. */
  takePending(): PendingDispatch[] {
    const out = [...this.pending].map((id) => {
      const hash = id.indexOf('#');
      return { partition: Number(id.slice(0, hash)), subscription: id.slice(hash + 1) };
    });
    this.pending.clear();
    return out;
  }

  /** Resolves when no run is in progress. */
  async idle(): Promise<void> {
    while (this.running.size > 0 || this.inflight.size > 0) {
      await Promise.allSettled([...this.inflight, ...[...this.running.values()].map((r) => r.done)]);
    }
  }

  private async subscriptions(): Promise<SubscriptionConfig[]> {
    const now = this.deps.clock.now();
    if (!this.subs || now - this.subs.at > (this.deps.cacheMs ?? 1000)) {
      this.subs = { at: now, list: await this.deps.listSubscriptions() };
    }
    return this.subs.list;
  }
}
