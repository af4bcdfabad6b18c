/**
 * Schema-registry serdes in Confluent's wire format: `Serializers.avro|protobuf|jsonSchema`
 * and the matching deserializers. A serializer registers (or looks up) its schema once per
 * subject before the first send to a topic and checks every value against the schema
 * before encoding it; a deserializer reads the schema id of each message and fetches and
 * caches the writer's schema by id. avsc, protobufjs and ajv are optional peer
 * dependencies, loaded on first use.
 */
import type { Deserializer, Serializer } from '../serializers.js';
import { avroCodec } from './avro.js';
import type { Codec, NamedSchema } from './codec.js';
import { SluiceSchemaFormatError, SluiceSchemaValidationError } from './errors.js';
import { jsonSchemaCodec } from './json-schema.js';
import { type ProtobufCodec, protobufCodec } from './protobuf.js';
import type {
  RegisteredSchema,
  SchemaReference,
  SchemaRegistryClient,
  SchemaType,
} from './registry-client.js';
import { frame, readIndexes, schemaIdOf } from './wire.js';

/**
 * How a subject is named: Confluent's strategies, or a function.
 * - `TopicNameStrategy` (default): `<topic>-value` / `<topic>-key`
 * - `RecordNameStrategy`: the record's full name
 * - `TopicRecordNameStrategy`: `<topic>-<record full name>`
 */
export type SubjectNameStrategy =
  | 'TopicNameStrategy'
  | 'RecordNameStrategy'
  | 'TopicRecordNameStrategy'
  | ((context: { topic: string; isKey: boolean; recordName: string | undefined }) => string);

export interface SchemaSerializerOptions {
  registry: SchemaRegistryClient;
  /** The writer's schema: Avro JSON (text or object), `.proto` text, JSON Schema (text or object). */
  schema: string | object;
  references?: SchemaReference[];
  /** @default 'TopicNameStrategy' */
  subjectNameStrategy?: SubjectNameStrategy;
  /** Serializes keys (subject `<topic>-key`). @default false */
  isKey?: boolean;
  /** Registers the schema under its subject; `false` only looks it up (it must be registered). @default true */
  autoRegister?: boolean;
}

export interface ProtobufSerializerOptions extends SchemaSerializerOptions {
  /** The message type (full or simple name). @default the file's first message */
  messageName?: string;
}

export interface SchemaDeserializerOptions {
  registry: SchemaRegistryClient;
}

