/**
 * Which function serves which path. In AWS each function has its own URL; `sluice dev`
 * and the in-process SDK transport route here by path to the same handlers.
 */
import type { APIGatewayProxyStructuredResultV2, LambdaFunctionURLEvent } from 'aws-lambda';
import { adminRoutes } from './admin.js';
import type { SluiceContext } from './context.js';
import { fetchRoutes, maxWaitFromEnv } from './fetch.js';
import { groupRoutes, lagMetrics } from './groups.js';
import { type HandlerHooks, lambdaHandler } from './http.js';
import { metadataRoute } from './metadata.js';
import { produceRoutes } from './produce.js';
import { registryRoutes, SCHEMAS_PREFIX } from './schemas.js';

export type FunctionName = 'produce' | 'fetch' | 'admin' | 'groups' | 'schemas';
export type FunctionUrlHandler = (
  event: LambdaFunctionURLEvent,
) => Promise<APIGatewayProxyStructuredResultV2>;

/** The function that owns a path (metadata is served by all; admin answers it here). */
export function functionFor(path: string): FunctionName {
  if (
    path.startsWith('/v1/produce') ||
    path.startsWith('/v1/producers') ||
    path.startsWith('/v1/transactions') ||
    path === '/v1/inbox'
  )
    return 'produce';
  if (path.startsWith('/v1/fetch') || path.startsWith('/v1/offsets')) return 'fetch';
  if (path.startsWith('/v1/groups')) return 'groups';
  if (path === SCHEMAS_PREFIX || path.startsWith(`${SCHEMAS_PREFIX}/`)) return 'schemas';
  return 'admin';
}

/** The Function URL handlers over one context. */
export function createHandlers(ctx: SluiceContext): Record<FunctionName, FunctionUrlHandler> {
  const hooks: HandlerHooks = {
    onError: (err, req) =>
      ctx.telemetry.logger.error('unhandled error', { path: req.path, error: err as Error }),
    after: () => ctx.telemetry.flush(),
  };
  return {
    produce: lambdaHandler(produceRoutes(ctx), hooks),
    // SLUICE_FETCH_MAX_WAIT_MS as in Lambda: `sluice dev` can answer fetches as a deployment does.
    fetch: lambdaHandler(fetchRoutes(ctx, { maxWaitMs: maxWaitFromEnv(process.env) }), hooks),
    admin: lambdaHandler(adminRoutes(ctx), hooks),
    groups: lambdaHandler(
      [
        metadataRoute(ctx),
        ...groupRoutes(
          {
            meta: ctx.meta,
            topics: ctx.topicView,
            clock: ctx.clock,
            random: ctx.random,
            config: ctx.groupConfig,
          },
          lagMetrics(ctx.telemetry),
        ),
      ],
      hooks,
    ),
    schemas: lambdaHandler([metadataRoute(ctx), ...registryRoutes(ctx)], hooks),
  };
}

/** One handler that routes every path of API.md to its function. */
export function createRouter(ctx: SluiceContext): FunctionUrlHandler {
  const handlers = createHandlers(ctx);
  return (event) => handlers[functionFor(event.rawPath)](event);
}
