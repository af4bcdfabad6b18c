/**
 * A subscription's `filters`: Lambda's event filtering for Kafka event source mappings
 * (`FilterCriteria.Filters[].Pattern`), applied to each record before it is delivered. A
 * record is delivered when it matches at least one filter (filters are ORed); one that
 * matches none is dropped and committed past, as Lambda drops it. No filters: every record.
 *
 * A pattern is a JSON object over the record's `value` and `key`, each decoded from UTF-8
 * and parsed as JSON when it is JSON (an object, a number, `"a string"`, …), else taken as
 * the plain string; a null value or key is `null`. Within a pattern, every named field must
 * match (AND); a field's pattern is either an object (match the fields beneath) or an array
 * of rules, any of which may match (OR):
 *
 * | rule | matches |
 * |---|---|
 * | `"text"`, `12`, `true`, `null` | equal (numbers numerically); `[""]` the empty string |
 * | `{"prefix": "AB"}` / `{"suffix": ".png"}` | a string beginning / ending so |
 * | `{"equals-ignore-case": "ok"}` | a string equal ignoring case |
 * | `{"anything-but": x}` | present and not equal to `x` — a value, a list of values, or `{"prefix"}` / `{"suffix"}` / `{"equals-ignore-case"}` |
 * | `{"numeric": ["=", 5]}`, `{"numeric": [">", 0, "<=", 5]}` | a number in range |
 * | `{"exists": true}` / `{"exists": false}` | a leaf field present / absent |
 *
 * When the field is an array, the rule matches when it matches one of its elements (and a
 * nested pattern when one element matches it). Rules other than `exists` and `anything-but`
 * never match an object. The grammar and limits are Lambda's: at most 5 filters, each pattern
 * at most 4,096 characters.
 */
import { InvalidRequestError } from '../errors.js';

/** One filter, as Lambda's `FilterCriteria.Filters[]` (and CDK's `FilterCriteria.filter()`) gives it. */
export interface SubscriptionFilter {
  /** A JSON object, e.g. `{"value": {"device_ID": [{"prefix": "AB"}]}}`. */
  pattern: string;
}

/** Lambda's default quota of filters per event source mapping. */
export const MAX_FILTERS = 5;
/** Lambda's limit on one pattern. */
export const MAX_PATTERN_LENGTH = 4096;

/** The fields of a record a pattern may name (Lambda's Kafka filtering names `value`; `key` as well here). */
const RECORD_FIELDS = new Set(['value', 'key']);

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

type Rule =
  | { kind: 'equals'; value: null | boolean | number | string }
  | { kind: 'prefix' | 'suffix' | 'equals-ignore-case'; value: string }
  | { kind: 'anything-but'; values: (string | number | boolean | null)[] }
  | { kind: 'anything-but'; test: Rule }
  | { kind: 'numeric'; bounds: { op: string; value: number }[] }
  | { kind: 'exists'; value: boolean };

type Node = { fields: Map<string, Node | Rule[]> };

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class PatternError extends Error {}

function fail(path: string, message: string): never {
  throw new PatternError(`${path}: ${message}`);
}

function scalar(v: unknown): v is string | number | boolean | null {
  return (
    v === null ||
    typeof v === 'string' ||
    typeof v === 'boolean' ||
    (typeof v === 'number' && Number.isFinite(v))
  );
}

function parseNumeric(raw: unknown, path: string): Rule {
  if (!Array.isArray(raw) || (raw.length !== 2 && raw.length !== 4))
    fail(path, 'numeric takes [op, number] or [">"|">=", number, "<"|"<=", number]');
  const bounds: { op: string; value: number }[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const op = raw[i];
    const value = raw[i + 1];
    if (typeof value !== 'number' || !Number.isFinite(value)) fail(path, 'numeric bounds must be numbers');
    if (!['=', '<', '<=', '>', '>='].includes(op as string))
      fail(path, `unknown numeric operator ${JSON.stringify(op)}`);
    bounds.push({ op: op as string, value });
  }
  if (bounds.length === 2) {
    const [low, high] = bounds as [{ op: string; value: number }, { op: string; value: number }];
    if (!['>', '>='].includes(low.op) || !['<', '<='].includes(high.op) || low.value > high.value)
      fail(path, 'a numeric range is [">"|">=", low, "<"|"<=", high] with low ≤ high');
  }
  return { kind: 'numeric', bounds };
}

