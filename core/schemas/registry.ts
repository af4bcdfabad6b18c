/**
 * A Confluent-compatible schema registry over the MetaStore: global schema ids allocated by
 * compare-and-set and never reused, one id per distinct schema (by fingerprint of its
 * canonical text, type and references), subject versions appended by conditional writes,
 * compatibility checked before a version is written, soft and permanent deletion.
 *
 * Every write is one transaction conditioned on what was read; a lost race re-reads and
 * tries again, so two registrations of one schema under one subject end as one version.
 */
import { createHash } from 'node:crypto';
import { backoffDelay, casUpdate } from '../cas.js';
import type { Clock, Random } from '../clock.js';
import { UnavailableError } from '../errors.js';
import { ConflictError, type Item, type MetaStore, type TransactOp } from '../ports.js';
import { compatibilityErrors } from './compatibility.js';
import {
  invalidSchema,
  SchemaRegistryError,
  schemaNotFound,
  subjectNotFound,
  versionNotFound,
} from './errors.js';
import { registryKeys as K } from './keys.js';
import type { ResolvedReference, SchemaLanguage } from './language.js';
import {
  type CompatibilityLevel,
  isCompatibilityLevel,
  SCHEMA_TYPES,
  type SchemaDefinition,
  type SchemaReference,
  type SchemaType,
  type SubjectVersion,
} from './types.js';

export interface RegistryOptions {
  meta: MetaStore;
  clock: Clock;
  random: Random;
  /** Compatibility level when neither the subject nor the registry sets one. @default 'BACKWARD' */
  defaultLevel?: CompatibilityLevel;
  /** Conditional-write attempts before {@link UnavailableError}. @default 20 */
  maxAttempts?: number;
}

/** A version request: a number, or `latest` (also `-1`). */
export type VersionSelector = number | 'latest';

interface VersionRow {
  version: number;
  id: number;
  deleted: boolean;
  item: Item;
}

/** The language modules, loaded on first use (avsc, protobufjs and ajv are optional). */
async function languageOf(type: SchemaType): Promise<SchemaLanguage<unknown>> {
  switch (type) {
    case 'AVRO':
      return (await import('./avro.js')).avroLanguage as SchemaLanguage<unknown>;
    case 'PROTOBUF':
      return (await import('./protobuf.js')).protobufLanguage as SchemaLanguage<unknown>;
    case 'JSON':
      return (await import('./json-schema.js')).jsonSchemaLanguage as SchemaLanguage<unknown>;
  }
}

/** Parses a version path segment: a positive number, `latest` or `-1`; else 42202. */
export function parseVersion(text: string): VersionSelector {
  if (text === 'latest' || text === '-1') return 'latest';
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < 1 || n > 2 ** 31 - 1) {
    throw new SchemaRegistryError(
      'INVALID_VERSION',
      `The specified version '${text}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string "latest"`,
    );
  }
  return n;
}

/** Checks a schema type name; 42201 for unknown ones. */
export function parseSchemaType(type: string | undefined): SchemaType {
  const t = (type ?? 'AVRO').toUpperCase();
  if (!(SCHEMA_TYPES as readonly string[]).includes(t)) throw invalidSchema(`unknown schema type '${type}'`);
  return t as SchemaType;
}

export class SchemaRegistry {
  private readonly meta: MetaStore;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly defaultLevel: CompatibilityLevel;
  private readonly maxAttempts: number;
  /** Schemas by id are immutable: parsed forms are kept (bounded). */
  private readonly parsed = new Map<number, Promise<unknown>>();

  constructor(options: RegistryOptions) {
    this.meta = options.meta;
    this.clock = options.clock;
    this.random = options.random;
    this.defaultLevel = options.defaultLevel ?? 'BACKWARD';
    this.maxAttempts = options.maxAttempts ?? 20;
  }

  // ---------------------------------------------------------------------------- schemas

  /** The schema with this id. @throws 40403 when there is none. */
  async schemaById(id: number): Promise<SchemaDefinition> {
    if (!Number.isSafeInteger(id) || id < 1) throw schemaNotFound(`Schema ${id} not found`);
    const item = await this.meta.get(K.schema(id));
    if (!item) throw schemaNotFound(`Schema ${id} not found`);
    return definitionOf(item);
  }

  /** The subject versions that use schema `id` (live ones, or all with `deleted`). */
  async versionsOfId(
    id: number,
    options: { deleted?: boolean } = {},
  ): Promise<{ subject: string; version: number }[]> {
    await this.schemaById(id);
    const uses = await this.queryAll(K.usesPk(id));
    const rows = uses.map((u) => ({ subject: u.data.subject as string, version: u.data.version as number }));
    if (options.deleted) return rows;
    const versions = await this.meta.batchGet(rows.map((r) => K.version(r.subject, r.version)));
    return rows.filter((_, i) => versions[i] && versions[i]!.data.deleted !== true);
  }

