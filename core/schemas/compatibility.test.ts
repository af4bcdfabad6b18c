import { describe, expect, it } from 'vitest';
import { avroLanguage } from './avro.js';
import { compatibilityErrors } from './compatibility.js';
import { SchemaRegistryError } from './errors.js';
import { jsonSchemaLanguage } from './json-schema.js';
import type { SchemaLanguage } from './language.js';
import { protobufLanguage } from './protobuf.js';
import type { CompatibilityLevel } from './types.js';

async function check<P>(lang: SchemaLanguage<P>, level: CompatibilityLevel, next: string, ...prev: string[]) {
  const parsed = await lang.parse(next, []);
  const previous = await Promise.all(
    prev.map(async (s, i) => ({ version: i + 1, parsed: await lang.parse(s, []) })),
  );
  return compatibilityErrors(lang, level, parsed, previous);
}

const record = (fields: object[]) => JSON.stringify({ type: 'record', name: 'User', fields });
const name = { name: 'name', type: 'string' };
const ageDefault = { name: 'age', type: 'int', default: 0 };
const ageRequired = { name: 'age', type: 'int' };

describe('Avro compatibility (schema resolution, avsc)', () => {
  it('BACKWARD: a field with a default may be added, one without may not', async () => {
    expect(await check(avroLanguage, 'BACKWARD', record([name, ageDefault]), record([name]))).toEqual([]);
    expect(await check(avroLanguage, 'BACKWARD', record([name, ageRequired]), record([name]))).not.toEqual(
      [],
    );
  });
  it('FORWARD: a field may be removed only if the old schema has a default for it', async () => {
    expect(await check(avroLanguage, 'FORWARD', record([name]), record([name, ageDefault]))).toEqual([]);
    expect(await check(avroLanguage, 'FORWARD', record([name]), record([name, ageRequired]))).not.toEqual([]);
    // Adding a required field is forward compatible (old readers ignore it).
    expect(await check(avroLanguage, 'FORWARD', record([name, ageRequired]), record([name]))).toEqual([]);
  });
  it('FULL: both directions', async () => {
    expect(await check(avroLanguage, 'FULL', record([name, ageDefault]), record([name]))).toEqual([]);
    expect(await check(avroLanguage, 'FULL', record([name, ageRequired]), record([name]))).not.toEqual([]);
  });
  it('type promotion int → long reads old data; long → int does not', async () => {
    const asLong = record([{ name: 'n', type: 'long' }]);
    const asInt = record([{ name: 'n', type: 'int' }]);
    expect(await check(avroLanguage, 'BACKWARD', asLong, asInt)).toEqual([]);
    expect(await check(avroLanguage, 'BACKWARD', asInt, asLong)).not.toEqual([]);
  });
  it('a record replacing a primitive is refused with a message naming both types', async () => {
    expect(await check(avroLanguage, 'BACKWARD', record([name]), '"string"')).toEqual([
      'version 1: the new schema cannot read its data: cannot read "string" as record "User"',
    ]);
  });
  it('_TRANSITIVE checks every earlier version, the plain level only the latest', async () => {
    const v1 = record([name]);
    const v2 = record([name, ageDefault]);
    const v3 = record([name, ageRequired]); // reads v2 data (age present), not v1's
    expect(await check(avroLanguage, 'BACKWARD', v3, v1, v2)).toEqual([]);
    const errors = await check(avroLanguage, 'BACKWARD_TRANSITIVE', v3, v1, v2);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/^version 1:/);
  });
  it('NONE checks nothing', async () => {
    expect(await check(avroLanguage, 'NONE', '"string"', '"int"')).toEqual([]);
  });
  it('rejects invalid schemas with 42201', async () => {
    for (const bad of [
      '{',
      '{"type":"record","name":"X"}',
      '"nosuchtype"',
      '{"type":"enum","name":"E","symbols":[1]}',
    ]) {
      await expect(async () => avroLanguage.parse(bad, [])).rejects.toMatchObject({ errorCode: 42201 });
    }
  });
  it('resolves named types from references', async () => {
    const address = JSON.stringify({
      type: 'record',
      name: 'Address',
      namespace: 'x',
      fields: [{ name: 'city', type: 'string' }],
    });
    const user = JSON.stringify({
      type: 'record',
      name: 'User',
      namespace: 'x',
      fields: [{ name: 'home', type: 'x.Address' }],
    });
    await expect(async () => avroLanguage.parse(user, [])).rejects.toBeInstanceOf(SchemaRegistryError);
    const t = avroLanguage.parse(user, [{ name: 'x.Address', schemaType: 'AVRO', schema: address }]);
    expect((t as { name?: string }).name).toBe('x.User');
  });
});

