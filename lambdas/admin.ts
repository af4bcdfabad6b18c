/** The admin function: topics (create, list, describe, add partitions, delete) and subscriptions. */
import * as z from 'zod';
import { contextHooks, getContext, type SluiceContext } from './context.js';
import { lambdaHandler, parseJson, type Route } from './http.js';
import { metadataRoute } from './metadata.js';
import { subscriptionRoutes } from './subscriptions-api.js';

const createTopic = z.strictObject({
  name: z.string(),
  partitions: z.number().optional(),
  config: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
});

const addPartitions = z.strictObject({ count: z.number() });

export function adminRoutes(ctx: SluiceContext): Route[] {
  return [
    metadataRoute(ctx),
    {
      method: 'POST',
      path: '/v1/topics',
      async handle(req) {
        const body = parseJson(req, createTopic);
        const t = await ctx.topics.create(body.name, body.partitions ?? 1, body.config);
        return { status: 201, body: { name: t.name, partitions: t.partitions, config: t.config } };
      },
    },
    {
      method: 'GET',
      path: '/v1/topics',
      async handle() {
        const topics = await ctx.topics.list();
        return {
          status: 200,
          body: { topics: topics.map((t) => ({ name: t.name, partitions: t.partitions })) },
        };
      },
    },
    {
      method: 'GET',
      path: '/v1/topics/{topic}',
      async handle(req) {
        ctx.topics.invalidate(req.params.topic!);
        const { topic, partitions } = await ctx.reader.describePartitions(req.params.topic!);
        return { status: 200, body: { name: topic.name, config: topic.config, partitions } };
      },
    },
    {
      method: 'POST',
      path: '/v1/topics/{topic}/partitions',
      async handle(req) {
        const body = parseJson(req, addPartitions);
        const t = await ctx.topics.addPartitions(req.params.topic!, body.count);
        return { status: 200, body: { name: t.name, partitions: t.partitions } };
      },
    },
    {
      method: 'DELETE',
      path: '/v1/topics/{topic}',
      async handle(req) {
        await ctx.topics.delete(req.params.topic!);
        return { status: 204 };
      },
    },
    ...subscriptionRoutes(ctx),
  ];
}

/** The Lambda entry point. */
export const handler = lambdaHandler(async () => adminRoutes(await getContext()), contextHooks);
