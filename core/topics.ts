/**
 * Topics: the catalog (one item per topic under pk `topics`), Kafka's naming rules,
 * validated configuration, and a per-instance cache so the produce path reads nothing.
 *
 * A topic has an `id` minted at creation. Partition data is keyed by that id, so a
 * deleted topic's data is unreachable at once, and a topic re-created under the same
 * name starts empty; maintenance reclaims the old data through the `deleted-topics` list.
 */
import { z } from 'zod';
import type { Clock, Random } from './clock.js';
import { SluiceError, UnavailableError } from './errors.js';
import { headFromItem, tombstoneData } from './heads.js';
import { keys } from './keys.js';
import { ConflictError, type Item, type MetaStore, type TransactOp } from './ports.js';

export interface TopicConfig {
  /** How long records are kept, in ms; -1 keeps them forever. Default 7 days. */
  'retention.ms': number;
  /** Bytes kept per partition; -1 for no bound. Default -1. */
  'retention.bytes': number;
  /** `delete` (retention) or `compact` (keep the latest record per key). */
  'cleanup.policy': 'delete' | 'compact';
  /** The largest record batch accepted, in bytes. Default 1 MiB (Kafka's 1048588). */
  'max.message.bytes': number;
  /** How long tombstones survive compaction, in ms. Default 1 day. */
  'delete.retention.ms': number;
  /**
   * Produce refuses a record whose value does not carry (in the schema registry's wire
   * format) the id of a schema registered under `<topic>-value`. Default false.
   */
  'value.schema.validation': boolean;
  /** The same for keys, under `<topic>-key`. Default false. */
  'key.schema.validation': boolean;
}

export const DEFAULT_TOPIC_CONFIG: TopicConfig = {
  'retention.ms': 7 * 24 * 3600 * 1000,
  'retention.bytes': -1,
  'cleanup.policy': 'delete',
  'max.message.bytes': 1_048_588,
  'delete.retention.ms': 24 * 3600 * 1000,
  'value.schema.validation': false,
  'key.schema.validation': false,
};

/**
 * The largest batch a topic may accept: it must fit, base64-encoded, in one Lambda
 * response (6 MB) when it is fetched.
 */
export const MAX_MESSAGE_BYTES_LIMIT = 4 * 1024 * 1024;
export const MAX_PARTITIONS = 10_000;

export interface TopicMeta {
  name: string;
  id: string;
  partitions: number;
  config: TopicConfig;
  createdAt: number;
}

/** Heads turned into tombstones per transaction when a topic is deleted. */
const HEADS_PER_FENCE = 25;

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** True when `name` follows Kafka's topic naming rule. */
export function isValidTopicName(name: unknown): name is string {
  return typeof name === 'string' && TOPIC_NAME.test(name) && name !== '.' && name !== '..';
}

/** Kafka's rule: 1–249 of `[a-zA-Z0-9._-]`, not `.` or `..`. */
export function validateTopicName(name: unknown): asserts name is string {
  if (!isValidTopicName(name)) {
    throw new SluiceError(
      'INVALID_TOPIC_EXCEPTION',
      `invalid topic name ${JSON.stringify(name)}: use 1-249 characters of [a-zA-Z0-9._-], not '.' or '..'`,
    );
  }
}

export function validatePartitionCount(count: unknown): asserts count is number {
  if (typeof count !== 'number' || !Number.isInteger(count) || count < 1 || count > MAX_PARTITIONS) {
    throw new SluiceError('INVALID_PARTITIONS', `partitions must be an integer from 1 to ${MAX_PARTITIONS}`);
  }
}

const retention = z.number().int().min(-1);
const configSchema = z
  .object({
    'retention.ms': retention,
    'retention.bytes': retention,
    'cleanup.policy': z.enum(['delete', 'compact']),
    'max.message.bytes': z.number().int().min(1024).max(MAX_MESSAGE_BYTES_LIMIT),
    'delete.retention.ms': z.number().int().min(0),
    'value.schema.validation': z.boolean(),
    'key.schema.validation': z.boolean(),
  })
  .partial()
  .strict();

/** Numbers and booleans may come as strings, as Kafka's tools send them. */
function coerce(raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(raw)) {
    out[k] =
      typeof v === 'string' && /^-?\d+$/.test(v)
        ? Number(v)
        : v === 'true' || v === 'false'
          ? v === 'true'
          : v;
  }
  return out;
}

