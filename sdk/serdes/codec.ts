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

/**
 * Loads an optional peer dependency (`specifier` is `package` or `package/subpath`), or throws
 * a clear error naming what to install. The specifier is not a literal on purpose: a bundler
 * (esbuild, as a Lambda producer is bundled) must not pull avsc, protobufjs or ajv into every
 * SDK bundle, nor fail when they are not installed. An app that uses schema serdes and bundles
 * installs the library and keeps it in the function's node_modules (esbuild `--external:avsc`).
 */
export async function optional<T>(specifier: string): Promise<T> {
  const name = specifier.startsWith('@')
    ? specifier.split('/').slice(0, 2).join('/')
    : specifier.split('/')[0]!;
  try {
    return (await import(specifier)) as T;
  } catch (err) {
    throw new Error(`the ${name} serdes need the '${name}' package: npm install ${name}`, { cause: err });
  }
}
