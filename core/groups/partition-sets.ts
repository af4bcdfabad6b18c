/**
 * Sets of topic partitions — assignments, targets, partitions pending revocation — as plain
 * immutable records (`topic → ascending, unique partition numbers`), so they can be stored
 * in the group item as they are and compared structurally. A topic with no partitions is
 * never present as a key: equal sets have equal records.
 */

/** Partitions of topics: topic → ascending, unique partition numbers; no empty lists. */
export type TopicPartitions = Readonly<Record<string, readonly number[]>>;

/** The list shape of the HTTP API: `[{ topic, partitions }]`. */
export interface TopicPartitionList {
  topic: string;
  partitions: number[];
}

export const EMPTY: TopicPartitions = Object.freeze({});

function normalise(record: Record<string, Iterable<number>>): TopicPartitions {
  const out: Record<string, number[]> = {};
  for (const topic of Object.keys(record).sort()) {
    const parts = [...new Set(record[topic]!)].sort((a, b) => a - b);
    if (parts.length > 0) out[topic] = parts;
  }
  return out;
}

/**
 * Builds a set from any topic → partitions mapping (unsorted, duplicates allowed).
 *
 * @example
 * tp({ orders: [2, 0, 2] }); // { orders: [0, 2] }
 */
export function tp(record: Record<string, Iterable<number>>): TopicPartitions {
  return normalise(record);
}

/** Builds a set from the API's list shape; repeated topics are merged. */
export function fromList(list: readonly { topic: string; partitions: readonly number[] }[]): TopicPartitions {
  const record: Record<string, number[]> = {};
  for (const { topic, partitions } of list) (record[topic] ??= []).push(...partitions);
  return normalise(record);
}

/** The API's list shape, topics in name order. */
export function toList(set: TopicPartitions): TopicPartitionList[] {
  return Object.keys(set)
    .sort()
    .map((topic) => ({ topic, partitions: [...set[topic]!] }));
}

export function has(set: TopicPartitions, topic: string, partition: number): boolean {
  return set[topic]?.includes(partition) ?? false;
}

export function size(set: TopicPartitions): number {
  let n = 0;
  for (const parts of Object.values(set)) n += parts.length;
  return n;
}

export function isEmpty(set: TopicPartitions): boolean {
  return Object.keys(set).length === 0;
}

export function union(...sets: TopicPartitions[]): TopicPartitions {
  const record: Record<string, number[]> = {};
  for (const set of sets)
    for (const [topic, parts] of Object.entries(set)) (record[topic] ??= []).push(...parts);
  return normalise(record);
}

export function intersect(a: TopicPartitions, b: TopicPartitions): TopicPartitions {
  const record: Record<string, number[]> = {};
  for (const [topic, parts] of Object.entries(a)) {
    const other = new Set(b[topic] ?? []);
    record[topic] = parts.filter((p) => other.has(p));
  }
  return normalise(record);
}

/** `a` without the partitions of `b`. */
export function minus(a: TopicPartitions, b: TopicPartitions): TopicPartitions {
  const record: Record<string, number[]> = {};
  for (const [topic, parts] of Object.entries(a)) {
    const other = new Set(b[topic] ?? []);
    record[topic] = parts.filter((p) => !other.has(p));
  }
  return normalise(record);
}

export function equals(a: TopicPartitions, b: TopicPartitions): boolean {
  const ta = Object.keys(a);
  if (ta.length !== Object.keys(b).length) return false;
  for (const topic of ta) {
    const pa = a[topic]!;
    const pb = b[topic];
    if (!pb || pa.length !== pb.length || pa.some((p, i) => p !== pb[i])) return false;
  }
  return true;
}

/**
 * Compact text form of ascending partitions for the group item: runs become `a-b`
 * (`[0,1,2,3,7,9,10]` → `"0-3,7,9-10"`), so a range assignment costs a few bytes whatever
 * the partition count — the item stays small and every write cheap.
 */
export function encodeRuns(parts: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < parts.length; ) {
    let j = i;
    while (j + 1 < parts.length && parts[j + 1] === parts[j]! + 1) j++;
    out.push(j === i ? `${parts[i]}` : `${parts[i]}-${parts[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

/** Inverse of {@link encodeRuns}; throws on text it did not produce. */
export function decodeRuns(text: string): number[] {
  if (text === '') return [];
  const out: number[] = [];
  for (const run of text.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(run);
    if (!m) throw new Error(`malformed partition run '${run}'`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    // A topic has at most 10 000 partitions: a longer run is corruption, not data.
    if (to < from || to - from >= 100_000) throw new Error(`malformed partition run '${run}'`);
    for (let p = from; p <= to; p++) out.push(p);
  }
  return out;
}

/** A set as stored: topic → runs text. */
export function encodeSet(set: TopicPartitions): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [topic, parts] of Object.entries(set)) out[topic] = encodeRuns(parts);
  return out;
}

/** Inverse of {@link encodeSet}. */
export function decodeSet(stored: unknown): TopicPartitions {
  if (stored === undefined || stored === null) return EMPTY;
  if (typeof stored !== 'object' || Array.isArray(stored)) throw new Error('malformed partition set');
  const record: Record<string, number[]> = {};
  for (const [topic, runs] of Object.entries(stored)) {
    if (typeof runs !== 'string') throw new Error(`malformed partitions of '${topic}'`);
    record[topic] = decodeRuns(runs);
  }
  return normalise(record);
}
