/**
 * The physical item layout shared by every MetaStore adapter, DynamoDB's size rules, and
 * the validation + limit checks every adapter runs before writing — so a too-large item
 * or transaction fails with the same typed error on memory, SQLite and DynamoDB.
 *
 * Physical layout of one item (DynamoDB attribute names):
 *
 * | attr  | type | what                                                        |
 * |-------|------|-------------------------------------------------------------|
 * | `pk`  | S    | partition key                                               |
 * | `sk`  | S    | sort key                                                    |
 * | `v`   | N    | version, 1 on create, +1 on every write                      |
 * | `d`   | M    | the item's data (top-level fields of {@link ItemData})       |
 * | `ttl` | N    | optional expiry, seconds since the epoch (DynamoDB TTL)      |
 * | `tok` | S    | random token of the last write (detects SDK retries)         |
 *
 * Size rules (DynamoDB's documentation): a top-level attribute costs its name's UTF-8
 * length plus its value; strings cost their UTF-8 length; numbers 1 byte plus 1 per two
 * significant digits; booleans and null 1 byte; lists and maps 3 bytes plus, per element,
 * 1 byte plus the element (and, for maps, the key's UTF-8 length). The version and token
 * are counted at their largest size, so the count never falls below DynamoDB's own and
 * our typed error fires before DynamoDB's ValidationException.
 */
import { InvalidRequestError } from '../core/errors.js';
import {
  type Condition,
  type ItemData,
  type ItemKey,
  ItemTooLargeError,
  type Json,
  META_LIMITS,
  TransactionTooLargeError,
  type TransactOp,
} from '../core/ports.js';

/** DynamoDB attribute names of the physical layout. */
export const ATTR = { pk: 'pk', sk: 'sk', version: 'v', data: 'd', ttl: 'ttl', token: 'tok' } as const;

/** Length of the per-write token (`tok`): 16 random bytes in base64url. */
export const TOKEN_CHARS = 22;

/** DynamoDB's number range: magnitudes outside it are refused by the service. */
const MAX_MAGNITUDE = 1e126;
const MIN_MAGNITUDE = 1e-130;

export function utf8Bytes(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

/** DynamoDB's size of a number: 1 byte plus 1 per two significant digits. */
export function numberBytes(n: number): number {
  if (n === 0) return 2;
  const mantissa = Math.abs(n).toExponential().split('e')[0]!.replace('.', '');
  const digits = mantissa.replace(/0+$/, '').length;
  return 1 + Math.ceil(digits / 2);
}

const VERSION_BYTES = numberBytes(Number.MAX_SAFE_INTEGER);

/** DynamoDB's size of a value (without an attribute name). */
export function jsonBytes(value: Json): number {
  switch (typeof value) {
    case 'string':
      return utf8Bytes(value);
    case 'number':
      return numberBytes(value);
    case 'boolean':
      return 1;
    default: {
      if (value === null) return 1;
      let size = 3;
      if (Array.isArray(value)) {
        for (const el of value) size += 1 + jsonBytes(el);
      } else {
        for (const [k, v] of Object.entries(value)) size += 1 + utf8Bytes(k) + jsonBytes(v);
      }
      return size;
    }
  }
}

/**
 * The size of an item in our physical layout, as DynamoDB counts it (version and token at
 * their largest).
 *
 * @example
 * itemBytes({ pk: 'topics', sk: 'orders' }, { id: 'abc' }); // 54
 */
export function itemBytes(key: ItemKey, data: ItemData, ttl?: number): number {
  let size = 2 + utf8Bytes(key.pk) + 2 + utf8Bytes(key.sk);
  size += 1 + VERSION_BYTES;
  size += 1 + jsonBytes(data);
  if (ttl !== undefined) size += 3 + numberBytes(ttl);
  size += 3 + TOKEN_CHARS;
  return size;
}

/** Throws unless `key` has non-empty string parts within {@link META_LIMITS}.keyBytes. */
export function checkKey(key: ItemKey): void {
  if (key === null || typeof key !== 'object') throw new InvalidRequestError('key must be an object', 'key');
  for (const part of ['pk', 'sk'] as const) {
    const value = key[part];
    if (typeof value !== 'string' || value.length === 0) {
      throw new InvalidRequestError(`key.${part} must be a non-empty string`, `key.${part}`);
    }
    const bytes = utf8Bytes(value);
    if (bytes > META_LIMITS.keyBytes) throw new ItemTooLargeError(key, bytes);
  }
}

function checkNumber(n: number, field: string): void {
  if (!Number.isFinite(n)) throw new InvalidRequestError(`${field} must be a finite number`, field);
  const m = Math.abs(n);
  if (m !== 0 && (m >= MAX_MAGNITUDE || m < MIN_MAGNITUDE)) {
    throw new InvalidRequestError(`${field} is outside DynamoDB's number range`, field);
  }
}

/** Throws {@link InvalidRequestError} unless `value` is JSON that DynamoDB can hold exactly. */
export function checkJson(value: unknown, field: string, depth = 0): void {
  // DynamoDB nests documents at most 32 levels deep.
  if (depth > 32) throw new InvalidRequestError(`${field} is nested deeper than 32 levels`, field);
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return;
    case 'number':
      checkNumber(value, field);
      return;
    case 'object': {
      if (value === null) return;
      if (Array.isArray(value)) {
        value.forEach((el, i) => {
          checkJson(el, `${field}[${i}]`, depth + 1);
        });
        return;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto !== Object.prototype && proto !== null) {
        throw new InvalidRequestError(`${field} must be a plain JSON object`, field);
      }
      for (const [k, v] of Object.entries(value)) {
        if (k.length === 0) throw new InvalidRequestError(`${field} has an empty field name`, field);
        checkJson(v, `${field}.${k}`, depth + 1);
      }
      return;
    }
    default:
      throw new InvalidRequestError(`${field} is not JSON (${typeof value})`, field);
  }
}

