/** Avro through avsc (an optional peer dependency). */
import type { Codec, NamedSchema } from './codec.js';
import { optional } from './codec.js';

export async function avroCodec(schema: string, references: readonly NamedSchema[]): Promise<Codec> {
  const mod = await optional<typeof import('avsc')>('avsc');
  const avro = (mod as unknown as { default?: typeof mod }).default ?? mod;
  const registry = {};
  for (const ref of references) avro.Type.forSchema(JSON.parse(ref.schema), { registry });
  const type = avro.Type.forSchema(JSON.parse(schema), { registry });
  return {
    recordName: type.name,
    validate(value) {
      let field: string | undefined;
      const ok = type.isValid(value, {
        errorHook: (path: string[]) => {
          field ??= path.join('.');
        },
      });
      if (ok) return undefined;
      return { field: field || undefined, message: `does not match Avro type ${type.name ?? type.typeName}` };
    },
    encode: (value) => ({ payload: type.toBuffer(value) }),
    decode: (bytes) => type.fromBuffer(bytes),
  };
}
