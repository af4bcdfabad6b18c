import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeStores, type StoreKind, type TestStores } from '../../test/helpers/stores.js';
import { ManualClock, seededRandom } from '../clock.js';
import { SchemaRegistryError } from './errors.js';
import { SchemaRegistry } from './registry.js';
import type { SchemaDefinition } from './types.js';

const avro = (fields: object[], name = 'User'): SchemaDefinition => ({
  schemaType: 'AVRO',
  schema: JSON.stringify({ type: 'record', name, fields }),
  references: [],
});
const v1 = avro([{ name: 'name', type: 'string' }]);
const v2 = avro([
  { name: 'name', type: 'string' },
  { name: 'age', type: 'int', default: 0 },
]);
const bad = avro([
  { name: 'name', type: 'string' },
  { name: 'age', type: 'int' },
]);

async function code(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SchemaRegistryError) return err.errorCode;
    throw err;
  }
  throw new Error('expected a SchemaRegistryError');
}

describe.each<StoreKind>(['sqlite', 'aws'])('schema registry on %s', (kind) => {
  let stores: TestStores;
  let registry: SchemaRegistry;
  let n = 0;
  const subject = () => `s${++n}-value`;
  beforeAll(async () => {
    stores = await makeStores(kind);
    registry = new SchemaRegistry({
      meta: stores.meta,
      clock: new ManualClock(1_700_000_000_000, { autoAdvance: true }),
      random: seededRandom(7),
    });
  });
  afterAll(() => stores.cleanup());

  it('gives global ids, the same id to the same schema, versions per subject', async () => {
    const a = subject();
    const b = subject();
    const r1 = await registry.register(a, v1);
    expect(r1.version).toBe(1);
    expect(await registry.register(a, v1)).toEqual(r1); // idempotent
    // The same schema with other whitespace is the same schema.
    expect(
      await registry.register(a, { ...v1, schema: JSON.stringify(JSON.parse(v1.schema), null, 2) }),
    ).toEqual(r1);
    const r2 = await registry.register(a, v2);
    expect(r2).toEqual({ id: r1.id + 1, version: 2 });
    // Another subject: same schema, same id, its own version 1.
    expect(await registry.register(b, v2)).toEqual({ id: r2.id, version: 1 });
    expect(await registry.versions(a)).toEqual([1, 2]);
    expect(await registry.version(a, 'latest')).toMatchObject({
      subject: a,
      version: 2,
      id: r2.id,
      schemaType: 'AVRO',
    });
    expect(await registry.schemaById(r1.id)).toEqual({
      schemaType: 'AVRO',
      schema: v1.schema,
      references: [],
    });
    expect(await registry.versionsOfId(r2.id)).toEqual(
      expect.arrayContaining([
        { subject: a, version: 2 },
        { subject: b, version: 1 },
      ]),
    );
    expect(await registry.subjects()).toEqual(expect.arrayContaining([a, b]));
    expect(await registry.lookup(a, v1)).toMatchObject({ version: 1, id: r1.id });
  });

  it('refuses an incompatible schema with 409 and writes nothing; NONE lets it in', async () => {
    const s = subject();
    await registry.register(s, v1);
    expect(await code(registry.register(s, bad))).toBe(409);
    expect(await registry.versions(s)).toEqual([1]);
    expect(await code(registry.lookup(s, bad))).toBe(40403);
    expect(await registry.checkCompatibility(s, 'latest', bad)).toMatchObject({ compatible: false });
    expect(await registry.checkCompatibility(s, 1, v2)).toEqual({ compatible: true, messages: [] });
    await registry.setLevel('NONE', s);
    expect(await registry.register(s, bad)).toMatchObject({ version: 2 });
    expect(await registry.subjectLevel(s)).toBe('NONE');
    expect(await registry.deleteLevel(s)).toBe('NONE');
    expect(await code(registry.deleteLevel(s))).toBe(40408);
    expect(await registry.level(s)).toBe('BACKWARD');
  });

  it('answers bad requests with the registry error codes and changes nothing', async () => {
    const s = subject();
    expect(await code(registry.register(s, { ...v1, schema: '{"type":' }))).toBe(42201);
    expect(
      await code(registry.register(s, { schemaType: 'PROTOBUF', schema: 'message {', references: [] })),
    ).toBe(42201);
    expect(
      await code(registry.register(s, { ...v1, references: [{ name: 'X', subject: 'nope', version: 1 }] })),
    ).toBe(42201);
    expect(await code(registry.versions(s))).toBe(40401);
    expect(await code(registry.version(s, 1))).toBe(40401);
    expect(await code(registry.schemaById(987654))).toBe(40403);
    expect(await code(registry.setLevel('SIDEWAYS', s))).toBe(42203);
    await registry.register(s, v1);
    expect(await code(registry.version(s, 7))).toBe(40402);
    expect(await registry.subjects()).toContain(s);
    expect(await code(registry.deleteVersion(s, 1, { permanent: true }))).toBe(40407);
    expect(await code(registry.deleteSubject(s, { permanent: true }))).toBe(40405);
    expect(await registry.versions(s)).toEqual([1]);
  });

  it('soft-deletes, then permanently deletes; versions are never reused', async () => {
    const s = subject();
    const { id } = await registry.register(s, v1);
    await registry.register(s, v2);
    expect(await registry.deleteVersion(s, 'latest')).toBe(2);
    expect(await code(registry.deleteVersion(s, 2))).toBe(40402);
    expect(await registry.versions(s)).toEqual([1]);
    expect(await registry.versions(s, { deleted: true })).toEqual([1, 2]);
    expect(await registry.deleteSubject(s)).toEqual([1]);
    expect(await code(registry.deleteSubject(s))).toBe(40404);
    expect(await registry.subjects()).not.toContain(s);
    expect(await registry.subjects({ deleted: true })).toContain(s);
    expect(await code(registry.version(s, 'latest'))).toBe(40401);
    // Registering again continues the numbering.
    expect(await registry.register(s, v1)).toEqual({ id, version: 3 });
    await registry.deleteSubject(s);
    expect(await registry.deleteSubject(s, { permanent: true })).toEqual([1, 2, 3]);
    expect(await registry.subjects({ deleted: true })).not.toContain(s);
    // The id still names its schema: ids are never reused.
    expect(await registry.schemaById(id)).toMatchObject({ schema: v1.schema });
    expect(await registry.register(s, v1)).toEqual({ id, version: 1 });
  });

  it('concurrent registrations of one schema end as one version and one id', async () => {
    const s = subject();
    const schema = avro([{ name: 'c', type: 'string' }], `Concurrent${kind}`);
    const results = await Promise.all(Array.from({ length: 6 }, () => registry.register(s, schema)));
    expect(new Set(results.map((r) => `${r.id}/${r.version}`)).size).toBe(1);
    expect(await registry.versions(s)).toEqual([1]);
  });

  it('keeps references: a schema of another subject by name', async () => {
    const addr = subject();
    const user = subject();
    const address: SchemaDefinition = {
      schemaType: 'AVRO',
      schema: JSON.stringify({
        type: 'record',
        name: 'Address',
        namespace: 'x',
        fields: [{ name: 'city', type: 'string' }],
      }),
      references: [],
    };
    await registry.register(addr, address);
    const withRef: SchemaDefinition = {
      schemaType: 'AVRO',
      schema: JSON.stringify({
        type: 'record',
        name: 'User',
        namespace: 'x',
        fields: [{ name: 'home', type: 'x.Address' }],
      }),
      references: [{ name: 'x.Address', subject: addr, version: 1 }],
    };
    const { id } = await registry.register(user, withRef);
    expect((await registry.schemaById(id)).references).toEqual(withRef.references);
  });
});
