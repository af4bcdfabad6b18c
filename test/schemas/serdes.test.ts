/**
 * The SDK's schema serdes against `sluice dev`'s registry (files + SQLite and moto):
 * Sluice's producer and consumer round-trip Avro, Protobuf and JSON Schema values, and
 * the bytes interoperate with `@kafkajs/confluent-schema-registry` in both directions.
 */
import { SchemaRegistry as ConfluentRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Deserializer,
  Deserializers,
  type Serializer,
  Serializers,
  SluiceSchemaRegistryError,
  SluiceSchemaValidationError,
} from '../../sdk/index.js';
import { type Harness, startHarness, topicName, waitFor } from '../sdk/harness.js';

const user = {
  type: 'record',
  name: 'User',
  namespace: 'com.example',
  fields: [
    { name: 'name', type: 'string' },
    { name: 'age', type: 'int' },
    { name: 'tags', type: { type: 'array', items: 'string' }, default: [] },
  ],
};
const orderProto = `syntax = "proto3";
package shop;
message Order {
  string id = 1;
  int64 cents = 2;
  repeated string items = 3;
}
message Refund { string order = 1; }`;
const eventSchema = {
  type: 'object',
  properties: { kind: { type: 'string' }, n: { type: 'integer' } },
  required: ['kind'],
};

async function encodeWith<T>(s: Serializer<T>, topic: string, value: T): Promise<Buffer> {
  await s.prepare?.({ topic });
  return Buffer.from(s(value, { topic }) as Uint8Array);
}
async function decodeWith<T>(d: Deserializer<T>, bytes: Buffer): Promise<T> {
  await d.prepare?.(bytes);
  return d(bytes, { topic: 't', partition: 0 });
}