/** Validates a (partial) topic config and fills in defaults. Unknown keys are INVALID_CONFIG. */
export function resolveConfig(raw: unknown, base: TopicConfig = DEFAULT_TOPIC_CONFIG): TopicConfig {
  if (raw === undefined || raw === null) return { ...base };
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new SluiceError('INVALID_CONFIG', 'config must be an object of Kafka topic settings');
  }
  const parsed = configSchema.safeParse(coerce(raw as Record<string, unknown>));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const what =
      issue?.code === 'unrecognized_keys'
        ? `unsupported config ${issue.keys.join(', ')}; supported: ${Object.keys(DEFAULT_TOPIC_CONFIG).join(', ')}`
        : `${issue?.path.join('.')}: ${issue?.message}`;
    throw new SluiceError('INVALID_CONFIG', `invalid topic config: ${what}`);
  }
  return { ...base, ...(parsed.data as Partial<TopicConfig>) };
}

function toMeta(item: Item): TopicMeta {
  const d = item.data as unknown as Omit<TopicMeta, 'name'>;
  return {
    name: item.sk,
    id: d.id,
    partitions: d.partitions,
    config: { ...DEFAULT_TOPIC_CONFIG, ...d.config },
    createdAt: d.createdAt,
  };
}

function unknownTopic(name: string): SluiceError {
  return new SluiceError('UNKNOWN_TOPIC_OR_PARTITION', `topic '${name}' does not exist`);
}

export interface TopicsOptions {
  clock: Clock;
  random: Random;
  /** How long a cached topic is trusted, in ms. Default 5000. */
  cacheTtlMs?: number;
}

/** The topic catalog with a per-instance cache. */
export class Topics {
  private readonly cache = new Map<string, { meta: TopicMeta | undefined; at: number }>();
  private readonly ttl: number;

  constructor(
    private readonly meta: MetaStore,
    private readonly options: TopicsOptions,
  ) {
    this.ttl = options.cacheTtlMs ?? 5000;
  }

  /**
   * Creates a topic.
   * @example
   * await topics.create('orders', 6, { 'retention.ms': 86_400_000 });
   */
  async create(name: unknown, partitions: unknown = 1, config?: unknown): Promise<TopicMeta> {
    validateTopicName(name);
    validatePartitionCount(partitions);
    const resolved = resolveConfig(config);
    const now = this.options.clock.now();
    const id = `${now.toString(36)}${Math.floor(this.options.random() * 2 ** 48)
      .toString(36)
      .padStart(10, '0')}`;
    const meta: TopicMeta = { name, id, partitions, config: resolved, createdAt: now };
    try {
      await this.meta.transact([
        {
          type: 'put',
          key: keys.topic(name),
          data: { id, partitions, config: { ...resolved }, createdAt: now },
          condition: { absent: true },
        },
      ]);
    } catch (err) {
      if (err instanceof ConflictError) {
        throw new SluiceError('TOPIC_ALREADY_EXISTS', `topic '${name}' already exists`, { cause: err });
      }
      throw err;
    }
    this.cache.set(name, { meta, at: now });
    return meta;
  }

  /** Every topic, by name. */
  async list(): Promise<TopicMeta[]> {
    const out: TopicMeta[] = [];
    let after: string | undefined;
    do {
      const page = await this.meta.query(keys.topicCatalogPk, undefined, { after, limit: 1000 });
      out.push(...page.items.map(toMeta));
      after = page.next;
    } while (after);
    return out;
  }

  /** Reads a topic from the store, bypassing the cache (and refreshing it). */
  async load(name: string): Promise<TopicMeta | undefined> {
    // A name no topic can have (too long for a key, empty…) is simply unknown.
    if (!isValidTopicName(name)) return undefined;
    const item = await this.meta.get(keys.topic(name));
    const meta = item ? toMeta(item) : undefined;
    this.cache.set(name, { meta, at: this.options.clock.now() });
    return meta;
  }

  /** A topic from the cache when fresh; throws UNKNOWN_TOPIC_OR_PARTITION if missing. */
  async get(name: string): Promise<TopicMeta> {
    const hit = this.cache.get(name);
    const fresh = hit && this.options.clock.now() - hit.at < (hit.meta ? this.ttl : Math.min(this.ttl, 1000));
    const meta = fresh ? hit.meta : await this.load(name);
    if (!meta) throw unknownTopic(name);
    return meta;
  }

  /**
   * A topic known to have `partition`; a stale cache (partitions were added elsewhere)
   * is refreshed once before giving up.
   */
  async withPartition(name: string, partition: number): Promise<TopicMeta> {
    let meta = await this.get(name);
    if (partition >= meta.partitions) meta = (await this.load(name)) ?? meta;
    if (!Number.isInteger(partition) || partition < 0 || partition >= meta.partitions) {
      throw new SluiceError(
        'UNKNOWN_TOPIC_OR_PARTITION',
        `topic '${name}' has partitions 0-${meta.partitions - 1}; partition ${partition} does not exist`,
      );
    }
    return meta;
  }