async function resolveReferences(
  registry: SchemaRegistryClient,
  references: readonly SchemaReference[],
  seen = new Set<string>(),
): Promise<NamedSchema[]> {
  const out: NamedSchema[] = [];
  for (const ref of references) {
    const key = `${ref.subject}\u0000${ref.version}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const s = await registry.version(ref.subject, ref.version);
    out.push(...(await resolveReferences(registry, s.references, seen)), { ...s, name: ref.name });
  }
  return out;
}

async function codecOf(
  registry: SchemaRegistryClient,
  schema: RegisteredSchema,
  messageName?: string,
): Promise<Codec> {
  const refs = await resolveReferences(registry, schema.references);
  switch (schema.schemaType) {
    case 'AVRO':
      return avroCodec(schema.schema, refs);
    case 'PROTOBUF':
      return protobufCodec(schema.schema, refs, messageName);
    case 'JSON':
      return jsonSchemaCodec(schema.schema, refs);
  }
}

function subjectOf(
  strategy: SubjectNameStrategy | undefined,
  topic: string,
  isKey: boolean,
  recordName?: string,
) {
  const s = strategy ?? 'TopicNameStrategy';
  if (typeof s === 'function') return s({ topic, isKey, recordName });
  if (s === 'TopicNameStrategy') return `${topic}-${isKey ? 'key' : 'value'}`;
  if (!recordName) throw new TypeError(`${s} needs a named record schema`);
  return s === 'RecordNameStrategy' ? recordName : `${topic}-${recordName}`;
}

function schemaSerializer<T>(type: SchemaType, options: ProtobufSerializerOptions): Serializer<T> {
  const text = typeof options.schema === 'string' ? options.schema : JSON.stringify(options.schema);
  const schema: RegisteredSchema = { schemaType: type, schema: text, references: options.references ?? [] };
  const isKey = options.isKey ?? false;
  let codec: Promise<Codec> | undefined;
  let ready: Codec | undefined;
  const ids = new Map<string, number>();
  const pending = new Map<string, Promise<void>>();
  const load = () => {
    codec ??= codecOf(options.registry, schema, options.messageName).then((c) => {
      ready = c;
      return c;
    });
    codec.catch(() => {
      codec = undefined;
    });
    return codec;
  };
  const serialize = ((value: T, context: { topic: string }) => {
    const id = ids.get(context.topic);
    if (id === undefined || !ready) {
      throw new SluiceSchemaFormatError(
        `the ${type} serializer is not ready for topic '${context.topic}': the producer prepares it before encoding`,
      );
    }
    const subject = subjectOf(options.subjectNameStrategy, context.topic, isKey, ready.recordName);
    const problem = ready.validate(value);
    if (problem) {
      throw new SluiceSchemaValidationError(
        `value does not match schema ${id} of subject '${subject}'${problem.field ? ` at field '${problem.field}'` : ''}: ${problem.message}`,
        problem.field,
        subject,
      );
    }
    const { payload, indexes } = ready.encode(value);
    return frame(id, payload, indexes);
  }) as Serializer<T>;
  serialize.prepare = ({ topic }) => {
    if (ids.has(topic) && ready) return undefined;
    let p = pending.get(topic);
    if (!p) {
      p = (async () => {
        const c = await load();
        const subject = subjectOf(options.subjectNameStrategy, topic, isKey, c.recordName);
        const id =
          options.autoRegister === false
            ? await options.registry.lookup(subject, schema)
            : await options.registry.register(subject, schema);
        ids.set(topic, id);
      })().finally(() => pending.delete(topic));
      pending.set(topic, p);
    }
    return p;
  };
  return serialize;
}

function schemaDeserializer<T>(expected: SchemaType, options: SchemaDeserializerOptions): Deserializer<T> {
  const codecs = new Map<number, Codec>();
  const loading = new Map<number, Promise<void>>();
  const deserialize = ((bytes: Buffer) => {
    const id = schemaIdOf(bytes);
    const codec = codecs.get(id);
    if (!codec)
      throw new SluiceSchemaFormatError(
        `schema ${id} was not loaded: the consumer prepares it before decoding`,
      );
    if (expected !== 'PROTOBUF') return codec.decode(bytes.subarray(5));
    const pb = codec as ProtobufCodec;
    // Confluent's message indexes; a producer that wrote none (as @kafkajs/confluent-schema-registry
    // does) is read as the file's first message.
    const read = readIndexes(bytes, 5);
    if (read && pb.hasMessageAt(read.indexes)) {
      try {
        return pb.decodeAt(read.indexes, bytes.subarray(read.next));
      } catch {
        // Not indexes after all: fall through.
      }
    }
    return pb.decode(bytes.subarray(5));
  }) as Deserializer<T>;
  deserialize.prepare = (bytes) => {
    const id = schemaIdOf(bytes);
    if (codecs.has(id)) return undefined;
    let p = loading.get(id);
    if (!p) {
      p = (async () => {
        const schema = await options.registry.schemaById(id);
        if (schema.schemaType !== expected) {
          throw new SluiceSchemaFormatError(`schema ${id} is ${schema.schemaType}, not ${expected}`);
        }
        codecs.set(id, await codecOf(options.registry, schema));
      })().finally(() => loading.delete(id));
      loading.set(id, p);
    }
    return p;
  };
  return deserialize;
}

/** Avro, Protobuf and JSON Schema serializers in Confluent's wire format. */
export const SchemaSerializers = {
  avro: <T = unknown>(options: SchemaSerializerOptions): Serializer<T> => schemaSerializer('AVRO', options),
  protobuf: <T = unknown>(options: ProtobufSerializerOptions): Serializer<T> =>
    schemaSerializer('PROTOBUF', options),
  jsonSchema: <T = unknown>(options: SchemaSerializerOptions): Serializer<T> =>
    schemaSerializer('JSON', options),
};

/** The matching deserializers: the writer's schema comes from the registry by id. */
export const SchemaDeserializers = {
  avro: <T = unknown>(options: SchemaDeserializerOptions): Deserializer<T> =>
    schemaDeserializer('AVRO', options),
  protobuf: <T = unknown>(options: SchemaDeserializerOptions): Deserializer<T> =>
    schemaDeserializer('PROTOBUF', options),
  jsonSchema: <T = unknown>(options: SchemaDeserializerOptions): Deserializer<T> =>
    schemaDeserializer('JSON', options),
};
