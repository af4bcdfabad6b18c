/**
 * Avro through avsc: a schema is valid when avsc builds a type of it (references are parsed
 * first into the same registry of named types); a reader can read a writer's data when
 * avsc builds a resolver between them — Avro's own schema resolution rules.
 */
import avro from 'avsc';
import { invalidSchema } from './errors.js';
import type { SchemaLanguage } from './language.js';

export const avroLanguage: SchemaLanguage<avro.Type> = {
  parse(schema, references) {
    const registry: Record<string, avro.Type> = {};
    try {
      for (const ref of references) avro.Type.forSchema(JSON.parse(ref.schema), { registry });
    } catch (err) {
      throw invalidSchema(`a reference does not parse: ${(err as Error).message}`, err);
    }
    let json: unknown;
    try {
      json = JSON.parse(schema);
    } catch (err) {
      throw invalidSchema(`not JSON: ${(err as Error).message}`, err);
    }
    try {
      return avro.Type.forSchema(json as avro.Schema, { registry });
    } catch (err) {
      throw invalidSchema((err as Error).message, err);
    }
  },
  canonical(schema) {
    try {
      return JSON.stringify(JSON.parse(schema));
    } catch {
      return schema;
    }
  },
  readErrors(reader, writer) {
    try {
      reader.createResolver(writer);
      return [];
    } catch (err) {
      // avsc says why for the cases it names (`cannot read "int" as "string"`); across kinds
      // (a primitive against a record) it fails with a TypeError of its own internals instead.
      if (err instanceof TypeError) {
        return [`cannot read ${describeType(writer)} as ${describeType(reader)}`];
      }
      return [(err as Error).message];
    }
  },
};

/** A type as a reader of error messages knows it: its name, or its kind. */
function describeType(type: avro.Type): string {
  return type.name ? `${type.typeName} "${type.name}"` : `"${type.typeName}"`;
}