const proto = (body: string, pkg = 'shop') => `syntax = "proto3";\npackage ${pkg};\n${body}`;

describe('Protobuf compatibility (Confluent rules)', () => {
  const base = proto(
    'message Order { string id = 1; int32 qty = 2; oneof pay { string card = 3; string iban = 4; } }',
  );
  const cases: [string, string, boolean][] = [
    [
      'field added',
      proto(
        'message Order { string id = 1; int32 qty = 2; string note = 5; oneof pay { string card = 3; string iban = 4; } }',
      ),
      true,
    ],
    [
      'field removed',
      proto('message Order { string id = 1; oneof pay { string card = 3; string iban = 4; } }'),
      true,
    ],
    [
      'field renamed',
      proto(
        'message Order { string ident = 1; int32 qty = 2; oneof pay { string card = 3; string iban = 4; } }',
      ),
      true,
    ],
    [
      'int32 → int64 (same wire group)',
      proto(
        'message Order { string id = 1; int64 qty = 2; oneof pay { string card = 3; string iban = 4; } }',
      ),
      true,
    ],
    [
      'string → bytes',
      proto('message Order { bytes id = 1; int32 qty = 2; oneof pay { string card = 3; string iban = 4; } }'),
      true,
    ],
    [
      'int32 → string',
      proto(
        'message Order { string id = 1; string qty = 2; oneof pay { string card = 3; string iban = 4; } }',
      ),
      false,
    ],
    [
      'int32 → sint32',
      proto(
        'message Order { string id = 1; sint32 qty = 2; oneof pay { string card = 3; string iban = 4; } }',
      ),
      false,
    ],
    [
      'scalar → message',
      proto(
        'message Q { int32 v = 1; } message Order { string id = 1; Q qty = 2; oneof pay { string card = 3; string iban = 4; } }',
      ),
      false,
    ],
    ['message removed', proto('message Other { string id = 1; }'), false],
    [
      'package changed',
      proto(
        'message Order { string id = 1; int32 qty = 2; oneof pay { string card = 3; string iban = 4; } }',
        'store',
      ),
      false,
    ],
    [
      'oneof field removed',
      proto('message Order { string id = 1; int32 qty = 2; oneof pay { string card = 3; } }'),
      false,
    ],
    [
      'field moved into existing oneof',
      proto(
        'message Order { string id = 1; oneof pay { string card = 3; string iban = 4; int32 qty = 2; } }',
      ),
      false,
    ],
    [
      'oneof removed',
      proto('message Order { string id = 1; int32 qty = 2; string card = 3; string iban = 4; }'),
      false,
    ],
  ];
  for (const [what, next, ok] of cases) {
    it(`${what}: ${ok ? 'compatible' : 'incompatible'} (BACKWARD and FORWARD)`, async () => {
      for (const level of ['BACKWARD', 'FULL'] as const) {
        const errors = await check(protobufLanguage, level, next, base);
        expect(errors.length === 0, `${level}: ${errors.join('; ')}`).toBe(ok);
      }
    });
  }
  it('a message added is BACKWARD compatible; FORWARD sees it as removed', async () => {
    const next = proto(
      'message Order { string id = 1; int32 qty = 2; oneof pay { string card = 3; string iban = 4; } } message Extra { string x = 1; }',
    );
    expect(await check(protobufLanguage, 'BACKWARD', next, base)).toEqual([]);
    expect(await check(protobufLanguage, 'FORWARD', next, base)).toEqual([
      'version 1: it cannot read data of the new schema: message shop.Extra removed',
    ]);
  });
  it('several fields moved into a new oneof are incompatible, one is not', async () => {
    const v1 = proto('message M { string a = 1; string b = 2; }');
    expect(
      await check(
        protobufLanguage,
        'BACKWARD',
        proto('message M { oneof o { string a = 1; } string b = 2; }'),
        v1,
      ),
    ).toEqual([]);
    expect(
      await check(
        protobufLanguage,
        'BACKWARD',
        proto('message M { oneof o { string a = 1; string b = 2; } }'),
        v1,
      ),
    ).not.toEqual([]);
  });
  it('rejects unparsable schemas and unresolved types with 42201; accepts well-known imports', async () => {
    await expect(async () => protobufLanguage.parse('message {', [])).rejects.toMatchObject({
      errorCode: 42201,
    });
    await expect(async () =>
      protobufLanguage.parse(proto('message M { Missing m = 1; }'), []),
    ).rejects.toMatchObject({ errorCode: 42201 });
    const ts = proto(
      'import "google/protobuf/timestamp.proto";\nmessage M { google.protobuf.Timestamp at = 1; }',
    );
    expect((await protobufLanguage.parse(ts, [])).messages.has('shop.M')).toBe(true);
  });
  it('resolves imported types from references', async () => {
    const other = proto('message Money { int64 cents = 1; }', 'common');
    const main = proto('import "money.proto";\nmessage Order { common.Money total = 1; }');
    const parsed = await protobufLanguage.parse(main, [
      { name: 'money.proto', schemaType: 'PROTOBUF', schema: other },
    ]);
    expect([...parsed.messages.keys()]).toEqual(['shop.Order']);
  });
});

