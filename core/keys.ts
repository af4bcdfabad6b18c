/**
 * Where everything lives in the MetaStore (one DynamoDB table) and the ObjectStore.
 * Every key of the system is built here, so the layout can be read in one place.
 *
 * | pk                         | sk                  | what                                   |
 * |----------------------------|---------------------|----------------------------------------|
 * | `topics`                   | `<topic>`           | topic catalog entry (id, partitions)   |
 * | `p#<topicId>#<partition>`  | `head`              | next offset, log start, producer state |
 * | `p#<topicId>#<partition>`  | `i#<lastOffset>`    | batch index entry (object, position)   |
 * | `p#<topicId>#<partition>`  | `lease`             | maintenance lease (owner, epoch)       |
 * | `p#<topicId>#<partition>`  | `maint`             | maintenance progress (checkpoints)     |
 * | `p#<topicId>#<partition>`  | `pr#<producerId>`   | a producer's dedup state (not on head) |
 * | `p#<topicId>#<partition>`  | `w#<time>#<id>`     | write intent awaiting a combined commit |
 * | `o#<objectKey>`            | `obj`               | object registry: partitions referencing |
 * | `producers`                | `seq`               | producer id counter                    |
 * | `g#<group>`                | `group`             | group state: members, assignment       |
 * | `g#<group>`                | `o#<topic>#<part>`  | committed offset                       |
 * | `groups`                   | `<group>`           | group catalog entry                    |
 * | `deleted-topics`           | `<topicId>`         | a deleted topic awaiting reclamation   |
 * | `maintenance`              | `gc`                | when orphan GC last ran                |
 * | `inbox`                    | `tail`              | inbox batcher commit counter (CAS)     |
 * | `inbox`                    | `l#<time>#<n>[#<i>]` | inbox ledger: ids committed by a batch |
 * | `t#<transactionalId>`      | `tx`                | transaction: epoch, state, staged sends |
 * | `transactions`             | `<transactionalId>` | transaction catalog entry              |
 * | `subscriptions`            | `<name>`            | subscription definition                |
 * | `p#<topicId>#<partition>`  | `s#<subscription>`  | subscription dispatch lease            |
 *
 * Offsets in sort keys are zero-padded to 16 digits so lexicographic order is numeric
 * order (offsets stay below 2^53).
 */
import type { ItemKey } from './ports.js';

const OFFSET_DIGITS = 16;

export function padOffset(offset: number): string {
  return offset.toString().padStart(OFFSET_DIGITS, '0');
}

export const keys = {
  topicCatalogPk: 'topics',
  topic: (name: string): ItemKey => ({ pk: 'topics', sk: name }),
  partitionPk: (topicId: string, partition: number): string => `p#${topicId}#${partition}`,
  head: (topicId: string, partition: number): ItemKey => ({ pk: `p#${topicId}#${partition}`, sk: 'head' }),
  indexPrefix: 'i#',
  indexSk: (lastOffset: number): string => `i#${padOffset(lastOffset)}`,
  index: (topicId: string, partition: number, lastOffset: number): ItemKey => ({
    pk: `p#${topicId}#${partition}`,
    sk: `i#${padOffset(lastOffset)}`,
  }),
  lease: (topicId: string, partition: number): ItemKey => ({ pk: `p#${topicId}#${partition}`, sk: 'lease' }),
  maintenance: (topicId: string, partition: number): ItemKey => ({
    pk: `p#${topicId}#${partition}`,
    sk: 'maint',
  }),
  producer: (topicId: string, partition: number, producerId: string): ItemKey => ({
    pk: `p#${topicId}#${partition}`,
    sk: `pr#${producerId}`,
  }),
  intentPrefix: 'w#',
  intent: (topicId: string, partition: number, sk: string): ItemKey => ({
    pk: `p#${topicId}#${partition}`,
    sk,
  }),
  inboxPk: 'inbox',
  inboxTail: { pk: 'inbox', sk: 'tail' } as ItemKey,
  inboxLedgerPrefix: 'l#',
  /** The `piece`-th ledger item of commit `n` (a commit's ids may need several items). */
  inboxLedgerSk: (time: number, n: number, piece = 0): string =>
    `l#${padOffset(time)}#${padOffset(n)}${piece > 0 ? `#${piece}` : ''}`,
  orphanGc: { pk: 'maintenance', sk: 'gc' } as ItemKey,
  objectRef: (objectKey: string): ItemKey => ({ pk: `o#${objectKey}`, sk: 'obj' }),
  producerCounter: { pk: 'producers', sk: 'seq' } as ItemKey,
  deletedTopicsPk: 'deleted-topics',
  deletedTopic: (topicId: string): ItemKey => ({ pk: 'deleted-topics', sk: topicId }),
  groupCatalogPk: 'groups',
  groupCatalog: (group: string): ItemKey => ({ pk: 'groups', sk: group }),
  group: (group: string): ItemKey => ({ pk: `g#${group}`, sk: 'group' }),
  groupPk: (group: string): string => `g#${group}`,
  committedPrefix: 'o#',
  committed: (group: string, topic: string, partition: number): ItemKey => ({
    pk: `g#${group}`,
    sk: `o#${topic}#${partition}`,
  }),
  transaction: (transactionalId: string): ItemKey => ({ pk: `t#${transactionalId}`, sk: 'tx' }),
  transactionCatalogPk: 'transactions',
  transactionCatalog: (transactionalId: string): ItemKey => ({ pk: 'transactions', sk: transactionalId }),
  subscriptionsPk: 'subscriptions',
  subscription: (name: string): ItemKey => ({ pk: 'subscriptions', sk: name }),
  subscriptionLease: (topicId: string, partition: number, name: string): ItemKey => ({
    pk: `p#${topicId}#${partition}`,
    sk: `s#${name}`,
  }),
} as const;

/** Object store layout: segment objects under `data/`, spread by a random prefix. */
export const objectKeys = {
  dataPrefix: 'data/',
  segment: (id: string): string => `data/${id}.seg`,
} as const;
