/**
 * Where the schema registry lives in the MetaStore (the same table as the log):
 *
 * | pk                 | sk                      | what                                        |
 * |--------------------|-------------------------|---------------------------------------------|
 * | `sr#ids`           | `seq`                   | the next schema id (counter, CAS)           |
 * | `sr#schemas`       | `f#<sha256>`            | fingerprint → id: one id per distinct schema |
 * | `sr#schemas`       | `i#<id>`                | id → schema text, type, references          |
 * | `sr#uses#<id>`     | `<subject>\0<version>`  | which subject versions use an id            |
 * | `sr#subjects`      | `<subject>`             | subject catalog: latest version, live count |
 * | `sr#s#<subject>`   | `v#<version>`           | a version: id, soft-deleted flag            |
 * | `sr#config`        | `global` / `s#<subject>`| compatibility level                         |
 *
 * Ids and versions are zero-padded to 10 digits so sort order is numeric order.
 */
import type { ItemKey } from '../ports.js';

export const pad = (n: number): string => n.toString().padStart(10, '0');

export const registryKeys = {
  idCounter: { pk: 'sr#ids', sk: 'seq' } as ItemKey,
  fingerprint: (hash: string): ItemKey => ({ pk: 'sr#schemas', sk: `f#${hash}` }),
  schema: (id: number): ItemKey => ({ pk: 'sr#schemas', sk: `i#${pad(id)}` }),
  usesPk: (id: number): string => `sr#uses#${pad(id)}`,
  use: (id: number, subject: string, version: number): ItemKey => ({
    pk: `sr#uses#${pad(id)}`,
    sk: `${subject}\u0000${pad(version)}`,
  }),
  subjectCatalogPk: 'sr#subjects',
  subject: (subject: string): ItemKey => ({ pk: 'sr#subjects', sk: subject }),
  versionsPk: (subject: string): string => `sr#s#${subject}`,
  version: (subject: string, version: number): ItemKey => ({
    pk: `sr#s#${subject}`,
    sk: `v#${pad(version)}`,
  }),
  config: (subject?: string): ItemKey => ({
    pk: 'sr#config',
    sk: subject === undefined ? 'global' : `s#${subject}`,
  }),
} as const;