function parseRule(raw: unknown, path: string): Rule {
  if (scalar(raw)) return { kind: 'equals', value: raw };
  if (!isObject(raw)) fail(path, 'a rule is a string, number, boolean, null or an object with one operator');
  const names = Object.keys(raw);
  if (names.length !== 1) fail(path, 'a rule object has exactly one operator');
  const op = names[0]!;
  const arg = raw[op];
  switch (op) {
    case 'prefix':
    case 'suffix':
    case 'equals-ignore-case':
      if (typeof arg !== 'string') fail(path, `${op} takes a string`);
      return { kind: op, value: arg };
    case 'numeric':
      return parseNumeric(arg, path);
    case 'exists':
      if (typeof arg !== 'boolean') fail(path, 'exists takes true or false');
      return { kind: 'exists', value: arg };
    case 'anything-but': {
      if (scalar(arg)) return { kind: 'anything-but', values: [arg] };
      if (Array.isArray(arg)) {
        if (arg.length === 0 || !arg.every(scalar))
          fail(path, 'anything-but takes a non-empty list of values');
        return { kind: 'anything-but', values: arg };
      }
      if (isObject(arg)) {
        const inner = parseRule(arg, path);
        if (inner.kind !== 'prefix' && inner.kind !== 'suffix' && inner.kind !== 'equals-ignore-case')
          fail(path, 'anything-but takes a value, a list, or {prefix}, {suffix} or {equals-ignore-case}');
        return { kind: 'anything-but', test: inner };
      }
      return fail(path, 'anything-but takes a value, a list, or {prefix}, {suffix} or {equals-ignore-case}');
    }
    default:
      return fail(path, `unknown operator ${JSON.stringify(op)}`);
  }
}

function parseNode(raw: Record<string, unknown>, path: string, top: boolean): Node {
  const fields = new Map<string, Node | Rule[]>();
  const names = Object.keys(raw);
  if (names.length === 0) fail(path, 'an empty pattern object');
  for (const name of names) {
    const at = top ? name : `${path}.${name}`;
    if (top && !RECORD_FIELDS.has(name)) fail(at, 'a pattern may name only value and key');
    const v = raw[name];
    if (isObject(v)) fields.set(name, parseNode(v, at, false));
    else if (Array.isArray(v)) {
      if (v.length === 0) fail(at, 'an empty list of rules matches nothing');
      fields.set(
        name,
        v.map((r) => parseRule(r, at)),
      );
    } else fail(at, 'a field takes a list of rules or a nested pattern object');
  }
  return { fields };
}

/** Parses one pattern; throws PatternError naming where it is wrong. */
function parsePattern(pattern: string, recordFields = true): Node {
  let raw: unknown;
  try {
    raw = JSON.parse(pattern);
  } catch {
    fail('pattern', 'not JSON');
  }
  if (!isObject(raw)) fail('pattern', 'not a JSON object');
  return parseNode(raw, 'pattern', recordFields);
}

/**
 * The same grammar over any JSON event, with no restriction on the top-level fields: what an
 * event source mapping's `FilterCriteria` pattern does to its events (for example the
 * DynamoDB stream records that feed the subscriptions trigger).
 * @throws {@link InvalidRequestError} for a bad pattern.
 */
export function eventPatternMatcher(pattern: string): (event: unknown) => boolean {
  let node: Node;
  try {
    node = parsePattern(pattern, false);
  } catch (error) {
    if (!(error instanceof PatternError)) throw error;
    throw new InvalidRequestError(error.message, 'pattern');
  }
  return (event) => nodeMatches(node, JSON.parse(JSON.stringify(event ?? null)) as Json);
}

/**
 * Checks `filters` (the `filters` field of a subscription): an array of at most
 * {@link MAX_FILTERS} `{ pattern }` whose patterns parse.
 * @throws {@link InvalidRequestError} naming the filter and the bad part of its pattern.
 */
