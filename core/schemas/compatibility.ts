/**
 * Compatibility levels applied: which earlier versions a new schema is checked against,
 * and in which direction. BACKWARD: the new schema reads data of the previous one;
 * FORWARD: the previous one reads data of the new one; FULL: both; `_TRANSITIVE`: against
 * every earlier live version instead of the latest only; NONE: no check.
 */
import type { SchemaLanguage } from './language.js';
import type { CompatibilityLevel } from './types.js';

/**
 * Why `candidate` may not follow `previous` (oldest first) under `level`; empty when it may.
 */
export function compatibilityErrors<P>(
  language: SchemaLanguage<P>,
  level: CompatibilityLevel,
  candidate: P,
  previous: readonly { version: number; parsed: P }[],
): string[] {
  if (level === 'NONE' || previous.length === 0) return [];
  const against = level.endsWith('_TRANSITIVE') ? previous : previous.slice(-1);
  const backward = level.startsWith('BACKWARD') || level.startsWith('FULL');
  const forward = level.startsWith('FORWARD') || level.startsWith('FULL');
  const out: string[] = [];
  for (const p of against) {
    if (backward)
      for (const e of language.readErrors(candidate, p.parsed))
        out.push(`version ${p.version}: the new schema cannot read its data: ${e}`);
    if (forward)
      for (const e of language.readErrors(p.parsed, candidate))
        out.push(`version ${p.version}: it cannot read data of the new schema: ${e}`);
  }
  return out;
}
