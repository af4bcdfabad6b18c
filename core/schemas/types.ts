/** The shapes of the schema registry: schema types, references, stored schemas, levels. */

/** The schema languages the registry understands; `AVRO` when a request names none. */
export const SCHEMA_TYPES = ['AVRO', 'PROTOBUF', 'JSON'] as const;
export type SchemaType = (typeof SCHEMA_TYPES)[number];

/** A schema this one imports: `name` is how the schema refers to it (Avro full name, .proto file, JSON `$ref`). */
export interface SchemaReference {
  name: string;
  subject: string;
  version: number;
}

/** A schema as registered: its text, its language and what it references. */
export interface SchemaDefinition {
  schemaType: SchemaType;
  schema: string;
  references: SchemaReference[];
}

/** Confluent's compatibility levels; BACKWARD is the default. */
export const COMPATIBILITY_LEVELS = [
  'NONE',
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
] as const;
export type CompatibilityLevel = (typeof COMPATIBILITY_LEVELS)[number];

export function isCompatibilityLevel(x: unknown): x is CompatibilityLevel {
  return typeof x === 'string' && (COMPATIBILITY_LEVELS as readonly string[]).includes(x);
}

/** One version of a subject. */
export interface SubjectVersion {
  subject: string;
  version: number;
  id: number;
  schemaType: SchemaType;
  schema: string;
  references: SchemaReference[];
}
