/**
 * `/v1/subscriptions` (API.md "Subscriptions"), served by the admin function: create, list,
 * describe (definition + the group's committed offsets and lag), change, pause, resume,
 * delete. Dispatch is not started here: the write of the definition is the trigger (the
 * table's stream in AWS, the notifying store in `sluice dev`).
 */
import { describeGroup } from '../core/groups/describe.js';
import { Dispatcher, type DispatcherDeps } from '../core/subscriptions/dispatcher.js';
import { SubscriptionStore } from '../core/subscriptions/store.js';
import type { SluiceContext } from './context.js';
import { jsonBody, type Route } from './http.js';

export function subscriptionStore(ctx: SluiceContext): SubscriptionStore {
  return new SubscriptionStore({
    meta: ctx.meta,
    topics: ctx.topics,
    reader: ctx.reader,
    clock: ctx.clock,
    random: ctx.random,
  });
}

/**
 * The dispatcher over this context's stores and definitions, as the trigger function and
 * `sluice dev` run it; they differ only in the target, the failure destination and the owner.
 */
export function contextDispatcher(
  ctx: SluiceContext,
  store: SubscriptionStore,
  deps: Pick<DispatcherDeps, 'invoker' | 'failures' | 'owner' | 'leaseTtlMs'>,
): Dispatcher {
  return new Dispatcher({
    meta: ctx.meta,
    reader: ctx.reader,
    topics: ctx.topics,
    clock: ctx.clock,
    random: ctx.random,
    subscription: (name) => store.find(name),
    cluster: ctx.clusterId,
    ...deps,
  });
}

export function subscriptionRoutes(ctx: SluiceContext): Route[] {
  const store = subscriptionStore(ctx);
  const describe = async (name: string) => {
    const subscription = await store.get(name);
    const group = await describeGroup(
      { meta: ctx.meta, topics: ctx.topicView, now: () => ctx.clock.now() },
      subscription.groupId,
    ).catch(() => undefined);
    return { subscription, lag: group?.lag ?? [] };
  };
  const enable = (enabled: boolean) => async (req: { params: Record<string, string> }) => ({
    status: 200,
    body: { subscription: await store.update(req.params.name!, { enabled }) },
  });
  return [
    {
      method: 'POST',
      path: '/v1/subscriptions',
      async handle(req) {
        return { status: 201, body: { subscription: await store.create(jsonBody(req)) } };
      },
    },
    {
      method: 'GET',
      path: '/v1/subscriptions',
      async handle() {
        return { status: 200, body: { subscriptions: await store.list() } };
      },
    },
    {
      method: 'GET',
      path: '/v1/subscriptions/{name}',
      async handle(req) {
        return { status: 200, body: await describe(req.params.name!) };
      },
    },
    {
      method: 'PATCH',
      path: '/v1/subscriptions/{name}',
      async handle(req) {
        return { status: 200, body: { subscription: await store.update(req.params.name!, jsonBody(req)) } };
      },
    },
    { method: 'POST', path: '/v1/subscriptions/{name}/pause', handle: enable(false) },
    { method: 'POST', path: '/v1/subscriptions/{name}/resume', handle: enable(true) },
    {
      method: 'DELETE',
      path: '/v1/subscriptions/{name}',
      async handle(req) {
        await store.delete(req.params.name!);
        return { status: 204 };
      },
    },
  ];
}
