/**
 * A small client of the Confluent Schema Registry REST API for the serdes: register,
 * look up, read by id — schemas by id cached forever (ids are immutable), subject ids
 * cached per schema. Talks to Sluice's own registry through the cluster's transport
 * (`sluice.schemaRegistry()`, signed like every other request) or to any
 * Confluent-compatible registry by URL.
 */
import { SluiceSchemaRegistryError } from './errors.js';

export type SchemaType = 'AVRO' | 'PROTOBUF' | 'JSON';

export interface SchemaReference {
  name: string;
  subject: string;
  version: number;
}

/** A schema as the registry holds it. */
export interface RegisteredSchema {
  schemaType: SchemaType;
  schema: string;
  references: SchemaReference[];
}

/** One exchange with the registry: a path under the registry's URL, a JSON body. */
export type RegistryRequester = (
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
) => Promise<{ status: number; body: unknown }>;

export interface SchemaRegistryClientOptions {
  /** A Confluent-compatible registry URL, e.g. `http://127.0.0.1:8092/schemas`. */
  url?: string;
  /** Or a requester (what `sluice.schemaRegistry()` passes). */
  requester?: RegistryRequester;
}

const MEDIA = 'application/vnd.schemaregistry.v1+json';

export class SchemaRegistryClient {
  private readonly request: RegistryRequester;
  private readonly byId = new Map<number, Promise<RegisteredSchema>>();
  private readonly ids = new Map<string, Promise<number>>();

  constructor(options: SchemaRegistryClientOptions) {
    if (options.requester) this.request = options.requester;
    else if (options.url) {
      const base = options.url.replace(/\/+$/, '');
      this.request = async (method, path, body) => {
        const res = await fetch(`${base}${path}`, {
          method,
          headers: { accept: MEDIA, ...(body === undefined ? {} : { 'content-type': MEDIA }) },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        const text = await res.text();
        return { status: res.status, body: text ? JSON.parse(text) : undefined };
      };
    } else throw new TypeError('SchemaRegistryClient needs a url or a requester');
  }

  /** Registers `schema` under `subject` (or finds it registered); its global id. */
  register(subject: string, schema: RegisteredSchema): Promise<number> {
    return this.cachedId(`r\u0000${subject}\u0000${schema.schemaType}\u0000${schema.schema}`, async () => {
      const res = await this.call('POST', `/subjects/${encodeURIComponent(subject)}/versions`, body(schema));
      return (res as { id: number }).id;
    });
  }

  /** The id of `schema` already registered under `subject`. @throws 40401 / 40403 */
  lookup(subject: string, schema: RegisteredSchema): Promise<number> {
    return this.cachedId(`l\u0000${subject}\u0000${schema.schemaType}\u0000${schema.schema}`, async () => {
      const res = await this.call('POST', `/subjects/${encodeURIComponent(subject)}`, body(schema));
      return (res as { id: number }).id;
    });
  }

  /** The latest version of a subject (not cached: it moves). */
  async latest(subject: string): Promise<RegisteredSchema & { id: number; version: number }> {
    const res = (await this.call('GET', `/subjects/${encodeURIComponent(subject)}/versions/latest`)) as {
      id: number;
      version: number;
      schema: string;
      schemaType?: SchemaType;
      references?: SchemaReference[];
    };
    const schema = {
      schemaType: res.schemaType ?? 'AVRO',
      schema: res.schema,
      references: res.references ?? [],
    };
    this.byId.set(res.id, Promise.resolve(schema));
    return { ...schema, id: res.id, version: res.version };
  }

  /** The schema with this id (cached). @throws 40403 */
  schemaById(id: number): Promise<RegisteredSchema> {
    let p = this.byId.get(id);
    if (!p) {
      p = this.call('GET', `/schemas/ids/${id}`).then((r) => {
        const res = r as { schema: string; schemaType?: SchemaType; references?: SchemaReference[] };
        return { schemaType: res.schemaType ?? 'AVRO', schema: res.schema, references: res.references ?? [] };
      });
      p.catch(() => this.byId.delete(id));
      this.byId.set(id, p);
    }
    return p;
  }

  /** A subject version's schema (for references). */
  async version(subject: string, version: number): Promise<RegisteredSchema> {
    const res = (await this.call('GET', `/subjects/${encodeURIComponent(subject)}/versions/${version}`)) as {
      id: number;
      schema: string;
      schemaType?: SchemaType;
      references?: SchemaReference[];
    };
    return { schemaType: res.schemaType ?? 'AVRO', schema: res.schema, references: res.references ?? [] };
  }

  private cachedId(key: string, load: () => Promise<number>): Promise<number> {
    let p = this.ids.get(key);
    if (!p) {
      p = load();
      p.catch(() => this.ids.delete(key));
      this.ids.set(key, p);
    }
    return p;
  }

  private async call(method: 'GET' | 'POST', path: string, payload?: unknown): Promise<unknown> {
    const res = await this.request(method, path, payload);
    if (res.status >= 200 && res.status < 300) return res.body;
    const b = res.body as { error_code?: number; message?: string; error?: { message?: string } } | undefined;
    throw new SluiceSchemaRegistryError(
      `schema registry: ${method} ${path}: ${b?.message ?? b?.error?.message ?? `HTTP ${res.status}`}`,
      res.status,
      b?.error_code ?? res.status,
    );
  }
}

function body(schema: RegisteredSchema) {
  return {
    schema: schema.schema,
    ...(schema.schemaType === 'AVRO' ? {} : { schemaType: schema.schemaType }),
    ...(schema.references.length > 0 ? { references: schema.references } : {}),
  };
}
