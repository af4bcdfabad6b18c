/**
 * What wakes the subscriptions trigger in AWS (DESIGN.md "Subscriptions"): the patterns of the
 * `FilterCriteria` of the event source mapping that feeds it the table's KEYS_ONLY stream. A
 * partition's head item (a produce committed) and any subscription definition (created,
 * changed, resumed — at deploy time or at run time) pass; every other write is filtered out
 * by Lambda, for free. The scheduler (`scheduler.ts`) acts on exactly these keys.
 */
import { keys } from '../keys.js';

export const TRIGGER_PATTERNS = [
  { dynamodb: { Keys: { sk: { S: ['head'] } } } },
  { dynamodb: { Keys: { pk: { S: [keys.subscriptionsPk] } } } },
] as const;