  // --------------------------------------------------------------------------- subjects

  /** Subjects with a live version (or every subject with `deleted`), sorted. */
  async subjects(options: { deleted?: boolean; prefix?: string } = {}): Promise<string[]> {
    const items = await this.queryAll(
      K.subjectCatalogPk,
      options.prefix ? { beginsWith: options.prefix } : undefined,
    );
    return items.filter((i) => options.deleted || (i.data.live as number) > 0).map((i) => i.sk);
  }

  /** The ids of a subject's live versions (none when the subject has none). */
  async liveIds(subject: string): Promise<Set<number>> {
    return new Set((await this.versionRows(subject)).filter((r) => !r.deleted).map((r) => r.id));
  }

  /** Version numbers of a subject, ascending. @throws 40401 when it has none. */
  async versions(subject: string, options: { deleted?: boolean } = {}): Promise<number[]> {
    const rows = (await this.versionRows(subject)).filter((r) => options.deleted || !r.deleted);
    if (rows.length === 0) throw subjectNotFound(subject);
    return rows.map((r) => r.version);
  }

  /** One version of a subject. @throws 40401 / 40402 / 42202. */
  async version(
    subject: string,
    selector: VersionSelector,
    options: { deleted?: boolean } = {},
  ): Promise<SubjectVersion> {
    const row = await this.findVersion(subject, selector, options.deleted ?? false);
    const def = await this.schemaById(row.id);
    return { subject, version: row.version, id: row.id, ...def };
  }

