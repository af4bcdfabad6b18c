/**
 * Subscription definitions in the MetaStore: one item per subscription
 * (`subscriptions`/`<name>`), changed by compare-and-set. Creating a subscription also creates
 * its consumer group (an empty group item and catalog entry, so `groups describe` shows its
 * offsets and lag) and, for a `latest` or timestamp start, pins each partition's starting
 * offset as the group's committed offset — so records produced after creation are never
 * skipped, however late the first dispatch runs.
 */
import { casUpdate } from '../cas.js';
import type { Clock, Random } from '../clock.js';
import { SluiceError } from '../errors.js';
import type { Reader } from '../fetch.js';
import { emptyGroup, encodeGroup } from '../groups/model.js';
import { currentItem } from '../groups/offsets.js';
import { keys } from '../keys.js';
import { ConflictError, type ItemData, type MetaStore } from '../ports.js';
import type { Topics } from '../topics.js';
import {
  resolveSubscription,
  SUBSCRIPTION_DEFAULTS,
  type SubscriptionConfig,
  validateChanges,
} from './config.js';

export interface SubscriptionStoreDeps {
  meta: MetaStore;
  topics: Topics;
  reader: Reader;
  clock: Clock;
  random: Random;
}

function notFound(name: string): SluiceError {
  return new SluiceError('SUBSCRIPTION_NOT_FOUND', `subscription ${name} does not exist`);
}

function decode(data: ItemData): SubscriptionConfig {
  // Definitions written before a field existed read with its default.
  return { ...SUBSCRIPTION_DEFAULTS, ...(data as unknown as SubscriptionConfig) };
}

export class SubscriptionStore {
  constructor(private readonly deps: SubscriptionStoreDeps) {}

  /**
   * Creates a subscription (and its group, when new).
   * @throws InvalidRequestError for a bad definition, UNKNOWN_TOPIC_OR_PARTITION for a missing
   *   topic, SUBSCRIPTION_ALREADY_EXISTS for a taken name; none of them writes anything.
   */
  async create(raw: unknown): Promise<SubscriptionConfig> {
    const { meta, clock } = this.deps;
    const sub = resolveSubscription(raw, clock.now());
    const topic = await this.deps.topics.get(sub.topic);
    if (await meta.get(keys.subscription(sub.name))) throw exists(sub.name);
    if (sub.startingPosition !== 'earliest') {
      const at = sub.startingPosition === 'latest' ? 'latest' : sub.startingPosition.timestamp;
      for (let p = 0; p < topic.partitions; p++) {
        const { offset } = await this.deps.reader.listOffset(sub.topic, p, at, { topicId: topic.id });
        const key = keys.committed(sub.groupId, sub.topic, p);
        const stored = await meta.get(key);
        // The group already has an offset there: it is kept. One of a deleted topic of the
        // same name is no offset (docs/design.md "Topic incarnations"): replaced.
        if (stored && currentItem(stored, topic.id)) continue;
        await meta
          .transact([
            {
              type: 'put',
              key,
              data: { offset, at: clock.now(), tid: topic.id },
              condition: stored ? { version: stored.version } : { absent: true },
            },
          ])
          .catch((error) => {
            // Another writer got there first: its offset is kept.
            if (!(error instanceof ConflictError)) throw error;
          });
      }
    }
    const group = await meta.get(keys.group(sub.groupId));
    try {
      await meta.transact([
        {
          type: 'put',
          key: keys.subscription(sub.name),
          data: sub as unknown as ItemData,
          condition: { absent: true },
        },
        ...(group
          ? []
          : [
              {
                type: 'put' as const,
                key: keys.group(sub.groupId),
                data: encodeGroup(emptyGroup()),
                condition: { absent: true } as const,
              },
              { type: 'put' as const, key: keys.groupCatalog(sub.groupId), data: {} },
            ]),
      ]);
    } catch (error) {
      if (error instanceof ConflictError && error.failed(keys.subscription(sub.name))) throw exists(sub.name);
      throw error;
    }
    return sub;
  }

  /** The subscription, or undefined when it does not exist. */
  async find(name: string): Promise<SubscriptionConfig | undefined> {
    const item = await this.deps.meta.get(keys.subscription(name));
    return item ? decode(item.data) : undefined;
  }

  /** @throws SUBSCRIPTION_NOT_FOUND */
  async get(name: string): Promise<SubscriptionConfig> {
    const sub = await this.find(name);
    if (!sub) throw notFound(name);
    return sub;
  }

  /** Every subscription, by name. */
  async list(): Promise<SubscriptionConfig[]> {
    const out: SubscriptionConfig[] = [];
    let after: string | undefined;
    do {
      const page = await this.deps.meta.query(keys.subscriptionsPk, undefined, { after });
      out.push(...page.items.map((i) => decode(i.data)));
      after = page.next;
    } while (after);
    return out;
  }

  /**
   * Changes mutable fields (PATCH; pause and resume set `enabled`).
   * @throws InvalidRequestError for a bad or immutable field, SUBSCRIPTION_NOT_FOUND.
   */
  async update(name: string, raw: unknown): Promise<SubscriptionConfig> {
    const changes = validateChanges(raw);
    const item = await casUpdate(
      this.deps.meta,
      keys.subscription(name),
      (current) => {
        if (!current) throw notFound(name);
        return { data: { ...current.data, ...(changes as unknown as ItemData) } };
      },
      { clock: this.deps.clock, random: this.deps.random },
    );
    if (!item) throw notFound(name);
    return decode(item.data);
  }

  /**
   * Deletes the definition; its group and committed offsets stay (delete them with
   * `groups delete`), so a subscription re-created on the same group resumes where it stopped.
   * @throws SUBSCRIPTION_NOT_FOUND
   */
  async delete(name: string): Promise<void> {
    let found = false;
    await casUpdate(
      this.deps.meta,
      keys.subscription(name),
      (current) => {
        found = current !== undefined;
        return current ? { delete: true } : undefined;
      },
      { clock: this.deps.clock, random: this.deps.random },
    );
    if (!found) throw notFound(name);
  }
}

function exists(name: string): SluiceError {
  return new SluiceError('SUBSCRIPTION_ALREADY_EXISTS', `subscription ${name} already exists`);
}