function checkData(data: unknown, field: string): asserts data is ItemData {
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new InvalidRequestError(`${field} must be an object`, field);
  }
  checkJson(data, field);
}

function checkTtl(ttl: unknown, field: string): void {
  if (ttl === undefined) return;
  if (typeof ttl !== 'number' || !Number.isSafeInteger(ttl) || ttl < 0) {
    throw new InvalidRequestError(`${field} must be a non-negative integer (seconds)`, field);
  }
}

function checkCondition(condition: Condition | undefined, field: string): void {
  if (condition === undefined) return;
  if ('absent' in condition && condition.absent === true) return;
  if ('version' in condition && Number.isSafeInteger(condition.version) && condition.version >= 1) return;
  throw new InvalidRequestError(`${field} must be { absent: true } or { version: n >= 1 }`, field);
}

/** The key-only size of an op (what a delete or check costs). */
function keyOnlyBytes(key: ItemKey): number {
  return itemBytes(key, {});
}

/**
 * Validates one op and returns its size: a put's whole item; an update's key plus the
 * fields it sets or adds (the final size is checked again after merging, see
 * {@link checkItemSize}); a delete's or check's key.
 */
export function checkOp(op: TransactOp, field = 'op'): number {
  if (op === null || typeof op !== 'object')
    throw new InvalidRequestError(`${field} must be an object`, field);
  checkKey(op.key);
  switch (op.type) {
    case 'put': {
      checkData(op.data, `${field}.data`);
      checkTtl(op.ttl, `${field}.ttl`);
      checkCondition(op.condition, `${field}.condition`);
      return checkItemSize(op.key, op.data, op.ttl);
    }
    case 'update': {
      const set = op.set ?? {};
      const add = op.add ?? {};
      checkData(set, `${field}.set`);
      if (add === null || typeof add !== 'object')
        throw new InvalidRequestError('add must be an object', field);
      for (const [k, n] of Object.entries(add)) {
        if (k.length === 0) throw new InvalidRequestError(`${field}.add has an empty field name`, field);
        if (typeof n !== 'number') throw new InvalidRequestError(`${field}.add.${k} must be a number`, field);
        checkNumber(n, `${field}.add.${k}`);
        if (Object.hasOwn(set, k)) {
          throw new InvalidRequestError(`${field} both sets and adds field '${k}'`, `${field}.add.${k}`);
        }
      }
      checkCondition(op.condition, `${field}.condition`);
      return checkItemSize(op.key, { ...set, ...add });
    }
    case 'delete':
      checkCondition(op.condition, `${field}.condition`);
      return keyOnlyBytes(op.key);
    case 'check':
      if (op.condition === undefined) throw new InvalidRequestError(`${field}.condition is required`, field);
      checkCondition(op.condition, `${field}.condition`);
      return keyOnlyBytes(op.key);
    default:
      throw new InvalidRequestError(`${field}.type must be put, update, delete or check`, `${field}.type`);
  }
}

/** Throws {@link ItemTooLargeError} when the item would exceed {@link META_LIMITS}.itemBytes. */
export function checkItemSize(key: ItemKey, data: ItemData, ttl?: number): number {
  const bytes = itemBytes(key, data, ttl);
  if (bytes > META_LIMITS.itemBytes) throw new ItemTooLargeError(key, bytes);
  return bytes;
}

/**
 * Validates a whole transaction before anything is written: op shapes, keys, JSON data,
 * one op per key, item sizes ({@link ItemTooLargeError}), op count and total size
 * ({@link TransactionTooLargeError}). Returns the total size in bytes.
 *
 * @example
 * checkTransaction([{ type: 'check', key: { pk: 'a', sk: 'b' }, condition: { absent: true } }]);
 */
export function checkTransaction(ops: readonly TransactOp[]): number {
  if (!Array.isArray(ops)) throw new InvalidRequestError('ops must be an array', 'ops');
  const seen = new Set<string>();
  let total = 0;
  ops.forEach((op, i) => {
    total += checkOp(op, `ops[${i}]`);
    const id = keyId(op.key);
    if (seen.has(id)) {
      throw new InvalidRequestError(
        `ops[${i}] targets ${op.key.pk}/${op.key.sk} a second time`,
        `ops[${i}].key`,
      );
    }
    seen.add(id);
  });
  if (ops.length > META_LIMITS.opsPerTransaction || total > META_LIMITS.transactionBytes) {
    throw new TransactionTooLargeError(ops.length, total);
  }
  return total;
}

/** An unambiguous string id of a key (pk and sk may contain any character). */
export function keyId(key: ItemKey): string {
  return `${key.pk.length}:${key.pk}${key.sk}`;
}
