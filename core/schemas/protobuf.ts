/**
 * Protobuf through protobufjs: a schema is valid when it parses and every type it names
 * resolves (references are parsed first into the same root, by file name; Google's
 * well-known types are built in). Read compatibility follows the rules Confluent documents
 * for Protobuf (its `ProtobufSchema` differences), comparing the types the schema itself
 * defines with those of the other version, by full name and field number:
 *
 * - incompatible: package changed; a message or enum removed; a field's kind changed
 *   (scalar / message / enum), its scalar type changed outside a wire-compatible group
 *   (`int32 uint32 int64 uint64 bool`, `sint32 sint64`, `fixed32 sfixed32`,
 *   `fixed64 sfixed64`, `string bytes`), its message or enum type changed; a required
 *   field added or removed; a oneof removed, a field removed from a oneof, several fields
 *   moved into a new oneof, or a field moved into an existing oneof;
 * - compatible: messages, enums, fields, enum values and oneofs added; fields and enum
 *   values removed; fields renamed; changes within a wire-compatible group.
 *
 * The rules are symmetric: FORWARD applies them with the versions swapped.
 */
import protobuf from 'protobufjs';
import { invalidSchema } from './errors.js';
import type { SchemaLanguage } from './language.js';

export interface ParsedProto {
  package: string;
  /** Messages the schema itself defines, by full name (no leading dot). */
  messages: Map<string, protobuf.Type>;
  /** Enums the schema itself defines, by full name. */
  enums: Map<string, protobuf.Enum>;
  root: protobuf.Root;
}

const GROUPS = [
  ['int32', 'uint32', 'int64', 'uint64', 'bool'],
  ['sint32', 'sint64'],
  ['fixed32', 'sfixed32'],
  ['fixed64', 'sfixed64'],
  ['string', 'bytes'],
];
const SCALARS = new Set([...GROUPS.flat(), 'double', 'float']);

function parseInto(text: string, root: protobuf.Root, what: string): protobuf.IParserResult {
  try {
    const result = protobuf.parse(text, root, { keepCase: true });
    for (const file of result.imports ?? []) {
      const common = protobuf.common.get(file);
      if (!common?.nested) continue;
      try {
        root.addJSON(common.nested);
      } catch {
        // Already added by another import.
      }
    }
    return result;
  } catch (err) {
    throw invalidSchema(`${what}: ${(err as Error).message}`, err);
  }
}

function collect(ns: protobuf.NamespaceBase, prefix: string, out: ParsedProto): void {
  for (const child of ns.nestedArray) {
    const name = prefix ? `${prefix}.${child.name}` : child.name;
    if (child instanceof protobuf.Type) {
      out.messages.set(name, child);
      collect(child, name, out);
    } else if (child instanceof protobuf.Enum) out.enums.set(name, child);
    else if (child instanceof protobuf.Namespace) collect(child, name, out);
  }
}

export const protobufLanguage: SchemaLanguage<ParsedProto> = {
  parse(schema, references) {
    // What the schema itself defines, from a parse of its own text alone.
    const own = new protobuf.Root();
    const result = parseInto(schema, own, 'the schema');
    const parsed: ParsedProto = {
      package: result.package ?? '',
      messages: new Map(),
      enums: new Map(),
      root: own,
    };
    collect(own, '', parsed);
    if (parsed.messages.size === 0) throw invalidSchema('the schema defines no message');
    // Everything resolved against its references.
    const root = new protobuf.Root();
    for (const ref of references) parseInto(ref.schema, root, `reference ${ref.name}`);
    parseInto(schema, root, 'the schema');
    try {
      root.resolveAll();
    } catch (err) {
      throw invalidSchema((err as Error).message, err);
    }
    const full: ParsedProto = { package: parsed.package, messages: new Map(), enums: new Map(), root };
    for (const name of parsed.messages.keys()) full.messages.set(name, root.lookupType(name));
    for (const name of parsed.enums.keys()) full.enums.set(name, root.lookupEnum(name));
    return full;
  },
  canonical(schema) {
    return schema.trim();
  },
  readErrors(reader, writer) {
    const out: string[] = [];
    if (reader.package !== writer.package)
      out.push(`package changed from '${writer.package}' to '${reader.package}'`);
    for (const name of writer.enums.keys()) if (!reader.enums.has(name)) out.push(`enum ${name} removed`);
    for (const [name, w] of writer.messages) {
      const r = reader.messages.get(name);
      if (!r) out.push(`message ${name} removed`);
      else compareMessage(r, w, name, out);
    }
    return out;
  },
};

