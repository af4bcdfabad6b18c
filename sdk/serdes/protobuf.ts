/**
 * Protobuf through protobufjs (an optional peer dependency). Values are plain objects;
 * decoded 64-bit integers are strings and enums their names (Protobuf's JSON mapping).
 */
import type * as Protobuf from 'protobufjs';
import type { Codec, NamedSchema } from './codec.js';
import { optional } from './codec.js';

export interface ProtobufCodec extends Codec {
  /** The message type at these indexes of the file, if any. */
  decodeAt(indexes: readonly number[], bytes: Buffer): unknown;
  hasMessageAt(indexes: readonly number[]): boolean;
}

const LONGS = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

/**
 * A copy for `verify` where 64-bit integers given as decimal strings (Protobuf's JSON
 * mapping, what `decode` returns) count as integers, as `fromObject` encodes them.
 */
function forVerify(type: Protobuf.Type, value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  const out: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const field of type.fieldsArray) {
    const v = out[field.name];
    if (v === undefined || v === null) continue;
    const one = (x: unknown): unknown => {
      if (LONGS.has(field.type) && typeof x === 'string' && /^-?\d+$/.test(x)) return 0;
      if (field.resolvedType && 'fieldsArray' in field.resolvedType)
        return forVerify(field.resolvedType as Protobuf.Type, x);
      return x;
    };
    out[field.name] = field.repeated && Array.isArray(v) ? v.map(one) : field.map ? v : one(v);
  }
  return out;
}

export async function protobufCodec(
  schema: string,
  references: readonly NamedSchema[],
  messageName?: string,
): Promise<ProtobufCodec> {
  const mod = await optional<typeof import('protobufjs')>('protobufjs');
  const pb = ((mod as unknown as { default?: typeof Protobuf }).default ?? mod) as typeof Protobuf;
  const parseInto = (text: string, root: Protobuf.Root) => {
    const r = pb.parse(text, root, { keepCase: true });
    for (const file of r.imports ?? []) {
      const common = pb.common.get(file);
      if (!common?.nested) continue;
      try {
        root.addJSON(common.nested);
      } catch {
        // already there
      }
    }
    return r;
  };
  // The file's own messages, in declaration order, for the message indexes.
  const own = new pb.Root();
  const parsed = parseInto(schema, own);
  const pkgNs = parsed.package ? own.lookup(parsed.package) : own;
  const messagesOf = (ns: Protobuf.NamespaceBase | null): Protobuf.Type[] =>
    (ns?.nestedArray ?? []).filter((n): n is Protobuf.Type => n instanceof pb.Type);
  const top = messagesOf(pkgNs as Protobuf.NamespaceBase);
  const root = new pb.Root();
  for (const ref of references) parseInto(ref.schema, root);
  parseInto(schema, root);
  root.resolveAll();
  const pathTo = (name: string): number[] | undefined => {
    const search = (list: Protobuf.Type[], trail: number[]): number[] | undefined => {
      for (const [i, t] of list.entries()) {
        if (t.fullName.slice(1) === name || t.name === name) return [...trail, i];
        const inner = search(messagesOf(t), [...trail, i]);
        if (inner) return inner;
      }
      return undefined;
    };
    return search(top, []);
  };
  const atPath = (indexes: readonly number[]): Protobuf.Type | undefined => {
    let list = top;
    let found: Protobuf.Type | undefined;
    for (const i of indexes) {
      found = list[i];
      if (!found) return undefined;
      list = messagesOf(found);
    }
    return found && root.lookupType(found.fullName);
  };
  const indexes = messageName ? pathTo(messageName) : [0];
  if (!indexes || !atPath(indexes)) throw new Error(`the schema has no message ${messageName ?? ''}`.trim());
  const type = atPath(indexes)!;
  const toObject = (t: Protobuf.Type, bytes: Buffer) =>
    t.toObject(t.decode(bytes), { longs: String, enums: String, bytes: Buffer, arrays: true });
  return {
    recordName: type.fullName.slice(1),
    validate(value) {
      const problem = type.verify(forVerify(type, value) as Record<string, unknown>);
      if (!problem) return undefined;
      const field = /^([\w.[\]]+):/.exec(problem)?.[1];
      return { field, message: problem };
    },
    encode: (value) => ({
      payload: type.encode(type.fromObject(value as Record<string, unknown>)).finish(),
      indexes,
    }),
    decode: (bytes) => toObject(type, bytes),
    decodeAt(at, bytes) {
      const t = atPath(at);
      if (!t) throw new Error(`no message at indexes [${at.join(', ')}]`);
      return toObject(t, bytes);
    },
    hasMessageAt: (at) => atPath(at) !== undefined,
  };
}