const js = (o: object) => JSON.stringify({ type: 'object', ...o });

describe('JSON Schema compatibility (Confluent rules)', () => {
  const cases: [string, string, string, boolean][] = [
    [
      'optional property added to a closed model',
      js({ properties: { a: { type: 'string' }, b: { type: 'number' } }, additionalProperties: false }),
      js({ properties: { a: { type: 'string' } }, additionalProperties: false }),
      true,
    ],
    [
      'property added to an open model',
      js({ properties: { a: { type: 'string' }, b: { type: 'number' } } }),
      js({ properties: { a: { type: 'string' } } }),
      false,
    ],
    [
      'property removed from an open model',
      js({ properties: {} }),
      js({ properties: { a: { type: 'string' } } }),
      true,
    ],
    [
      'property removed from a closed model',
      js({ properties: {}, additionalProperties: false }),
      js({ properties: { a: { type: 'string' } }, additionalProperties: false }),
      false,
    ],
    [
      'required added',
      js({ properties: { a: { type: 'string' } }, required: ['a'] }),
      js({ properties: { a: { type: 'string' } } }),
      false,
    ],
    [
      'required removed',
      js({ properties: { a: { type: 'string' } } }),
      js({ properties: { a: { type: 'string' } }, required: ['a'] }),
      true,
    ],
    [
      'integer widened to number',
      js({ properties: { a: { type: 'number' } } }),
      js({ properties: { a: { type: 'integer' } } }),
      true,
    ],
    [
      'number narrowed to integer',
      js({ properties: { a: { type: 'integer' } } }),
      js({ properties: { a: { type: 'number' } } }),
      false,
    ],
    [
      'type changed',
      js({ properties: { a: { type: 'string' } } }),
      js({ properties: { a: { type: 'number' } } }),
      false,
    ],
    [
      'maxLength increased',
      js({ properties: { a: { type: 'string', maxLength: 10 } } }),
      js({ properties: { a: { type: 'string', maxLength: 5 } } }),
      true,
    ],
    [
      'maxLength decreased',
      js({ properties: { a: { type: 'string', maxLength: 5 } } }),
      js({ properties: { a: { type: 'string', maxLength: 10 } } }),
      false,
    ],
    [
      'minimum added',
      js({ properties: { a: { type: 'number', minimum: 0 } } }),
      js({ properties: { a: { type: 'number' } } }),
      false,
    ],
    [
      'enum extended',
      js({ properties: { a: { enum: ['x', 'y'] } } }),
      js({ properties: { a: { enum: ['x'] } } }),
      true,
    ],
    [
      'enum narrowed',
      js({ properties: { a: { enum: ['x'] } } }),
      js({ properties: { a: { enum: ['x', 'y'] } } }),
      false,
    ],
    ['model closed', js({ properties: {}, additionalProperties: false }), js({ properties: {} }), false],
    [
      'items narrowed',
      js({ properties: { a: { type: 'array', items: { type: 'integer' } } } }),
      js({ properties: { a: { type: 'array', items: { type: 'number' } } } }),
      false,
    ],
  ];
  for (const [what, next, prev, ok] of cases) {
    it(`BACKWARD: ${what} is ${ok ? 'compatible' : 'incompatible'}`, async () => {
      const errors = await check(jsonSchemaLanguage, 'BACKWARD', next, prev);
      expect(errors.length === 0, errors.join('; ')).toBe(ok);
    });
  }
  it('FORWARD swaps the roles: adding a required property is forward compatible', async () => {
    const v1 = js({ properties: { a: { type: 'string' } } });
    const v2 = js({ properties: { a: { type: 'string' } }, required: ['a'] });
    expect(await check(jsonSchemaLanguage, 'FORWARD', v2, v1)).toEqual([]);
    expect(await check(jsonSchemaLanguage, 'FULL', v2, v1)).not.toEqual([]);
  });
  it('rejects invalid schemas with 42201', async () => {
    for (const bad of ['{', '[1]', '{"type": 12}', '{"properties": {"a": {"type": "nosuch"}}}']) {
      await expect(async () => jsonSchemaLanguage.parse(bad, [])).rejects.toMatchObject({ errorCode: 42201 });
    }
  });
});