function kindOf(f: protobuf.Field): { kind: 'scalar' | 'message' | 'enum' | 'map'; type: string } {
  if (f instanceof protobuf.MapField) return { kind: 'map', type: `${f.keyType}->${typeName(f)}` };
  if (SCALARS.has(f.type)) return { kind: 'scalar', type: f.type };
  if (f.resolvedType instanceof protobuf.Enum) return { kind: 'enum', type: f.resolvedType.fullName };
  return { kind: 'message', type: f.resolvedType?.fullName ?? f.type };
}

function typeName(f: protobuf.Field): string {
  if (SCALARS.has(f.type)) return f.type;
  return f.resolvedType?.fullName ?? f.type;
}

function sameGroup(a: string, b: string): boolean {
  return a === b || GROUPS.some((g) => g.includes(a) && g.includes(b));
}

function oneofOf(f: protobuf.Field): string | undefined {
  const o = f.partOf;
  // proto3 `optional` is a synthetic oneof; it is not a oneof for compatibility.
  if (!o || (o.fieldsArray.length === 1 && o.name.startsWith('_'))) return undefined;
  return o.name;
}

function compareMessage(r: protobuf.Type, w: protobuf.Type, at: string, out: string[]): void {
  for (const wf of w.fieldsArray) {
    const rf = r.fieldsById[wf.id];
    const where = `${at}.${wf.name} (field ${wf.id})`;
    if (!rf) {
      if (wf.required) out.push(`${where}: required field removed`);
      if (oneofOf(wf)) out.push(`${where}: field removed from oneof ${oneofOf(wf)}`);
      continue;
    }
    const rk = kindOf(rf);
    const wk = kindOf(wf);
    if (rk.kind !== wk.kind) out.push(`${where}: kind changed from ${wk.kind} to ${rk.kind}`);
    else if (rk.kind === 'scalar' && !sameGroup(rk.type, wk.type))
      out.push(`${where}: type changed from ${wk.type} to ${rk.type}`);
    else if (rk.kind !== 'scalar' && rk.type !== wk.type)
      out.push(`${where}: type changed from ${wk.type} to ${rk.type}`);
    if (rf.repeated !== wf.repeated && rk.kind === 'scalar' && !['string', 'bytes'].includes(rk.type))
      out.push(`${where}: label changed between repeated and singular`);
    if (rf.required !== wf.required) out.push(`${where}: required changed`);
  }
  for (const rf of r.fieldsArray) {
    if (!w.fieldsById[rf.id] && rf.required)
      out.push(`${at}.${rf.name} (field ${rf.id}): required field added`);
  }
  // Oneofs: removed, or fields moved into one.
  const wOneofs = new Set(
    w.oneofsArray.filter((o) => !(o.fieldsArray.length === 1 && o.name.startsWith('_'))).map((o) => o.name),
  );
  for (const name of wOneofs) if (!r.oneofs?.[name]) out.push(`${at}: oneof ${name} removed`);
  for (const o of r.oneofsArray) {
    if (o.fieldsArray.length === 1 && o.name.startsWith('_')) continue;
    const moved = o.fieldsArray.filter((rf) => {
      const wf = w.fieldsById[rf.id];
      return wf !== undefined && oneofOf(wf) !== o.name;
    });
    if (wOneofs.has(o.name) && moved.length > 0)
      out.push(`${at}: field ${moved[0]!.name} moved into existing oneof ${o.name}`);
    else if (!wOneofs.has(o.name) && moved.length > 1)
      out.push(`${at}: several fields moved into new oneof ${o.name}`);
  }
}
