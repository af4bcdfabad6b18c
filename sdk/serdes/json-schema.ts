/** JSON Schema through ajv (an optional peer dependency): UTF-8 JSON payloads. */
import type { Codec, NamedSchema } from './codec.js';
import { optional } from './codec.js';

export async function jsonSchemaCodec(schema: string, references: readonly NamedSchema[]): Promise<Codec> {
  const json = JSON.parse(schema) as Record<string, unknown> | boolean;
  const is2020 = typeof json === 'object' && String(json.$schema ?? '').includes('2020-12');
  const Ajv = is2020
    ? (await optional<typeof import('ajv/dist/2020.js')>('ajv/dist/2020.js')).Ajv2020
    : (await optional<typeof import('ajv')>('ajv')).Ajv;
  const ajv = new Ajv({ strict: false, allErrors: false, validateFormats: false });
  const strip = <T>(s: T): T => {
    if (typeof s !== 'object' || s === null) return s;
    const { $schema: _, ...rest } = s as Record<string, unknown>;
    return rest as T;
  };
  for (const ref of references) ajv.addSchema(strip(JSON.parse(ref.schema)), ref.name);
  const validate = ajv.compile(strip(json) as object);
  return {
    recordName: typeof json === 'object' && typeof json.title === 'string' ? json.title : undefined,
    validate(value) {
      if (validate(value)) return undefined;
      const e = validate.errors?.[0];
      const missing = (e?.params as { missingProperty?: string } | undefined)?.missingProperty;
      const path = [e?.instancePath.split('/').filter(Boolean).join('.'), missing].filter(Boolean).join('.');
      return { field: path || undefined, message: e?.message ?? 'does not match the JSON Schema' };
    },
    encode: (value) => ({ payload: Buffer.from(JSON.stringify(value), 'utf8') }),
    decode: (bytes) => JSON.parse(bytes.toString('utf8')),
  };
}
