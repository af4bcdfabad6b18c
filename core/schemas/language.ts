/** What the registry needs of a schema language: parse, canonical text, read compatibility. */
import type { SchemaType } from './types.js';

/** A referenced schema with its text, resolved from its subject and version. */
export interface ResolvedReference {
  name: string;
  schemaType: SchemaType;
  schema: string;
}

export interface SchemaLanguage<Parsed = unknown> {
  /**
   * Parses and checks a schema; `references` come transitively, dependencies first.
   * @throws {@link SchemaRegistryError} INVALID_SCHEMA (42201) naming what is wrong.
   */
  parse(schema: string, references: readonly ResolvedReference[]): Parsed | Promise<Parsed>;
  /** The text stored and compared: the same schema always has the same canonical text. */
  canonical(schema: string): string;
  /**
   * Why `reader` cannot read what was written with `writer`: one message per rule broken,
   * empty when it can (BACKWARD checks new-as-reader against old, FORWARD the reverse).
   */
  readErrors(reader: Parsed, writer: Parsed): string[];
}
