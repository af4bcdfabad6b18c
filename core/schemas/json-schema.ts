/**
 * JSON Schema: valid when ajv compiles it (draft-07, or 2020-12 when `$schema` says so; references
 * added by name). Read compatibility follows the rules Confluent documents for JSON
 * Schema, as one principle — the reader must accept every document the writer accepts:
 *
 * - types: the reader's types cover the writer's (`number` covers `integer`);
 * - properties: a property the writer does not declare may be added to the reader only if
 *   the writer's content model is closed (`additionalProperties: false`) — in an open model
 *   old data may hold anything under that name; a property may be removed only if the
 *   reader's model is open; a reader may not close an open model;
 * - `required`: the reader requires nothing the writer did not;
 * - bounds (`maxLength`, `minLength`, `maximum`, `minimum`, `exclusive*`, `maxItems`,
 *   `minItems`, `maxProperties`, `minProperties`): the reader's are no tighter;
 * - `enum`: the reader's values include the writer's; `const` stays equal;
 * - property and `items` schemas are checked recursively by the same rules.
 */
import * as ajvDraft7 from 'ajv';
import * as ajv2020 from 'ajv/dist/2020.js';
import { invalidSchema } from './errors.js';
import type { SchemaLanguage } from './language.js';

type JsonSchema = boolean | { [key: string]: unknown };

function parseJson(text: string, what: string): JsonSchema {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw invalidSchema(`${what} is not JSON: ${(err as Error).message}`, err);
  }
  if (typeof json !== 'boolean' && (typeof json !== 'object' || json === null || Array.isArray(json))) {
    throw invalidSchema(`${what} must be an object or a boolean`);
  }
  return json as JsonSchema;
}

export const jsonSchemaLanguage: SchemaLanguage<JsonSchema> = {
  parse(schema, references) {
    const json = parseJson(schema, 'the schema');
    const is2020 = typeof json === 'object' && String(json.$schema ?? '').includes('2020-12');
    const Ajv = is2020 ? ajv2020.Ajv2020 : ajvDraft7.Ajv;
    const ajv = new Ajv({ strict: false, allErrors: false, validateFormats: false });
    try {
      for (const ref of references) {
        const refJson = parseJson(ref.schema, `reference ${ref.name}`);
        if (typeof refJson === 'object' && typeof refJson.$schema === 'string') delete refJson.$schema;
        ajv.addSchema(refJson as object, ref.name);
      }
      const compiled = typeof json === 'object' && typeof json.$schema === 'string' ? { ...json } : json;
      if (typeof compiled === 'object') delete compiled.$schema;
      ajv.compile(compiled as object);
    } catch (err) {
      throw invalidSchema((err as Error).message, err);
    }
    return json;
  },
  canonical(schema) {
    try {
      return JSON.stringify(JSON.parse(schema));
    } catch {
      return schema;
    }
  },
  readErrors(reader, writer) {
    const out: string[] = [];
    compare(reader, writer, '#', out);
    return out;
  },
};

const obj = (s: JsonSchema): Record<string, unknown> => (typeof s === 'boolean' ? (s ? {} : { not: {} }) : s);

function typesOf(s: Record<string, unknown>): Set<string> | undefined {
  const t = s.type;
  if (t === undefined) return undefined;
  return new Set(Array.isArray(t) ? (t as string[]) : [t as string]);
}

function isOpen(s: Record<string, unknown>): boolean {
  return s.additionalProperties !== false;
}

const UPPER = ['maxLength', 'maximum', 'exclusiveMaximum', 'maxItems', 'maxProperties'] as const;
const LOWER = ['minLength', 'minimum', 'exclusiveMinimum', 'minItems', 'minProperties'] as const;

function compare(readerSchema: JsonSchema, writerSchema: JsonSchema, at: string, out: string[]): void {
  if (readerSchema === true || writerSchema === false) return;
  const r = obj(readerSchema);
  const w = obj(writerSchema);
  const rt = typesOf(r);
  const wt = typesOf(w);
  if (rt) {
    if (!wt) out.push(`${at}: type narrowed to ${[...rt].join(',')}`);
    else
      for (const t of wt)
        if (!rt.has(t) && !(t === 'integer' && rt.has('number')))
          out.push(`${at}: type '${t}' no longer accepted`);
  }
  for (const k of UPPER) {
    const rv = r[k];
    const wv = w[k];
    if (typeof rv === 'number' && (typeof wv !== 'number' || rv < wv))
      out.push(`${at}: ${k} added or decreased`);
  }
  for (const k of LOWER) {
    const rv = r[k];
    const wv = w[k];
    if (typeof rv === 'number' && (typeof wv !== 'number' || rv > wv))
      out.push(`${at}: ${k} added or increased`);
  }
  if (Array.isArray(r.enum)) {
    const has = new Set((r.enum as unknown[]).map((v) => JSON.stringify(v)));
    if (!Array.isArray(w.enum)) out.push(`${at}: enum added`);
    else
      for (const v of w.enum as unknown[])
        if (!has.has(JSON.stringify(v))) out.push(`${at}: enum value ${JSON.stringify(v)} removed`);
  }
  if ('const' in r && JSON.stringify(r.const) !== JSON.stringify(w.const)) out.push(`${at}: const changed`);
  const rRequired = new Set((r.required as string[] | undefined) ?? []);
  const wRequired = new Set((w.required as string[] | undefined) ?? []);
  for (const name of rRequired)
    if (!wRequired.has(name)) out.push(`${at}: required property '${name}' added`);
  const rProps = (r.properties ?? {}) as Record<string, JsonSchema>;
  const wProps = (w.properties ?? {}) as Record<string, JsonSchema>;
  if (isOpen(w) && !isOpen(r)) out.push(`${at}: additionalProperties closed`);
  for (const [name, rp] of Object.entries(rProps)) {
    const wp = wProps[name];
    if (wp !== undefined) compare(rp, wp, `${at}/properties/${name}`, out);
    else if (isOpen(w) && rp !== true && !(typeof rp === 'object' && Object.keys(rp).length === 0))
      out.push(`${at}: property '${name}' added to an open content model`);
  }
  for (const name of Object.keys(wProps)) {
    if (!(name in rProps) && !isOpen(r))
      out.push(`${at}: property '${name}' removed from a closed content model`);
  }
  if (r.items !== undefined && typeof r.items !== 'object') return;
  if (r.items !== undefined && !Array.isArray(r.items)) {
    if (w.items === undefined) out.push(`${at}: items added`);
    else if (!Array.isArray(w.items))
      compare(r.items as JsonSchema, w.items as JsonSchema, `${at}/items`, out);
  }
}
