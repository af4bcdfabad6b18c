/** What the serdes need of a schema language; the libraries load on first use. */
import type { RegisteredSchema } from './registry-client.js';

/** A referenced schema with its name, dependencies first. */
export interface NamedSchema extends RegisteredSchema {
  name: string;
}

export interface Codec {
  /** The record's full name (Avro record, Protobuf message), for the record name strategies. */
  recordName: string | undefined;
  /** The first problem of `value` against the schema, or `undefined` when it conforms. */
  validate(value: unknown): { field: string | undefined; message: string } | undefined;
  /** The payload and, for Protobuf, the message indexes. */
  encode(value: unknown): { payload: Uint8Array; indexes?: number[] };
  /** Decodes the bytes after the schema id. */
  decode(bytes: Buffer): unknown;
}

/** A peer dependency, or a clear error naming what to install. */
export async function optional<T>(name: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    throw new Error(`the ${name} serdes need the '${name}' package: npm install ${name}`, { cause: err });
  }
}
