/**
 * What the group coordinator needs from the log engine, as a port: the coordinator never
 * imports topics or heads, so groups can be built and tested without the log.
 */
import type { Clock } from '../clock.js';

export interface TopicView {
  /** Partition count of a topic, or undefined if the topic does not exist. */
  partitionCount(topic: string): Promise<number | undefined>;
  /** High watermarks (next offset to be written) of the given partitions of a topic. */
  highWatermarks(topic: string, partitions: readonly number[]): Promise<number[]>;
  /**
   * The id of the topic's current incarnation (minted at creation; a topic deleted and
   * re-created under the same name has a new one), or undefined if it does not exist.
   * Read from the catalog unless `cached` (the commit path: the instance's topic cache, a
   * few seconds behind at most). Optional: a view without it (tests of groups alone) makes
   * every offset current.
   */
  topicId?(topic: string, cached?: boolean): Promise<string | undefined>;
}

/**
 * Caches partition counts for `ttlMs` (a heartbeat checks the count of every subscribed
 * topic, so a warm instance should answer from memory); high watermarks are never cached,
 * since a commit is checked against them.
 *
 * @example
 * const view = cachedTopicView(engineView, clock, 5_000);
 */
export function cachedTopicView(view: TopicView, clock: Clock, ttlMs: number): TopicView {
  const counts = new Map<string, { count: number | undefined; at: number }>();
  return {
    async partitionCount(topic) {
      const hit = counts.get(topic);
      if (hit && clock.now() - hit.at < ttlMs) return hit.count;
      const count = await view.partitionCount(topic);
      counts.set(topic, { count, at: clock.now() });
      return count;
    },
    highWatermarks: (topic, partitions) => view.highWatermarks(topic, partitions),
    // Never cached: an offset is read or written against the incarnation it belongs to.
    ...(view.topicId && { topicId: (topic: string, cached?: boolean) => view.topicId!(topic, cached) }),
  };
}
