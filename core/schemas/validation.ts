/**
 * Broker-side schema validation (topic configs `value.schema.validation` and
 * `key.schema.validation`): before anything is appended, every record's value (key) must
 * start with the registry's wire format — magic byte 0 and a schema id — naming a live
 * version of the subject `<topic>-value` (`<topic>-key`). A null value or key (a tombstone,
 * a keyless record) passes. The ids of a subject are cached for `cacheTtlMs`; an id not in
 * the cache re-reads the subject once, so a schema registered a moment ago is accepted.
 */
import type { Clock } from '../clock.js';
import { SluiceError } from '../errors.js';
import type { TopicMeta } from '../topics.js';
import type { SchemaRegistry } from './registry.js';

export interface CheckedRecord {
  key?: Uint8Array | null;
  value?: Uint8Array | null;
}

export class SchemaValidator {
  private readonly cache = new Map<string, { ids: Set<number>; at: number }>();

  constructor(
    private readonly registry: SchemaRegistry,
    private readonly clock: Clock,
    private readonly cacheTtlMs = 30_000,
  ) {}

  /** True when the topic validates keys or values. */
  static enabled(topic: TopicMeta): boolean {
    return topic.config['value.schema.validation'] === true || topic.config['key.schema.validation'] === true;
  }

  /**
   * Checks records of one topic; `where(i)` names record `i` in the error.
   * @throws {@link SluiceError} INVALID_RECORD (400) for the first record that fails.
   */
  async check(
    topic: TopicMeta,
    records: readonly CheckedRecord[],
    where: (i: number) => string,
  ): Promise<void> {
    const sides: ('key' | 'value')[] = [];
    if (topic.config['key.schema.validation'] === true) sides.push('key');
    if (topic.config['value.schema.validation'] === true) sides.push('value');
    for (const side of sides) {
      const subject = `${topic.name}-${side}`;
      for (const [i, r] of records.entries()) {
        const bytes = r[side];
        if (bytes === null || bytes === undefined) continue;
        if (bytes.length < 5 || bytes[0] !== 0) {
          throw new SluiceError(
            'INVALID_RECORD',
            `${where(i)}: the ${side} carries no schema id (${side}.schema.validation is on for topic '${topic.name}'; expected magic byte 0 and a 4-byte schema id)`,
          );
        }
        const id = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getInt32(1);
        if (!(await this.has(subject, id))) {
          throw new SluiceError(
            'INVALID_RECORD',
            `${where(i)}: the ${side}'s schema id ${id} is not registered under subject '${subject}'`,
          );
        }
      }
    }
  }

  private async has(subject: string, id: number): Promise<boolean> {
    const cached = this.cache.get(subject);
    const fresh = cached && this.clock.now() - cached.at < this.cacheTtlMs;
    if (fresh && cached.ids.has(id)) return true;
    const ids = await this.registry.liveIds(subject);
    this.cache.set(subject, { ids, at: this.clock.now() });
    return ids.has(id);
  }
}
