/**
 * The schema registry function: Confluent Schema Registry's REST API under `/schemas`
 * (a client's registry URL is `<function URL>/schemas`). Bodies and answers are
 * `application/vnd.schemaregistry.v1+json`; errors are Confluent's `{ error_code, message }`
 * with its codes (see core/schemas/errors.ts).
 */
import { z } from 'zod';
import { SluiceError } from '../core/errors.js';
import { SchemaRegistryError } from '../core/schemas/errors.js';
import { parseSchemaType, parseVersion, type SchemaRegistry } from '../core/schemas/registry.js';
import { SCHEMA_TYPES, type SchemaDefinition } from '../core/schemas/types.js';
import { contextHooks, getContext, type SluiceContext } from './context.js';
import { asSluiceError, type HttpRequest, type HttpResponse, lambdaHandler, type Route } from './http.js';
import { metadataRoute } from './metadata.js';

/** Where the registry's paths start. */
export const SCHEMAS_PREFIX = '/schemas';

export const SCHEMA_REGISTRY_JSON = 'application/vnd.schemaregistry.v1+json';

const reference = z.object({ name: z.string(), subject: z.string(), version: z.number().int() });

const schemaBody = z.looseObject({
  schema: z.string().min(1),
  schemaType: z.string().optional(),
  references: z.array(reference).optional(),
});

const configBody = z.looseObject({
  compatibility: z.string().optional(),
  compatibilityLevel: z.string().optional(),
});

function ok(body: unknown, status = 200): HttpResponse {
  return { status, headers: { 'content-type': SCHEMA_REGISTRY_JSON }, body };
}

function fail(status: number, errorCode: number, message: string): HttpResponse {
  return {
    status,
    headers: { 'content-type': SCHEMA_REGISTRY_JSON },
    body: { error_code: errorCode, message },
  };
}

/** Errors in Confluent's shape; bugs stay 500 (and are logged by the dispatcher). */
function registryError(err: unknown): HttpResponse | undefined {
  if (err instanceof SchemaRegistryError) return fail(err.status, err.errorCode, err.message);
  const e = asSluiceError(err);
  if (e instanceof SluiceError) {
    if (e.status >= 500 || e.status === 429)
      return fail(e.status, 50001, `Error in the backend data store: ${e.message}`);
    return fail(e.status, e.status, e.message);
  }
  return undefined;
}

function jsonOf(req: HttpRequest): unknown {
  if (req.body.length === 0) throw new SchemaRegistryError('BAD_REQUEST', 'the request has no body');
  try {
    return JSON.parse(Buffer.from(req.body).toString('utf8'));
  } catch {
    throw new SchemaRegistryError('BAD_REQUEST', 'the body is not valid JSON');
  }
}

function definitionOf(req: HttpRequest): SchemaDefinition {
  const parsed = schemaBody.safeParse(jsonOf(req));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const field = issue?.path.map(String).join('.') || 'body';
    if (field === 'schema')
      throw new SchemaRegistryError('INVALID_SCHEMA', `Invalid schema: ${issue?.message}`);
    throw new SchemaRegistryError('UNPROCESSABLE', `${field}: ${issue?.message}`);
  }
  return {
    schemaType: parseSchemaType(parsed.data.schemaType),
    schema: parsed.data.schema,
    references: parsed.data.references ?? [],
  };
}

const flag = (req: HttpRequest, name: string) => req.query[name] === 'true';

function schemaId(req: HttpRequest): number {
  const id = Number(req.params.id);
  if (!/^\d+$/.test(req.params.id ?? '') || !Number.isSafeInteger(id)) {
    throw new SchemaRegistryError('SCHEMA_NOT_FOUND', `Schema ${req.params.id} not found`);
  }
  return id;
}

/** Confluent's answer for a schema: `schemaType` left out for Avro, `references` when any. */
function schemaFields(def: SchemaDefinition) {
  return {
    ...(def.schemaType === 'AVRO' ? {} : { schemaType: def.schemaType }),
    ...(def.references.length > 0 ? { references: def.references } : {}),
    schema: def.schema,
  };
}

/** The schema text alone: JSON for Avro and JSON Schema, the text for Protobuf. */
function rawSchema(def: SchemaDefinition): HttpResponse {
  if (def.schemaType === 'PROTOBUF')
    return { status: 200, headers: { 'content-type': 'text/plain' }, body: Buffer.from(def.schema) };
  return ok(JSON.parse(def.schema));
}

