/**
 * The groups function: the consumer-group paths of API.md over a {@link GroupCoordinator}.
 *
 * Configuration (environment): see group-config.ts.
 */
import { z } from 'zod';
import { InvalidRequestError } from '../core/errors.js';
import { type CommitLag, GroupCoordinator, type GroupCoordinatorDeps } from '../core/groups/index.js';
import { contextHooks, getContext, type SluiceContext } from './context.js';
import { groupConfigFromEnv } from './group-config.js';
import { type HttpRequest, lambdaHandler, parseJson, type Route } from './http.js';
import { metadataRoute } from './metadata.js';

const int = () => z.number().int();

const heartbeatBody = z.strictObject({
  memberId: z.string().nullish(),
  memberEpoch: int(),
  topics: z.array(z.string()).nullish(),
  ownedPartitions: z.array(z.strictObject({ topic: z.string(), partitions: z.array(int()) })).nullish(),
  sessionTimeoutMs: int().nullish(),
});

const commitBody = z.strictObject({
  memberId: z.string().nullish(),
  memberEpoch: int().nullish(),
  offsets: z.array(
    z.strictObject({
      topic: z.string(),
      partition: int(),
      offset: int(),
      metadata: z.string().nullish(),
      topicId: z.string().nullish(),
    }),
  ),
});

/** Body of `POST /v1/groups/{group}/offsets/reset` (an addition to API.md, see the report). */
const resetBody = z.strictObject({
  topic: z.string(),
  partitions: z.array(z.strictObject({ partition: int(), offset: int() })),
});

function group(req: HttpRequest): string {
  const name = req.params.group;
  if (name === undefined) throw new InvalidRequestError('group: missing from the path', 'group');
  return name;
}

/** What the routes report besides their answers (metrics). */
export interface GroupRouteHooks {
  /** After a commit: the lag it leaves per partition (high watermark − committed). */
  onCommit?(group: string, lag: readonly CommitLag[]): void;
}

function routesOver(coordinator: () => Promise<GroupCoordinator>, hooks: GroupRouteHooks = {}): Route[] {
  return [
    {
      method: 'POST',
      path: '/v1/groups/{group}/heartbeat',
      async handle(req) {
        const body = parseJson(req, heartbeatBody);
        return { status: 200, body: await (await coordinator()).heartbeat(group(req), body) };
      },
    },
    {
      method: 'POST',
      path: '/v1/groups/{group}/offsets',
      async handle(req) {
        const body = parseJson(req, commitBody);
        const { lag } = await (await coordinator()).commitOffsets(group(req), body);
        hooks.onCommit?.(group(req), lag);
        return { status: 200, body: {} };
      },
    },
    {
      method: 'GET',
      path: '/v1/groups/{group}/offsets',
      async handle(req) {
        return { status: 200, body: await (await coordinator()).fetchOffsets(group(req)) };
      },
    },
    {
      method: 'POST',
      path: '/v1/groups/{group}/offsets/reset',
      async handle(req) {
        const body = parseJson(req, resetBody);
        await (await coordinator()).resetOffsets(group(req), body.topic, body.partitions);
        return { status: 200, body: {} };
      },
    },
    {
      method: 'GET',
      path: '/v1/groups',
      async handle() {
        return { status: 200, body: { groups: await (await coordinator()).listGroups() } };
      },
    },
    {
      method: 'GET',
      path: '/v1/groups/{group}',
      async handle(req) {
        return { status: 200, body: await (await coordinator()).describeGroup(group(req)) };
      },
    },
    {
      method: 'DELETE',
      path: '/v1/groups/{group}',
      async handle(req) {
        await (await coordinator()).deleteGroup(group(req));
        return { status: 204 };
      },
    },
  ];
}

/**
 * The group routes over given dependencies (tests, `sluice dev`, the in-process transport).
 *
 * @example
 * const handle = lambdaHandler(groupRoutes({ meta, topics: topicView, clock, random }));
 * // over a handler context (what `createHandlers` wants): groupRoutes(coordinatorFor(ctx))
 * await handle(toEvent({ method: 'GET', url: '/v1/groups' }));
 */
export function groupRoutes(
  deps: GroupCoordinatorDeps | GroupCoordinator,
  hooks: GroupRouteHooks = {},
): Route[] {
  const coordinator = deps instanceof GroupCoordinator ? deps : new GroupCoordinator(deps);
  return routesOver(async () => coordinator, hooks);
}

/** Hooks that publish each commit's lag as the ConsumerLag metric (max per topic). */
export function lagMetrics(telemetry: Pick<SluiceContext['telemetry'], 'gauge'>): GroupRouteHooks {
  return {
    onCommit(_group, lag) {
      for (const l of lag) telemetry.gauge(l.topic, 'ConsumerLag', l.lag);
    },
  };
}

/** The coordinator over a handler context, configured from the environment. */
export function coordinatorFor(
  ctx: Pick<SluiceContext, 'meta' | 'topicView' | 'clock' | 'random'>,
  env: NodeJS.ProcessEnv = process.env,
): GroupCoordinator {
  return new GroupCoordinator({
    meta: ctx.meta,
    topics: ctx.topicView,
    clock: ctx.clock,
    random: ctx.random,
    config: groupConfigFromEnv(env),
  });
}

/** The Lambda entry point: the group routes (and metadata) over the instance's context. */
export const handler = lambdaHandler(async () => {
  const ctx = await getContext();
  return [metadataRoute(ctx), ...groupRoutes(coordinatorFor(ctx), lagMetrics(ctx.telemetry))];
}, contextHooks);
