/** `GET /v1/metadata`, served by every function: names the others and the inbox, lists the topics. */
import type { SluiceContext } from './context.js';
import type { HttpRequest, Route } from './http.js';

/** The URL a request came to, e.g. `https://abc.lambda-url.us-east-1.on.aws`. */
export function originOf(req: HttpRequest): string {
  const host = req.headers['x-forwarded-host'] ?? req.headers.host ?? 'localhost';
  const proto =
    req.headers['x-forwarded-proto'] ??
    (host.startsWith('127.') || host.startsWith('localhost') ? 'http' : 'https');
  return `${proto}://${host}`;
}

export function metadataRoute(ctx: SluiceContext): Route {
  return {
    method: 'GET',
    path: '/v1/metadata',
    async handle(req) {
      const [endpoints, topics, inbox] = await Promise.all([
        ctx.endpoints(originOf(req)),
        ctx.topics.list(),
        ctx.inboxAddress(),
      ]);
      return {
        status: 200,
        body: {
          clusterId: ctx.clusterId,
          endpoints,
          // Confluent Schema Registry clients take this as their registry URL (when there is one).
          ...(endpoints.schemas
            ? { schemaRegistry: `${endpoints.schemas.replace(/\/+$/, '')}/schemas` }
            : {}),
          // maxMessageBytes: producers size their batches to it (docs/api.md, "SDK batch sizing").
          topics: topics.map((t) => ({
            name: t.name,
            partitions: t.partitions,
            maxMessageBytes: t.config['max.message.bytes'],
          })),
          // acks=1: where clients send (docs/api.md, "acks=1: the inbox").
          ...(inbox && {
            inbox: inbox === 'http' ? { type: 'http' } : inbox,
          }),
        },
      };
    },
  };
}