  /** Grows a topic to `count` partitions; shrinking is INVALID_PARTITIONS. */
  async addPartitions(name: string, count: unknown): Promise<TopicMeta> {
    validatePartitionCount(count);
    if (!isValidTopicName(name)) throw unknownTopic(name);
    for (;;) {
      const item = await this.meta.get(keys.topic(name));
      if (!item) throw unknownTopic(name);
      const meta = toMeta(item);
      if (count < meta.partitions) {
        throw new SluiceError(
          'INVALID_PARTITIONS',
          `topic '${name}' has ${meta.partitions} partitions; count may only grow`,
        );
      }
      if (count === meta.partitions) return meta;
      try {
        await this.meta.transact([
          {
            type: 'update',
            key: keys.topic(name),
            set: { partitions: count },
            condition: { version: item.version },
          },
        ]);
      } catch (err) {
        if (err instanceof ConflictError) continue;
        throw err;
      }
      const updated = { ...meta, partitions: count };
      this.cache.set(name, { meta: updated, at: this.options.clock.now() });
      return updated;
    }
  }

  /**
   * Deletes a topic. First every partition head becomes a tombstone (docs/design.md "Topic
   * incarnations"): from then on an append through an instance whose cache still holds this
   * topic fails its head condition, and a fetch sees the tombstone — neither can write to or
   * read the deleted incarnation as if it were the topic of that name. Then, in one
   * transaction, the catalog entry goes and the id is listed for maintenance to reclaim the
   * data. A delete that fails between the two leaves a topic whose partitions refuse appends
   * (Kafka's "marked for deletion"); deleting it again completes.
   *
   * @throws SluiceError UNKNOWN_TOPIC_OR_PARTITION; UNAVAILABLE (retriable) when appends
   *   keep winning the race for a head.
   */
  async delete(name: string): Promise<void> {
    if (!isValidTopicName(name)) throw unknownTopic(name);
    for (;;) {
      const item = await this.meta.get(keys.topic(name));
      if (!item) throw unknownTopic(name);
      const meta = toMeta(item);
      // Partitions added meanwhile change the item's version: the delete below then fails
      // and this runs again over the new count.
      await this.fenceHeads(meta.id, meta.partitions);
      try {
        await this.meta.transact([
          { type: 'delete', key: keys.topic(name), condition: { version: item.version } },
          {
            type: 'put',
            key: keys.deletedTopic(meta.id),
            data: { name, partitions: meta.partitions, deletedAt: this.options.clock.now() },
          },
        ]);
      } catch (err) {
        if (err instanceof ConflictError) continue;
        throw err;
      }
      this.cache.set(name, { meta: undefined, at: this.options.clock.now() });
      return;
    }
  }

  /** Turns the heads of partitions 0..count-1 of `topicId` into tombstones (see {@link delete}). */
  private async fenceHeads(topicId: string, count: number): Promise<void> {
    for (let from = 0; from < count; from += HEADS_PER_FENCE) {
      const headKeys = Array.from({ length: Math.min(HEADS_PER_FENCE, count - from) }, (_, i) =>
        keys.head(topicId, from + i),
      );
      let items = await this.meta.batchGet(headKeys);
      for (let attempt = 0; ; attempt++) {
        const ops: TransactOp[] = [];
        items.forEach((item, i) => {
          if (item?.data.del === true) return;
          ops.push({
            type: 'put',
            key: headKeys[i]!,
            data: tombstoneData(headFromItem(item).data),
            condition: item ? { version: item.version } : { absent: true },
          });
        });
        if (ops.length === 0) break;
        try {
          await this.meta.transact(ops);
          break;
        } catch (err) {
          if (!(err instanceof ConflictError)) throw err;
          if (attempt >= 50) {
            throw new UnavailableError(`could not delete topic: appends kept winning its heads; retry`, {
              cause: err,
            });
          }
          // An append won a head: retry from the heads the conflict carries.
          items = items.map((it, i) => (err.failed(headKeys[i]!) ? err.currentOf(headKeys[i]!) : it));
        }
      }
    }
  }

  /** Forgets cached entries (tests, or after an UNKNOWN_TOPIC error elsewhere). */
  invalidate(name?: string): void {
    if (name === undefined) this.cache.clear();
    else this.cache.delete(name);
  }
}