export function validateFilters(raw: unknown): SubscriptionFilter[] {
  if (!Array.isArray(raw))
    throw new InvalidRequestError('filters must be an array of { pattern }', 'filters');
  if (raw.length > MAX_FILTERS)
    throw new InvalidRequestError(`filters: at most ${MAX_FILTERS} filters, got ${raw.length}`, 'filters');
  return raw.map((f, i) => {
    const where = `filters[${i}]`;
    if (!isObject(f) || Object.keys(f).some((k) => k !== 'pattern'))
      throw new InvalidRequestError(`${where} must be { "pattern": "<JSON>" }`, 'filters');
    const { pattern } = f;
    if (typeof pattern !== 'string' || pattern.length > MAX_PATTERN_LENGTH)
      throw new InvalidRequestError(
        `${where}.pattern must be a string of at most ${MAX_PATTERN_LENGTH} characters`,
        'filters',
      );
    try {
      parsePattern(pattern);
    } catch (error) {
      if (!(error instanceof PatternError)) throw error;
      throw new InvalidRequestError(`${where}.${error.message} in ${pattern.slice(0, 200)}`, 'filters');
    }
    return { pattern };
  });
}

function equal(a: unknown, b: null | boolean | number | string): boolean {
  return a === b;
}

function leafMatches(rule: Rule, v: Json): boolean {
  switch (rule.kind) {
    case 'equals':
      return equal(v, rule.value);
    case 'prefix':
      return typeof v === 'string' && v.startsWith(rule.value);
    case 'suffix':
      return typeof v === 'string' && v.endsWith(rule.value);
    case 'equals-ignore-case':
      return typeof v === 'string' && v.toLowerCase() === rule.value.toLowerCase();
    case 'numeric':
      return (
        typeof v === 'number' &&
        rule.bounds.every(({ op, value }) =>
          op === '='
            ? v === value
            : op === '<'
              ? v < value
              : op === '<='
                ? v <= value
                : op === '>'
                  ? v > value
                  : v >= value,
        )
      );
    case 'anything-but':
      if (isObject(v)) return false;
      return 'values' in rule ? !rule.values.some((x) => equal(v, x)) : !leafMatches(rule.test, v);
    case 'exists':
      return true;
  }
}

function rulesMatch(rules: Rule[], present: boolean, v: Json | undefined): boolean {
  return rules.some((rule) => {
    if (rule.kind === 'exists') return rule.value ? present && !isObject(v) : !present;
    if (!present) return false;
    if (Array.isArray(v)) return v.some((e) => !Array.isArray(e) && leafMatches(rule, e));
    return leafMatches(rule, v as Json);
  });
}

function nodeMatches(node: Node, data: Json | undefined): boolean {
  if (Array.isArray(data)) return data.some((e) => nodeMatches(node, e));
  const obj = isObject(data) ? data : undefined;
  for (const [name, sub] of node.fields) {
    const present = obj !== undefined && Object.hasOwn(obj, name);
    const v = present ? obj[name] : undefined;
    if (Array.isArray(sub)) {
      if (!rulesMatch(sub, present, v)) return false;
    } else if (!nodeMatches(sub, v)) {
      // Beneath an absent or non-object field every field is absent: only `exists: false` holds.
      return false;
    }
  }
  return true;
}

const utf8 = new TextDecoder();

/** A record's `value` or `key` as a pattern sees it: JSON when it parses, else the string. */
export function filterView(bytes: Uint8Array | null): Json {
  if (bytes === null) return null;
  const text = utf8.decode(bytes);
  try {
    return JSON.parse(text) as Json;
  } catch {
    return text;
  }
}

/** What a record looks like to the filters. */
export interface FilterableRecord {
  key: Uint8Array | null;
  value: Uint8Array | null;
}

/**
 * Compiles validated filters into a predicate (true: deliver the record). No filters:
 * every record is delivered.
 * @throws {@link InvalidRequestError} for a bad pattern (see {@link validateFilters}).
 */
export function compileFilters(
  filters: readonly SubscriptionFilter[],
): (record: FilterableRecord) => boolean {
  if (filters.length === 0) return () => true;
  const nodes = validateFilters(filters).map((f) => parsePattern(f.pattern));
  const needsKey = nodes.some((n) => n.fields.has('key'));
  return (record) => {
    const view: { [k: string]: Json } = { value: filterView(record.value) };
    if (needsKey) view.key = filterView(record.key);
    return nodes.some((n) => nodeMatches(n, view));
  };
}