export function schemaRoutes(registry: SchemaRegistry): Route[] {
  const p = SCHEMAS_PREFIX;
  const routes: Route[] = [
    { method: 'GET', path: `${p}`, handle: async () => ok({}) },
    { method: 'GET', path: `${p}/schemas/types`, handle: async () => ok([...SCHEMA_TYPES]) },
    { method: 'GET', path: `${p}/mode`, handle: async () => ok({ mode: 'READWRITE' }) },
    {
      method: 'GET',
      path: `${p}/schemas/ids/{id}`,
      handle: async (req) => ok(schemaFields(await registry.schemaById(schemaId(req)))),
    },
    {
      method: 'GET',
      path: `${p}/schemas/ids/{id}/schema`,
      handle: async (req) => rawSchema(await registry.schemaById(schemaId(req))),
    },
    {
      method: 'GET',
      path: `${p}/schemas/ids/{id}/versions`,
      handle: async (req) =>
        ok(await registry.versionsOfId(schemaId(req), { deleted: flag(req, 'deleted') })),
    },
    {
      method: 'GET',
      path: `${p}/schemas/ids/{id}/subjects`,
      handle: async (req) => {
        const uses = await registry.versionsOfId(schemaId(req), { deleted: flag(req, 'deleted') });
        return ok([...new Set(uses.map((u) => u.subject))].sort());
      },
    },
    {
      method: 'GET',
      path: `${p}/subjects`,
      handle: async (req) =>
        ok(await registry.subjects({ deleted: flag(req, 'deleted'), prefix: req.query.subjectPrefix })),
    },
    {
      method: 'GET',
      path: `${p}/subjects/{subject}/versions`,
      handle: async (req) =>
        ok(await registry.versions(req.params.subject!, { deleted: flag(req, 'deleted') })),
    },
    {
      method: 'POST',
      path: `${p}/subjects/{subject}/versions`,
      async handle(req) {
        const def = definitionOf(req);
        const { id } = await registry.register(req.params.subject!, def);
        return ok({ id });
      },
    },
    {
      method: 'GET',
      path: `${p}/subjects/{subject}/versions/{version}`,
      async handle(req) {
        const v = await registry.version(req.params.subject!, parseVersion(req.params.version!), {
          deleted: flag(req, 'deleted'),
        });
        return ok({ subject: v.subject, version: v.version, id: v.id, ...schemaFields(v) });
      },
    },
    {
      method: 'GET',
      path: `${p}/subjects/{subject}/versions/{version}/schema`,
      async handle(req) {
        return rawSchema(await registry.version(req.params.subject!, parseVersion(req.params.version!)));
      },
    },
    {
      method: 'GET',
      path: `${p}/subjects/{subject}/versions/{version}/referencedby`,
      handle: async (req) =>
        ok(await registry.referencedByVersion(req.params.subject!, parseVersion(req.params.version!))),
    },
    {
      method: 'DELETE',
      path: `${p}/subjects/{subject}/versions/{version}`,
      async handle(req) {
        const version = await registry.deleteVersion(req.params.subject!, parseVersion(req.params.version!), {
          permanent: flag(req, 'permanent'),
        });
        return ok(version);
      },
    },
    {
      method: 'POST',
      path: `${p}/subjects/{subject}`,
      async handle(req) {
        const v = await registry.lookup(req.params.subject!, definitionOf(req), {
          deleted: flag(req, 'deleted'),
        });
        return ok({ subject: v.subject, version: v.version, id: v.id, ...schemaFields(v) });
      },
    },
    {
      method: 'DELETE',
      path: `${p}/subjects/{subject}`,
      handle: async (req) =>
        ok(await registry.deleteSubject(req.params.subject!, { permanent: flag(req, 'permanent') })),
    },
    {
      method: 'GET',
      path: `${p}/config`,
      handle: async () => ok({ compatibilityLevel: await registry.globalLevel() }),
    },
    {
      method: 'PUT',
      path: `${p}/config`,
      async handle(req) {
        const body = configBody.parse(jsonOf(req));
        return ok({
          compatibility: await registry.setLevel(body.compatibility ?? body.compatibilityLevel ?? ''),
        });
      },
    },
    {
      method: 'GET',
      path: `${p}/config/{subject}`,
      async handle(req) {
        const own = await registry.subjectLevel(req.params.subject!);
        if (own) return ok({ compatibilityLevel: own });
        if (flag(req, 'defaultToGlobal')) return ok({ compatibilityLevel: await registry.globalLevel() });
        throw new SchemaRegistryError(
          'SUBJECT_CONFIG_NOT_FOUND',
          `Subject '${req.params.subject}' does not have subject-level compatibility configured`,
        );
      },
    },
    {
      method: 'PUT',
      path: `${p}/config/{subject}`,
      async handle(req) {
        const body = configBody.parse(jsonOf(req));
        const level = await registry.setLevel(
          body.compatibility ?? body.compatibilityLevel ?? '',
          req.params.subject!,
        );
        return ok({ compatibility: level });
      },
    },
    {
      method: 'DELETE',
      path: `${p}/config/{subject}`,
      handle: async (req) => ok({ compatibilityLevel: await registry.deleteLevel(req.params.subject!) }),
    },
    {
      method: 'POST',
      path: `${p}/compatibility/subjects/{subject}/versions/{version}`,
      async handle(req) {
        const def = definitionOf(req);
        const r = await registry.checkCompatibility(
          req.params.subject!,
          parseVersion(req.params.version!),
          def,
        );
        return ok({ is_compatible: r.compatible, ...(flag(req, 'verbose') ? { messages: r.messages } : {}) });
      },
    },
    {
      method: 'POST',
      path: `${p}/compatibility/subjects/{subject}/versions`,
      async handle(req) {
        const def = definitionOf(req);
        const r = await registry.checkCompatibility(req.params.subject!, undefined, def);
        return ok({ is_compatible: r.compatible, ...(flag(req, 'verbose') ? { messages: r.messages } : {}) });
      },
    },
  ];
  return routes.map((r) => ({
    ...r,
    async handle(req) {
      try {
        return await r.handle(req);
      } catch (err) {
        if (err instanceof z.ZodError) {
          const issue = err.issues[0];
          return fail(422, 422, `${issue?.path.map(String).join('.') || 'body'}: ${issue?.message}`);
        }
        const res = registryError(err);
        if (res) return res;
        throw err;
      }
    },
  }));
}

export function registryRoutes(ctx: SluiceContext): Route[] {
  return schemaRoutes(ctx.schemas);
}

/** The Lambda entry point: the registry (and metadata, which every function serves). */
export const handler = lambdaHandler(async () => {
  const ctx = await getContext();
  return [metadataRoute(ctx), ...registryRoutes(ctx)];
}, contextHooks);
