/**
 * A subscription test world over given stores: the engine, a subscription store, a dispatcher
 * factory, a scriptable target that records every invocation, and an in-memory failure
 * destination.
 */
import type { Clock } from '../../core/clock.js';
import type { MetaStore, ObjectStore } from '../../core/ports.js';
import {
  Dispatcher,
  type DispatcherDeps,
  type FailureRecord,
  type InvokeOutcome,
  type SubscriptionEvent,
  SubscriptionStore,
} from '../../core/subscriptions/index.js';
import { engine, records, run } from '../helpers/engine.js';

export interface Invocation {
  partition: number;
  offsets: number[];
  outcome: InvokeOutcome;
}

export type Behaviour = (
  offsets: number[],
  partition: number,
  event: SubscriptionEvent,
) => InvokeOutcome | Promise<InvokeOutcome>;

export function world(stores: { meta: MetaStore; objects: ObjectStore }, seed = 1) {
  const e = engine(stores, seed);
  const subs = new SubscriptionStore({ ...e });
  const invocations: Invocation[] = [];
  const dlq: FailureRecord[] = [];
  let behaviour: Behaviour = () => ({ ok: true, response: null });
  const invoker = {
    async invoke(_target: string, event: SubscriptionEvent): Promise<InvokeOutcome> {
      const recs = Object.values(event.records)[0]!;
      const offsets = recs.map((r) => r.offset);
      const partition = recs[0]!.partition;
      const outcome = await behaviour(offsets, partition, event);
      invocations.push({ partition, offsets, outcome });
      return outcome;
    },
  };
  const failures = {
    async send(_destination: string, record: FailureRecord) {
      dlq.push(record);
    },
  };
  function dispatcher(owner: string, extra: Partial<DispatcherDeps> = {}): Dispatcher {
    return new Dispatcher({
      ...e,
      invoker,
      failures,
      subscription: (name) => subs.find(name),
      owner,
      cluster: 'test',
      leaseTtlMs: 60_000,
      retryBaseMs: 10,
      ...extra,
    });
  }
  async function produce(topic: string, partition: number, n: number, prefix = 'v', timestamp = 1000) {
    await e.appender.append([run(topic, partition, records(n, { prefix, timestamp }))]);
  }
  return {
    ...e,
    clock: e.clock as Clock & { advance(ms: number): void },
    subs,
    invocations,
    dlq,
    dispatcher,
    produce,
    setBehaviour(b: Behaviour) {
      behaviour = b;
    },
  };
}

export type World = ReturnType<typeof world>;