  /**
   * Registers `def` under `subject`: the id of an identical live version when there is one;
   * otherwise, after the compatibility check, a new version (with the schema's global id,
   * new or existing).
   * @throws 42201 invalid schema or reference, 409 incompatible (nothing written).
   */
  async register(subject: string, def: SchemaDefinition): Promise<{ id: number; version: number }> {
    checkSubject(subject);
    const language = await languageOf(def.schemaType);
    const refs = await this.resolveReferences(def.references);
    const parsed = await language.parse(def.schema, refs);
    const canonical = language.canonical(def.schema);
    const hash = fingerprint(def.schemaType, canonical, def.references);
    let lastConflict: ConflictError | undefined;
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const [catalog, rows, known] = await Promise.all([
        this.meta.get(K.subject(subject)),
        this.versionRows(subject),
        this.meta.get(K.fingerprint(hash)),
      ]);
      const live = rows.filter((r) => !r.deleted);
      const knownId = known?.data.id as number | undefined;
      const same = knownId === undefined ? undefined : live.find((r) => r.id === knownId);
      if (same) return { id: same.id, version: same.version };
      const level = await this.level(subject);
      const previous = await this.previousFor(level, live, def.schemaType);
      const errors = compatibilityErrors(language, level, parsed, previous);
      if (errors.length > 0) {
        throw new SchemaRegistryError(
          'INCOMPATIBLE_SCHEMA',
          `Schema being registered is incompatible with an earlier schema for subject "${subject}" (${level}): ${errors.join('; ')}`,
        );
      }
      const id = knownId ?? (await this.allocate(hash, { ...def, schema: canonical }));
      const version = ((catalog?.data.latest as number | undefined) ?? 0) + 1;
      const ops: TransactOp[] = [
        {
          type: 'put',
          key: K.subject(subject),
          data: { latest: version, live: live.length + 1 },
          condition: catalog ? { version: catalog.version } : { absent: true },
        },
        {
          type: 'put',
          key: K.version(subject, version),
          data: { id, deleted: false },
          condition: { absent: true },
        },
        { type: 'put', key: K.use(id, subject, version), data: { subject, version } },
      ];
      try {
        await this.meta.transact(ops);
        return { id, version };
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        lastConflict = err;
        await this.clock.sleep(backoffDelay(attempt, this.random));
      }
    }
    throw new UnavailableError(`registration under '${subject}' lost ${this.maxAttempts} races`, {
      cause: lastConflict,
    });
  }

  /**
   * The live version of `subject` whose schema is `def` (POST /subjects/{subject}).
   * @throws 40401 no such subject, 40403 the schema is not registered under it.
   */
  async lookup(
    subject: string,
    def: SchemaDefinition,
    options: { deleted?: boolean } = {},
  ): Promise<SubjectVersion> {
    const rows = (await this.versionRows(subject)).filter((r) => options.deleted || !r.deleted);
    if (rows.length === 0) throw subjectNotFound(subject);
    const language = await languageOf(def.schemaType);
    const hash = fingerprint(def.schemaType, language.canonical(def.schema), def.references);
    const known = await this.meta.get(K.fingerprint(hash));
    const row = known ? rows.findLast((r) => r.id === known.data.id) : undefined;
    if (!row) throw schemaNotFound('Schema not found');
    return { subject, version: row.version, id: row.id, ...(await this.schemaById(row.id)) };
  }

  /**
   * Whether `def` may follow `subject`'s version `selector` (or, with no selector, every
   * version its level names) — nothing is written.
   * @throws 40401 / 40402 / 42201.
   */
  async checkCompatibility(
    subject: string,
    selector: VersionSelector | undefined,
    def: SchemaDefinition,
  ): Promise<{ compatible: boolean; messages: string[] }> {
    const language = await languageOf(def.schemaType);
    const parsed = await language.parse(def.schema, await this.resolveReferences(def.references));
    const level = await this.level(subject);
    let previous: { version: number; parsed: unknown }[];
    if (selector === undefined) {
      const live = (await this.versionRows(subject)).filter((r) => !r.deleted);
      previous = await this.previousFor(level, live, def.schemaType);
    } else {
      const row = await this.findVersion(subject, selector, false);
      previous = await this.previousFor('NONE', [row], def.schemaType, true);
    }
    const single = selector === undefined ? level : (level.replace('_TRANSITIVE', '') as CompatibilityLevel);
    const messages = compatibilityErrors(language, single, parsed, previous);
    return { compatible: messages.length === 0, messages };
  }

  /**
   * Soft-deletes (or, `permanent`, removes a soft-deleted) version; returns its number.
   * @throws 40401 / 40402 / 40406 already soft-deleted / 40407 not soft-deleted first.
   */
  async deleteVersion(
    subject: string,
    selector: VersionSelector,
    options: { permanent?: boolean } = {},
  ): Promise<number> {
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const catalog = await this.meta.get(K.subject(subject));
      const row = await this.findVersion(subject, selector, options.permanent ?? false);
      if (!catalog) throw subjectNotFound(subject);
      let ops: TransactOp[];
      if (options.permanent) {
        if (!row.deleted) {
          throw new SchemaRegistryError(
            'VERSION_NOT_SOFT_DELETED',
            `Subject '${subject}' Version ${row.version} was not deleted first before being permanently deleted`,
          );
        }
        ops = [
          { type: 'check', key: K.subject(subject), condition: { version: catalog.version } },
          { type: 'delete', key: K.version(subject, row.version), condition: { version: row.item.version } },
          { type: 'delete', key: K.use(row.id, subject, row.version) },
        ];
      } else {
        if (row.deleted) {
          throw new SchemaRegistryError(
            'VERSION_SOFT_DELETED',
            `Subject '${subject}' Version ${row.version} was soft deleted. Set permanent=true to delete permanently`,
          );
        }
        ops = [
          {
            type: 'update',
            key: K.subject(subject),
            add: { live: -1 },
            condition: { version: catalog.version },
          },
          {
            type: 'update',
            key: K.version(subject, row.version),
            set: { deleted: true },
            condition: { version: row.item.version },
          },
        ];
      }
      try {
        await this.meta.transact(ops);
        return row.version;
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        await this.clock.sleep(backoffDelay(attempt, this.random));
      }
    }
    throw new UnavailableError(`deletion under '${subject}' lost ${this.maxAttempts} races`);
  }

  /**
   * Soft-deletes every live version of a subject (or, `permanent`, removes a soft-deleted
   * subject with its versions and its config); returns the version numbers.
   * @throws 40401 / 40404 already soft-deleted / 40405 not soft-deleted first.
   */
  async deleteSubject(subject: string, options: { permanent?: boolean } = {}): Promise<number[]> {
    for (let attempt = 0; attempt < this.maxAttempts; attempt++) {
      const [catalog, rows] = await Promise.all([
        this.meta.get(K.subject(subject)),
        this.versionRows(subject),
      ]);
      if (!catalog || rows.length === 0) throw subjectNotFound(subject);
      const live = rows.filter((r) => !r.deleted);
      try {
        if (options.permanent) {
          if (live.length > 0) {
            throw new SchemaRegistryError(
              'SUBJECT_NOT_SOFT_DELETED',
              `Subject '${subject}' was not deleted first before being permanently deleted`,
            );
          }
          // Versions first, in transactions of up to 49 versions, the catalog entry last.
          for (let i = 0; i < rows.length; i += 49) {
            const chunk = rows.slice(i, i + 49);
            await this.meta.transact(
              chunk.flatMap((r): TransactOp[] => [
                {
                  type: 'delete',
                  key: K.version(subject, r.version),
                  condition: { version: r.item.version },
                },
                { type: 'delete', key: K.use(r.id, subject, r.version) },
              ]),
            );
          }
          await this.meta.transact([
            { type: 'delete', key: K.subject(subject), condition: { version: catalog.version } },
            { type: 'delete', key: K.config(subject) },
          ]);
          return rows.map((r) => r.version);
        }
        if (live.length === 0) {
          throw new SchemaRegistryError(
            'SUBJECT_SOFT_DELETED',
            `Subject '${subject}' was soft deleted. Set permanent=true to delete permanently`,
          );
        }
        for (let i = 0; i < live.length; i += 98) {
          const chunk = live.slice(i, i + 98);
          const last = i + 98 >= live.length;
          await this.meta.transact([
            last
              ? {
                  type: 'update',
                  key: K.subject(subject),
                  set: { live: 0 },
                  condition: { version: catalog.version },
                }
              : { type: 'check', key: K.subject(subject), condition: { version: catalog.version } },
            ...chunk.map(
              (r): TransactOp => ({
                type: 'update',
                key: K.version(subject, r.version),
                set: { deleted: true },
                condition: { version: r.item.version },
              }),
            ),
          ]);
        }
        return live.map((r) => r.version);
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        await this.clock.sleep(backoffDelay(attempt, this.random));
      }
    }
    throw new UnavailableError(`deletion of '${subject}' lost ${this.maxAttempts} races`);
  }

  // ----------------------------------------------------------------------------- config

  /** The registry-wide level (BACKWARD unless set). */
  async globalLevel(): Promise<CompatibilityLevel> {
    const item = await this.meta.get(K.config());
    return (item?.data.compatibilityLevel as CompatibilityLevel | undefined) ?? this.defaultLevel;
  }

  /** The level set on a subject, or `undefined`. */
  async subjectLevel(subject: string): Promise<CompatibilityLevel | undefined> {
    const item = await this.meta.get(K.config(subject));
    return item?.data.compatibilityLevel as CompatibilityLevel | undefined;
  }

  /** The level that applies to a subject: its own, else the registry's. */
  async level(subject: string): Promise<CompatibilityLevel> {
    return (await this.subjectLevel(subject)) ?? (await this.globalLevel());
  }

  /** Sets the level of a subject (or of the registry). @throws 42203 for an unknown level. */
  async setLevel(level: string, subject?: string): Promise<CompatibilityLevel> {
    if (!isCompatibilityLevel(level)) {
      throw new SchemaRegistryError(
        'INVALID_COMPATIBILITY_LEVEL',
        `Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive, forward_transitive, and full_transitive`,
      );
    }
    if (subject !== undefined) checkSubject(subject);
    await this.meta.transact([{ type: 'put', key: K.config(subject), data: { compatibilityLevel: level } }]);
    return level;
  }

  /** Removes a subject's level; returns it. @throws 40408 when none was set. */
  async deleteLevel(subject: string): Promise<CompatibilityLevel> {
    const item = await this.meta.get(K.config(subject));
    if (!item)
      throw new SchemaRegistryError(
        'SUBJECT_CONFIG_NOT_FOUND',
        `Subject '${subject}' does not have subject-level compatibility configured`,
      );
    await this.meta.transact([
      { type: 'delete', key: K.config(subject), condition: { version: item.version } },
    ]);
    return item.data.compatibilityLevel as CompatibilityLevel;
  }

  // ---------------------------------------------------------------------------- helpers

  private async allocate(hash: string, def: SchemaDefinition): Promise<number> {
    const counter = await casUpdate(
      this.meta,
      K.idCounter,
      (cur) => ({ data: { next: ((cur?.data.next as number | undefined) ?? 1) + 1 } }),
      { clock: this.clock, random: this.random, maxAttempts: this.maxAttempts },
    );
    const id = (counter!.data.next as number) - 1;
    try {
      await this.meta.transact([
        { type: 'put', key: K.fingerprint(hash), data: { id }, condition: { absent: true } },
        {
          type: 'put',
          key: K.schema(id),
          data: {
            schemaType: def.schemaType,
            schema: def.schema,
            references: referencesJson(def.references),
          },
          condition: { absent: true },
        },
      ]);
      return id;
    } catch (err) {
      // Another registration of the same schema won: use its id (this one is never used).
      const winner = err instanceof ConflictError ? err.currentOf(K.fingerprint(hash)) : undefined;
      if (winner) return winner.data.id as number;
      throw err;
    }
  }

  private async versionRows(subject: string): Promise<VersionRow[]> {
    const items = await this.queryAll(K.versionsPk(subject), { beginsWith: 'v#' });
    return items.map((item) => ({
      version: Number(item.sk.slice(2)),
      id: item.data.id as number,
      deleted: item.data.deleted === true,
      item,
    }));
  }

  private async findVersion(
    subject: string,
    selector: VersionSelector,
    deleted: boolean,
  ): Promise<VersionRow> {
    const all = await this.versionRows(subject);
    const rows = all.filter((r) => deleted || !r.deleted);
    if (rows.length === 0) throw subjectNotFound(subject);
    const row = selector === 'latest' ? rows[rows.length - 1] : rows.find((r) => r.version === selector);
    if (!row) throw versionNotFound(subject, selector);
    return row;
  }

  private async previousFor(
    level: CompatibilityLevel,
    live: readonly VersionRow[],
    type: SchemaType,
    all = false,
  ): Promise<{ version: number; parsed: unknown }[]> {
    if (!all && (level === 'NONE' || live.length === 0)) return [];
    const needed = all || level.endsWith('_TRANSITIVE') ? live : live.slice(-1);
    const out: { version: number; parsed: unknown }[] = [];
    for (const row of needed) {
      const def = await this.schemaById(row.id);
      // Compatibility is defined between schemas of one type; another type is never compatible.
      if (def.schemaType !== type) {
        out.push({ version: row.version, parsed: undefined });
        continue;
      }
      out.push({ version: row.version, parsed: await this.parsedById(row.id, def) });
    }
    if (out.some((p) => p.parsed === undefined)) {
      throw new SchemaRegistryError(
        'INCOMPATIBLE_SCHEMA',
        `Schema being registered is incompatible with an earlier schema: the schema type differs from ${type}`,
      );
    }
    return out;
  }

  private parsedById(id: number, def: SchemaDefinition): Promise<unknown> {
    let p = this.parsed.get(id);
    if (!p) {
      p = (async () =>
        (await languageOf(def.schemaType)).parse(def.schema, await this.resolveReferences(def.references)))();
      p.catch(() => this.parsed.delete(id));
      if (this.parsed.size >= 1000) this.parsed.delete(this.parsed.keys().next().value!);
      this.parsed.set(id, p);
    }
    return p;
  }

  /** References, transitively, dependencies first. @throws 42201 for a missing one. */
  async resolveReferences(
    references: readonly SchemaReference[],
    seen = new Set<string>(),
  ): Promise<ResolvedReference[]> {
    const out: ResolvedReference[] = [];
    for (const ref of references) {
      const key = `${ref.subject}\u0000${ref.version}`;
      if (seen.has(key)) continue;
      seen.add(key);
      let v: SubjectVersion;
      try {
        v = await this.version(ref.subject, ref.version);
      } catch (err) {
        if (err instanceof SchemaRegistryError && err.status === 404) {
          throw invalidSchema(
            `reference '${ref.name}' to subject '${ref.subject}' version ${ref.version} not found`,
            err,
          );
        }
        throw err;
      }
      out.push(...(await this.resolveReferences(v.references, seen)));
      out.push({ name: ref.name, schemaType: v.schemaType, schema: v.schema });
    }
    return out;
  }

  private async queryAll(pk: string, range?: Parameters<MetaStore['query']>[1]): Promise<Item[]> {
    const out: Item[] = [];
    let after: string | undefined;
    do {
      const page = await this.meta.query(pk, range, after ? { after } : undefined);
      out.push(...page.items);
      after = page.next;
    } while (after);
    return out;
  }
}

function checkSubject(subject: string): void {
  if (subject.length === 0 || Buffer.byteLength(subject) > 900 || subject.includes('\u0000')) {
    throw new SchemaRegistryError('UNPROCESSABLE', 'the subject name must be 1 to 900 bytes, without NUL');
  }
}

function fingerprint(type: SchemaType, canonical: string, references: readonly SchemaReference[]): string {
  return createHash('sha256')
    .update(JSON.stringify([type, canonical, references.map((r) => [r.name, r.subject, r.version])]))
    .digest('hex');
}

function referencesJson(references: readonly SchemaReference[]) {
  return references.map((r) => ({ name: r.name, subject: r.subject, version: r.version }));
}

function definitionOf(item: Item): SchemaDefinition {
  return {
    schemaType: item.data.schemaType as SchemaType,
    schema: item.data.schema as string,
    references: (item.data.references as unknown as SchemaReference[] | undefined) ?? [],
  };
}