describe.each(['sqlite', 'aws'] as const)('schema serdes against sluice dev (%s)', (kind) => {
  let h: Harness;
  let confluent: ConfluentRegistry;
  beforeAll(async () => {
    h = await startHarness(kind);
    confluent = new ConfluentRegistry({ host: `${h.url}/schemas`, retry: { retries: 0 } });
  });
  afterAll(async () => {
    await h?.close();
  });

  it('a producer and a consumer round-trip Avro values; the subject is <topic>-value', async () => {
    const topic = topicName('avro');
    await h.sluice.admin().createTopics({ topics: [{ topic }] });
    const registry = h.sluice.schemaRegistry();
    const producer = h.sluice.producer({ valueSerializer: Serializers.avro({ registry, schema: user }) });
    await producer.connect();
    await producer.send({
      topic,
      messages: [
        { value: { name: 'ada', age: 36, tags: ['x'] } },
        { value: { name: 'bob', age: 7, tags: [] } },
      ],
    });
    await producer.disconnect();
    const got: unknown[] = [];
    const consumer = h.sluice.consumer({
      groupId: `g-${topic}`,
      maxWaitTimeInMs: 200,
      valueDeserializer: Deserializers.avro({ registry }),
    });
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({ eachMessage: async ({ message }) => void got.push(message.value) });
    await waitFor(() => got.length === 2, 15_000, '2 messages');
    await consumer.disconnect();
    expect(got).toEqual([
      { name: 'ada', age: 36, tags: ['x'] },
      { name: 'bob', age: 7, tags: [] },
    ]);
    expect(await confluent.getLatestSchemaId(`${topic}-value`)).toBeGreaterThan(0);
  });

  it('a value that does not match its schema fails send with a typed error naming the field', async () => {
    const topic = topicName('avro-bad');
    await h.sluice.admin().createTopics({ topics: [{ topic }] });
    const registry = h.sluice.schemaRegistry();
    const producer = h.sluice.producer({ valueSerializer: Serializers.avro({ registry, schema: user }) });
    await producer.connect();
    const err = await producer
      .send({ topic, messages: [{ value: { name: 'ada', age: 'old' } }] })
      .catch((e) => e);
    expect(err).toBeInstanceOf(SluiceSchemaValidationError);
    expect(err.field).toBe('age');
    const jsonSer = Serializers.jsonSchema({ registry, schema: eventSchema });
    const jerr = await encodeWith(jsonSer, `${topic}-json`, { n: 2 }).catch((e) => e);
    expect(jerr).toBeInstanceOf(SluiceSchemaValidationError);
    expect(jerr.field).toBe('kind');
    const pbSer = Serializers.protobuf({ registry, schema: orderProto });
    const perr = await encodeWith(pbSer, `${topic}-pb`, { id: 5 }).catch((e) => e);
    expect(perr).toBeInstanceOf(SluiceSchemaValidationError);
    expect(perr.field).toBe('id');
    await producer.disconnect();
    // autoRegister: false only looks up, and the subject has nothing.
    const lookupOnly = Serializers.avro({ registry, schema: user, autoRegister: false });
    const lerr = await encodeWith(lookupOnly, topicName('never'), { name: 'x', age: 1 }).catch((e) => e);
    expect(lerr).toBeInstanceOf(SluiceSchemaRegistryError);
    expect(lerr.errorCode).toBe(40401);
  });

  it('Avro bytes interoperate with @kafkajs/confluent-schema-registry both ways', async () => {
    const registry = h.sluice.schemaRegistry();
    const topic = topicName('avro-interop');
    const bytes = await encodeWith(Serializers.avro({ registry, schema: user }), topic, {
      name: 'ada',
      age: 1,
      tags: [],
    });
    expect(await confluent.decode(bytes)).toEqual({ name: 'ada', age: 1, tags: [] });
    const { id } = await confluent.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(user) },
      { subject: `${topic}-value` },
    );
    const theirs = await confluent.encode(id, { name: 'bob', age: 2, tags: ['t'] });
    expect(await decodeWith(Deserializers.avro({ registry }), theirs)).toEqual({
      name: 'bob',
      age: 2,
      tags: ['t'],
    });
  });

  it('Protobuf bytes interoperate both ways (message indexes written; read with or without)', async () => {
    const registry = h.sluice.schemaRegistry();
    const topic = topicName('pb-interop');
    const order = { id: 'o-1', cents: '1250', items: ['a', 'b'] };
    const ours = await encodeWith(Serializers.protobuf({ registry, schema: orderProto }), topic, order);
    expect(ours[5]).toBe(0); // message indexes [0]
    expect(await confluent.decode(ours)).toMatchObject({ id: 'o-1', items: ['a', 'b'] });
    const { id } = await confluent.register(
      { type: SchemaType.PROTOBUF, schema: orderProto },
      { subject: `${topic}-value` },
    );
    const theirs = await confluent.encode(id, { id: 'o-2', cents: 5, items: [] });
    expect(await decodeWith(Deserializers.protobuf({ registry }), theirs)).toEqual({
      id: 'o-2',
      cents: '5',
      items: [],
    });
    // The second message of the file: indexes [1].
    const refund = await encodeWith(
      Serializers.protobuf({ registry, schema: orderProto, messageName: 'shop.Refund' }),
      `${topic}-r`,
      { order: 'o-1' },
    );
    expect([...refund.subarray(5, 7)]).toEqual([2, 2]);
    expect(await decodeWith(Deserializers.protobuf({ registry }), refund)).toEqual({ order: 'o-1' });
  });

  it('JSON Schema bytes interoperate both ways', async () => {
    const registry = h.sluice.schemaRegistry();
    const topic = topicName('json-interop');
    const ours = await encodeWith(Serializers.jsonSchema({ registry, schema: eventSchema }), topic, {
      kind: 'a',
      n: 1,
    });
    expect(await confluent.decode(ours)).toEqual({ kind: 'a', n: 1 });
    const { id } = await confluent.register(
      { type: SchemaType.JSON, schema: JSON.stringify(eventSchema) },
      { subject: `${topic}-value` },
    );
    const theirs = await confluent.encode(id, { kind: 'b' });
    expect(await decodeWith(Deserializers.jsonSchema({ registry }), theirs)).toEqual({ kind: 'b' });
    // Bytes of another schema type are a typed error, not a wrong value.
    await expect(decodeWith(Deserializers.avro({ registry }), theirs)).rejects.toThrow(/is JSON, not AVRO/);
  });
});
