/**
 * Acceptance: `@kafkajs/confluent-schema-registry`, unmodified, against `sluice dev`'s
 * registry (on files + SQLite and on moto): it registers, encodes and decodes Avro,
 * Protobuf and JSON Schema messages, and Sluice's REST answers keep its error codes.
 */
import { SchemaRegistry as ConfluentRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from '../../bin/dev.js';
import { createContext } from '../../lambdas/context.js';
import { type Api, api } from '../helpers/http.js';
import { makeStores } from '../helpers/stores.js';

const userAvro = {
  type: 'record',
  name: 'User',
  namespace: 'com.example',
  fields: [
    { name: 'name', type: 'string' },
    { name: 'age', type: 'int' },
  ],
};
const orderProto = `syntax = "proto3";
package shop;
message Order {
  string id = 1;
  int64 cents = 2;
  repeated string items = 3;
}`;
const eventJson = {
  type: 'object',
  properties: { kind: { type: 'string' }, n: { type: 'integer' } },
  required: ['kind'],
};

describe.each(['sqlite', 'aws'] as const)('Confluent client against sluice dev (%s)', (kind) => {
  let server: DevServer;
  let http: Api;
  let client: ConfluentRegistry;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    const stores = await makeStores(kind);
    cleanup = stores.cleanup;
    server = await startDevServer({ port: 0, context: createContext(stores, { env: {} }) });
    http = api(`${server.url}/schemas`);
    client = new ConfluentRegistry({ host: `${server.url}/schemas`, retry: { retries: 0 } });
  });
  afterAll(async () => {
    await server?.close();
    await cleanup?.();
  });

  it('registers, encodes and decodes Avro', async () => {
    const { id } = await client.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(userAvro) },
      { subject: 'users-value' },
    );
    expect(id).toBeGreaterThan(0);
    const bytes = await client.encode(id, { name: 'ada', age: 36 });
    expect(bytes[0]).toBe(0);
    expect(bytes.readInt32BE(1)).toBe(id);
    // A fresh client (no cache) fetches the schema by id from the registry.
    const other = new ConfluentRegistry({ host: `${server.url}/schemas` });
    expect(await other.decode(bytes)).toEqual({ name: 'ada', age: 36 });
    expect(await other.getLatestSchemaId('users-value')).toBe(id);
    expect(await other.getRegistryId('users-value', 1)).toBe(id);
    expect(
      await other.getRegistryIdBySchema('users-value', {
        type: SchemaType.AVRO,
        schema: JSON.stringify(userAvro),
      }),
    ).toBe(id);
    // The client set the subject's level the first time it registered.
    expect((await http.get('/config/users-value')).body).toEqual({ compatibilityLevel: 'BACKWARD' });
  });

  it('registers, encodes and decodes Protobuf and JSON Schema', async () => {
    const proto = await client.register(
      { type: SchemaType.PROTOBUF, schema: orderProto },
      { subject: 'orders-value' },
    );
    const order = { id: 'o-1', cents: 1250, items: ['a', 'b'] };
    const pbytes = await client.encode(proto.id, order);
    const fresh = new ConfluentRegistry({ host: `${server.url}/schemas` });
    expect(await fresh.decode(pbytes)).toMatchObject({ id: 'o-1', items: ['a', 'b'] });
    const json = await client.register(
      { type: SchemaType.JSON, schema: JSON.stringify(eventJson) },
      { subject: 'events-value' },
    );
    const jbytes = await client.encode(json.id, { kind: 'click', n: 3 });
    expect(await fresh.decode(jbytes)).toEqual({ kind: 'click', n: 3 });
    expect((await http.get(`/schemas/ids/${proto.id}`)).body).toMatchObject({ schemaType: 'PROTOBUF' });
    expect((await http.get('/subjects')).body).toEqual(
      expect.arrayContaining(['users-value', 'orders-value', 'events-value']),
    );
  });

  it('refuses an incompatible version through the client, with 409', async () => {
    const next = { ...userAvro, fields: [...userAvro.fields, { name: 'email', type: 'string' }] };
    await expect(
      client.register({ type: SchemaType.AVRO, schema: JSON.stringify(next) }, { subject: 'users-value' }),
    ).rejects.toThrow(/incompatible/i);
    const res = await http.post('/subjects/users-value/versions', { schema: JSON.stringify(next) });
    expect(res.status).toBe(409);
    expect(res.body.error_code).toBe(409);
    expect(res.headers.get('content-type')).toBe('application/vnd.schemaregistry.v1+json');
    expect((await http.get('/subjects/users-value/versions')).body).toEqual([1]);
    const verbose = await http.post('/compatibility/subjects/users-value/versions/latest?verbose=true', {
      schema: JSON.stringify(next),
    });
    expect(verbose.body).toMatchObject({ is_compatible: false });
    expect(verbose.body.messages.length).toBeGreaterThan(0);
  });

  it('answers bad requests with the registry error codes', async () => {
    const cases: [string, string, unknown, number, number][] = [
      ['GET', '/subjects/nope/versions', undefined, 404, 40401],
      ['GET', '/subjects/users-value/versions/99', undefined, 404, 40402],
      ['GET', '/subjects/users-value/versions/zero', undefined, 422, 42202],
      ['GET', '/schemas/ids/424242', undefined, 404, 40403],
      ['GET', '/config/nope', undefined, 404, 40408],
      ['POST', '/subjects/x/versions', { schema: '{"type": "record"' }, 422, 42201],
      ['POST', '/subjects/x/versions', { schema: 'message {', schemaType: 'PROTOBUF' }, 422, 42201],
      ['POST', '/subjects/x/versions', { schema: '{}', schemaType: 'XML' }, 422, 42201],
      ['POST', '/subjects/x/versions', { schemaType: 'AVRO' }, 422, 42201],
      ['POST', '/subjects/x/versions', '{not json', 400, 400],
      ['PUT', '/config/x', { compatibility: 'SIDEWAYS' }, 422, 42203],
      ['POST', '/subjects/users-value', { schema: '"string"' }, 404, 40403],
      ['DELETE', '/subjects/users-value/versions/1?permanent=true', undefined, 404, 40407],
    ];
    for (const [method, path, body, status, code] of cases) {
      const res = await http.request(method, path, body);
      expect({ path, status: res.status, code: res.body?.error_code }).toEqual({ path, status, code });
    }
    expect((await http.get('/subjects')).body).not.toContain('x');
    expect((await http.get('/schemas/types')).body).toEqual(['AVRO', 'PROTOBUF', 'JSON']);
  });
});
