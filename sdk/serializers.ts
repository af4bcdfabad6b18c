/**
 * (De)serializers: plain functions between application values and record bytes. JSON and
 * strings are built in; Avro (avsc), Protobuf or a schema registry plug in as functions of
 * the same shape — the SDK depends on none of them.
 */

/**
 * Turns a key or value into bytes (a string is sent as UTF-8). Never called for `null`.
 * `prepare`, when present, is awaited by the producer before the first value of each send
 * to a topic (a schema serializer registers its schema there); it returns `undefined`
 * when nothing needs doing.
 */
export type Serializer<T = unknown> = ((value: T, context: { topic: string }) => Uint8Array | string) & {
  prepare?: (context: { topic: string }) => Promise<void> | undefined;
};

/**
 * Turns record bytes back into a value. Never called for `null` (a tombstone stays `null`).
 * `prepare`, when present, is awaited by the consumer before it decodes the bytes (a schema
 * deserializer fetches the writer's schema there); `undefined` when nothing needs doing.
 */
export type Deserializer<T = unknown> = ((
  bytes: Buffer,
  context: { topic: string; partition: number },
) => T) & {
  prepare?: (bytes: Buffer) => Promise<void> | undefined;
};

import { SchemaDeserializers, SchemaSerializers } from './serdes/index.js';

/**
 * Built-in serializers; `avro`, `protobuf` and `jsonSchema` speak a schema registry
 * (Confluent's wire format) and need avsc, protobufjs or ajv installed.
 *
 * @example
 * const producer = sluice.producer({ valueSerializer: Serializers.json<Order>() });
 * await producer.send({ topic: 'orders', messages: [{ key: 'o-1', value: { total: 42 } }] });
 */
export const Serializers = {
  /** `JSON.stringify`, UTF-8. */
  json:
    <T = unknown>(): Serializer<T> =>
    (value) =>
      JSON.stringify(value),
  /** `String(value)`, UTF-8. */
  string:
    <T = string>(): Serializer<T> =>
    (value) =>
      String(value),
  ...SchemaSerializers,
};

/**
 * Built-in deserializers.
 *
 * @example
 * const consumer = sluice.consumer({ groupId: 'billing', valueDeserializer: Deserializers.json<Order>() });
 */
export const Deserializers = {
  /** UTF-8, then `JSON.parse`. */
  json:
    <T = unknown>(): Deserializer<T> =>
    (bytes) =>
      JSON.parse(bytes.toString('utf8')) as T,
  /** UTF-8 text. */
  string: (): Deserializer<string> => (bytes) => bytes.toString('utf8'),
  ...SchemaDeserializers,
};
