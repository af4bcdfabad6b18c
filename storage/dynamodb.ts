/**
 * The MetaStore on DynamoDB, one table in the physical layout of `limits.ts`.
 *
 * - Every read is strongly consistent (GetItem, BatchGetItem, Query with ConsistentRead).
 * - A single op is a plain conditional UpdateItem/DeleteItem (cheaper than a transaction;
 *   a lone `check` is a consistent read); several ops are one TransactWriteItems.
 * - A `put` is an UpdateItem too, so the version is computed by DynamoDB
 *   (`v = if_not_exists(v, 0) + 1`) even for unconditional puts.
 * - Failed conditions come back with the item (`ReturnValuesOnConditionCheckFailure:
 *   ALL_OLD`) and become a {@link ConflictError} carrying it; when the service returns no
 *   item (the item is absent, or an emulator lacks ALL_OLD) the failed keys are read
 *   again, strongly, so the error still carries the current state.
 *
 * SDK retries: the SDK may resend a request whose first attempt succeeded but whose
 * answer was lost. For TransactWriteItems DynamoDB makes that harmless: `ClientRequestToken`
 * is modelled as an idempotency token (trait `idempotencyToken`, `[0, 4]` in
 * @aws-sdk/client-dynamodb's schemas) and filled with a fresh UUID by the serializer
 * (`generateIdempotencyToken` in @smithy/core's JSON serializer) once per call, before
 * the retry middleware — so every retry carries the same token (tested in aws.test.ts).
 * Single conditional writes have no such token: a retry of a write that succeeded fails
 * its own condition. So every put/update stamps a random `tok` on its item, and a
 * condition failure on an item carrying our token is reported as the success it was. The
 * same check covers transactions where the token is not honoured (moto ignores it, and
 * DynamoDB forgets it after 10 minutes): one failed op whose item carries our token
 * proves the whole transaction was applied. A replayed delete leaves no token behind and
 * still reports its conflict.
 */
import { randomBytes } from 'node:crypto';
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  type BatchGetCommandOutput,
  DeleteCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  type QueryCommandOutput,
  TransactWriteCommand,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { InvalidRequestError, ThrottledError } from '../core/errors.js';
import {
  ConflictError,
  type Item,
  type ItemData,
  type ItemKey,
  ItemTooLargeError,
  type MetaStore,
  type QueryOptions,
  type QueryPage,
  type SortKeyRange,
  type TransactOp,
} from '../core/ports.js';
import { errorName, mapAwsError, transactionCancelled } from './aws-errors.js';
import { ATTR, checkKey, checkTransaction, itemBytes, keyId } from './limits.js';
import { mergeUpdate } from './plan.js';
import { compareUtf8, encodeCursor, inRange, parseQuery } from './query.js';

const BATCH_GET_CHUNK = 100;
const UNPROCESSED_RETRIES = 8;

/** Numbers come back as JS numbers, whatever their size (they were JS numbers going in). */
const wrapNumbers = (n: string) => Number(n);

export interface DynamoMetaStoreOptions {
  table: string;
  /** A ready client; when absent one is made from `region`/`endpoint`/`credentials`. */
  client?: DynamoDBClient;
  region?: string;
  /** An emulator's URL (moto, LocalStack). */
  endpoint?: string;
  credentials?: DynamoDBClientConfig['credentials'];
}

/** Builds a DynamoDB client for `region`, or for an emulator at `endpoint`. */
export function makeDynamoClient(options: Omit<DynamoMetaStoreOptions, 'table' | 'client'>): DynamoDBClient {
  const config: DynamoDBClientConfig = { region: options.region ?? process.env.AWS_REGION ?? 'us-east-1' };
  if (options.endpoint) config.endpoint = options.endpoint;
  if (options.credentials) config.credentials = options.credentials;
  return new DynamoDBClient(config);
}

type Raw = Record<string, unknown>;

function toItem(raw: Raw): Item {
  const item: Item = {
    pk: raw[ATTR.pk] as string,
    sk: raw[ATTR.sk] as string,
    version: raw[ATTR.version] as number,
    data: (raw[ATTR.data] ?? {}) as ItemData,
  };
  if (typeof raw[ATTR.ttl] === 'number') item.ttl = raw[ATTR.ttl] as number;
  return item;
}

/** An item returned inside an error is in the wire format (AttributeValues). */
function fromWire(raw: Record<string, unknown> | undefined): Raw | undefined {
  if (!raw) return undefined;
  // biome-ignore lint/suspicious/noExplicitAny: AttributeValue maps from the error body
  return unmarshall(raw as any, { wrapNumbers }) as Raw;
}

/** Collects the names and values of one expression, naming them only when used. */
class Expr {
  readonly names: Record<string, string> = {};
  readonly values: Record<string, unknown> = {};
  private n = 0;

  name(attr: string): string {
    const existing = Object.entries(this.names).find(([, v]) => v === attr);
    if (existing) return existing[0];
    const placeholder = `#n${this.n++}`;
    this.names[placeholder] = attr;
    return placeholder;
  }

  value(v: unknown): string {
    const placeholder = `:v${this.n++}`;
    this.values[placeholder] = v;
    return placeholder;
  }

  params(): {
    ExpressionAttributeNames?: Record<string, string>;
    ExpressionAttributeValues?: Record<string, unknown>;
  } {
    const out: ReturnType<Expr['params']> = {};
    if (Object.keys(this.names).length > 0) out.ExpressionAttributeNames = this.names;
    if (Object.keys(this.values).length > 0) out.ExpressionAttributeValues = this.values;
    return out;
  }
}

function conditionOf(op: TransactOp, e: Expr): string | undefined {
  const parts: string[] = [];
  if (op.type === 'update') parts.push(`attribute_exists(${e.name(ATTR.pk)})`);
  const c = op.condition;
  if (c && 'absent' in c) parts.push(`attribute_not_exists(${e.name(ATTR.pk)})`);
  else if (c) parts.push(`${e.name(ATTR.version)} = ${e.value(c.version)}`);
  return parts.length > 0 ? parts.join(' AND ') : undefined;
}

/** The request of one op, in TransactWriteItems' shape (also the input of a single write). */
interface WriteRequest {
  kind: 'Put' | 'Update' | 'Delete' | 'ConditionCheck';
  input: {
    Key?: ItemKey;
    Item?: Record<string, unknown>;
    UpdateExpression?: string;
    ConditionExpression?: string;
    ExpressionAttributeNames?: Record<string, string>;
    ExpressionAttributeValues?: Record<string, unknown>;
  };
  token: string | undefined;
}

/**
 * A conditional put knows the version it writes (1, or the expected version + 1) and is a
 * PutItem. An unconditional put does not, so it is an UpdateItem that lets DynamoDB add 1
 * to whatever version is stored.
 */
function buildRequest(op: TransactOp): WriteRequest {
  const e = new Expr();
  const Key = { pk: op.key.pk, sk: op.key.sk };
  const condition = conditionOf(op, e);
  const token = op.type === 'put' || op.type === 'update' ? randomBytes(16).toString('base64url') : undefined;
  let kind: WriteRequest['kind'];
  let update: string | undefined;
  let item: Record<string, unknown> | undefined;
  if (op.type === 'put' && op.condition) {
    kind = 'Put';
    const version = 'absent' in op.condition ? 1 : op.condition.version + 1;
    item = {
      [ATTR.pk]: Key.pk,
      [ATTR.sk]: Key.sk,
      [ATTR.version]: version,
      [ATTR.data]: op.data,
      [ATTR.token]: token,
    };
    if (op.ttl !== undefined) item[ATTR.ttl] = op.ttl;
  } else if (op.type === 'put' || op.type === 'update') {
    kind = 'Update';
    const v = e.name(ATTR.version);
    const sets: string[] = [];
    if (op.type === 'put') {
      sets.push(`${e.name(ATTR.data)} = ${e.value(op.data)}`);
      sets.push(`${v} = if_not_exists(${v}, ${e.value(0)}) + ${e.value(1)}`);
      if (op.ttl !== undefined) sets.push(`${e.name(ATTR.ttl)} = ${e.value(op.ttl)}`);
    } else {
      const d = Object.keys({ ...op.set, ...op.add }).length > 0 ? e.name(ATTR.data) : '';
      for (const [field, value] of Object.entries(op.set ?? {})) {
        sets.push(`${d}.${e.name(field)} = ${e.value(value)}`);
      }
      for (const [field, n] of Object.entries(op.add ?? {})) {
        const path = `${d}.${e.name(field)}`;
        sets.push(`${path} = if_not_exists(${path}, ${e.value(0)}) + ${e.value(n)}`);
      }
      sets.push(`${v} = ${v} + ${e.value(1)}`);
    }
    sets.push(`${e.name(ATTR.token)} = ${e.value(token)}`);
    update = `SET ${sets.join(', ')}`;
    if (op.type === 'put' && op.ttl === undefined) update += ` REMOVE ${e.name(ATTR.ttl)}`;
  } else {
    kind = op.type === 'delete' ? 'Delete' : 'ConditionCheck';
  }
  const input: WriteRequest['input'] = { ...e.params() };
  if (item) input.Item = item;
  else input.Key = Key;
  if (update) input.UpdateExpression = update;
  if (condition) input.ConditionExpression = condition;
  return { kind, input, token };
}

function conditionHolds(condition: TransactOp['condition'], current: Item | undefined): boolean {
  if (!condition) return true;
  if ('absent' in condition) return current === undefined;
  return current?.version === condition.version;
}

/**
 * The sort-key condition DynamoDB evaluates (it takes one); the other bounds of `range` are
 * filtered here. DynamoDB refuses empty strings in key conditions: an empty lower bound
 * or prefix is no bound at all (sort keys are never empty), and an empty upper bound
 * matches nothing. `null` means the range is empty.
 */
function keyCondition(pk: string, range: SortKeyRange | undefined, e: Expr): string | null {
  const parts = [`${e.name(ATTR.pk)} = ${e.value(pk)}`];
  const given = (v: string | undefined) => (v === '' ? undefined : v);
  if (range?.lte === '' || range?.lt === '') return null;
  const gte = given(range?.gte);
  const gt = given(range?.gt);
  const prefix = given(range?.beginsWith);
  const low = gte ?? gt;
  const high = range?.lte ?? range?.lt;
  const sk = () => e.name(ATTR.sk);
  if (prefix !== undefined) {
    parts.push(`begins_with(${sk()}, ${e.value(prefix)})`);
  } else if (low !== undefined && high !== undefined) {
    // BETWEEN refuses low > high; such a range is simply empty.
    if (compareUtf8(low, high) > 0) return null;
    parts.push(`${sk()} BETWEEN ${e.value(low)} AND ${e.value(high)}`);
  } else if (gte !== undefined) parts.push(`${sk()} >= ${e.value(gte)}`);
  else if (gt !== undefined) parts.push(`${sk()} > ${e.value(gt)}`);
  else if (range?.lte !== undefined) parts.push(`${sk()} <= ${e.value(range.lte)}`);
  else if (range?.lt !== undefined) parts.push(`${sk()} < ${e.value(range.lt)}`);
  return parts.join(' AND ');
}

function isSizeError(message: string): boolean {
  return /item size/i.test(message);
}

function isOperandError(message: string): boolean {
  return /incorrect (data|operand) type|operand type/i.test(message);
}

/**
 * A MetaStore over one DynamoDB table with string keys `pk`/`sk`.
 *
 * @example
 * const meta = new DynamoMetaStore({ table: 'sluice' });
 * await meta.transact([{ type: 'update', key: keys.head('t1', 0), add: { next: 10 }, condition: { version: 7 } }]);
 */
export class DynamoMetaStore implements MetaStore {
  readonly client: DynamoDBClient;
  readonly table: string;
  private readonly doc: DynamoDBDocumentClient;

  constructor(options: DynamoMetaStoreOptions) {
    this.table = options.table;
    this.client = options.client ?? makeDynamoClient(options);
    this.doc = DynamoDBDocumentClient.from(this.client, {
      marshallOptions: { allowImpreciseNumbers: true },
      // A fresh object: the document client writes its own defaults into it.
      unmarshallOptions: { wrapNumbers },
    });
  }

  async get(key: ItemKey): Promise<Item | undefined> {
    checkKey(key);
    const raw = await this.readRaw(key);
    return raw && toItem(raw);
  }

  async batchGet(keys: readonly ItemKey[]): Promise<(Item | undefined)[]> {
    for (const key of keys) checkKey(key);
    const unique = new Map<string, ItemKey>();
    for (const key of keys) unique.set(keyId(key), { pk: key.pk, sk: key.sk });
    const found = new Map<string, Item>();
    const all = [...unique.values()];
    for (let i = 0; i < all.length; i += BATCH_GET_CHUNK) {
      let pending: Record<string, unknown>[] = all.slice(i, i + BATCH_GET_CHUNK).map((k) => ({ ...k }));
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > UNPROCESSED_RETRIES) {
          throw new ThrottledError(
            `BatchGetItem left ${pending.length} keys unprocessed after ${attempt} tries`,
          );
        }
        if (attempt > 0) await new Promise((r) => setTimeout(r, Math.random() * 20 * 2 ** attempt));
        let res: BatchGetCommandOutput;
        try {
          res = await this.doc.send(
            new BatchGetCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } } }),
          );
        } catch (error) {
          throw mapAwsError(error, 'BatchGetItem', `table ${this.table}`);
        }
        for (const raw of res.Responses?.[this.table] ?? []) {
          const item = toItem(raw);
          found.set(keyId(item), item);
        }
        pending = res.UnprocessedKeys?.[this.table]?.Keys ?? [];
      }
    }
    return keys.map((key) => {
      const item = found.get(keyId(key));
      return item && structuredClone(item);
    });
  }

  async query(pk: string, range?: SortKeyRange, options?: QueryOptions): Promise<QueryPage> {
    const q = parseQuery(pk, range, options);
    const e = new Expr();
    const condition = keyCondition(pk, q.range, e);
    if (condition === null) return { items: [] };
    const items: Item[] = [];
    let start: Record<string, unknown> | undefined =
      q.afterSk === undefined ? undefined : { [ATTR.pk]: pk, [ATTR.sk]: q.afterSk };
    let more = false;
    // Bounds DynamoDB could not take are filtered here; keep reading until the page is full.
    do {
      const input: QueryCommandInput = {
        TableName: this.table,
        KeyConditionExpression: condition,
        ConsistentRead: true,
        ScanIndexForward: !q.desc,
        ...e.params(),
      };
      if (q.limit !== undefined) input.Limit = q.limit - items.length;
      if (start) input.ExclusiveStartKey = start;
      let res: QueryCommandOutput;
      try {
        res = await this.doc.send(new QueryCommand(input));
      } catch (error) {
        throw mapAwsError(error, 'Query', `table ${this.table}`);
      }
      for (const raw of res.Items ?? []) {
        const item = toItem(raw);
        if (inRange(item.sk, q.range)) items.push(item);
      }
      start = res.LastEvaluatedKey;
      more = start !== undefined;
    } while (more && q.limit !== undefined && items.length < q.limit);
    const page: QueryPage = { items };
    if (more) {
      const last = items.length > 0 ? items[items.length - 1]!.sk : (start![ATTR.sk] as string);
      page.next = encodeCursor(last);
    }
    return page;
  }

  async transact(ops: readonly TransactOp[]): Promise<void> {
    checkTransaction(ops);
    if (ops.length === 0) return;
    if (ops.length === 1) return this.single(ops[0]!);
    return this.multi(ops);
  }

  private async single(op: TransactOp): Promise<void> {
    if (op.type === 'check') {
      const current = await this.get(op.key);
      if (!conditionHolds(op.condition, current))
        throw new ConflictError([{ index: 0, key: op.key, current }]);
      return;
    }
    const req = buildRequest(op);
    try {
      const common = { TableName: this.table, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const };
      if (req.kind === 'Delete')
        await this.doc.send(new DeleteCommand({ ...common, ...req.input, Key: req.input.Key! }));
      else if (req.kind === 'Put')
        await this.doc.send(new PutCommand({ ...common, ...req.input, Item: req.input.Item! }));
      else {
        await this.doc.send(
          new UpdateCommand({
            ...common,
            ...req.input,
            Key: req.input.Key!,
            UpdateExpression: req.input.UpdateExpression!,
          }),
        );
      }
    } catch (error) {
      if (errorName(error) === 'ConditionalCheckFailedException') {
        let raw = fromWire((error as { Item?: Record<string, unknown> }).Item);
        // No ALL_OLD item: the item is absent, or an emulator does not return it. Read it.
        raw ??= await this.readRaw(op.key);
        if (req.token !== undefined && raw?.[ATTR.token] === req.token) return;
        throw new ConflictError(
          [{ index: 0, key: { pk: op.key.pk, sk: op.key.sk }, current: raw && toItem(raw) }],
          {
            cause: error,
          },
        );
      }
      throw await this.mapWriteError(error, [op], 'UpdateItem');
    }
  }

  private async readRaw(key: ItemKey): Promise<Raw | undefined> {
    try {
      const res = await this.doc.send(
        new GetCommand({ TableName: this.table, Key: { pk: key.pk, sk: key.sk }, ConsistentRead: true }),
      );
      return res.Item;
    } catch (error) {
      throw mapAwsError(error, 'GetItem', `table ${this.table}`);
    }
  }

  private async multi(ops: readonly TransactOp[]): Promise<void> {
    const requests = ops.map(buildRequest);
    const items = requests.map((req) => ({
      [req.kind]: { TableName: this.table, ReturnValuesOnConditionCheckFailure: 'ALL_OLD', ...req.input },
    }));
    try {
      // biome-ignore lint/suspicious/noExplicitAny: one union member per op kind, built above
      await this.doc.send(new TransactWriteCommand({ TransactItems: items as any }));
    } catch (error) {
      if (errorName(error) === 'TransactionCanceledException') {
        const reasons = (error as { CancellationReasons?: { Code?: string; Message?: string; Item?: Raw }[] })
          .CancellationReasons;
        if (reasons) {
          const failure = await this.cancellation(ops, requests, reasons, error);
          if (failure === null) return;
          throw failure;
        }
      }
      throw await this.mapWriteError(error, ops, 'TransactWriteItems');
    }
  }

  /**
   * The error for a cancelled transaction, or `null` when the transaction had in fact been
   * applied by an earlier attempt of this very call: a failed op whose item carries the
   * token we stamped on it proves it (transactions are all or nothing). DynamoDB makes that
   * case rare (it honours ClientRequestToken for 10 minutes); moto ignores the token.
   */
  private async cancellation(
    ops: readonly TransactOp[],
    requests: readonly WriteRequest[],
    reasons: { Code?: string; Message?: string; Item?: Raw }[],
    error: unknown,
  ): Promise<unknown> {
    const failed = reasons.flatMap((r, index) => (r.Code === 'ConditionalCheckFailed' ? [{ index, r }] : []));
    if (failed.length > 0) {
      // Without an ALL_OLD item (absent item, or an emulator without ALL_OLD) read it.
      const raws = await Promise.all(
        failed.map(async ({ index, r }) => fromWire(r.Item) ?? (await this.readRaw(ops[index]!.key))),
      );
      const ours = failed.some(({ index }, i) => {
        const token = requests[index]!.token;
        return token !== undefined && raws[i]?.[ATTR.token] === token;
      });
      if (ours) return null;
      const failures = failed.map(({ index }, i) => {
        const key = ops[index]!.key;
        const raw = raws[i];
        return { index, key: { pk: key.pk, sk: key.sk }, current: raw && toItem(raw) };
      });
      return new ConflictError(failures, { cause: error });
    }
    const validation = reasons.find((r) => r.Code === 'ValidationError');
    if (validation)
      return this.mapWriteError(
        Object.assign(new Error(validation.Message), { name: 'ValidationException' }),
        ops,
        'TransactWriteItems',
        error,
      );
    if (reasons.some((r) => r.Code === 'ThrottlingError' || r.Code === 'ProvisionedThroughputExceeded')) {
      return new ThrottledError('TransactWriteItems was throttled', { cause: error });
    }
    return transactionCancelled(
      reasons.map((r) => r.Code ?? 'None'),
      error,
    );
  }

  /** Maps a ValidationException about sizes or operand types onto our typed errors. */
  private async mapWriteError(
    error: unknown,
    ops: readonly TransactOp[],
    operation: string,
    cause: unknown = error,
  ): Promise<unknown> {
    if (errorName(error) === 'ValidationException') {
      const message = (error as Error).message ?? '';
      if (isSizeError(message)) return this.sizeError(ops, cause);
      if (isOperandError(message)) {
        return new InvalidRequestError(`an add targets a non-numeric field: ${message}`, 'add', { cause });
      }
    }
    return mapAwsError(error, operation, `table ${this.table}`);
  }

  /** Rebuilds the size of the merged items so the error names the item and its bytes. */
  private async sizeError(ops: readonly TransactOp[], cause: unknown): Promise<ItemTooLargeError> {
    const updates = ops.filter((op): op is Extract<TransactOp, { type: 'update' }> => op.type === 'update');
    const current = updates.length > 0 ? await this.batchGet(updates.map((op) => op.key)) : [];
    let worst: ItemTooLargeError | undefined;
    updates.forEach((op, i) => {
      const cur = current[i];
      if (!cur) return;
      const bytes = itemBytes(op.key, mergeUpdate(cur.data, op), cur.ttl);
      if (!worst || bytes > worst.bytes) worst = new ItemTooLargeError(op.key, bytes);
    });
    const error = worst ?? new ItemTooLargeError(ops[0]!.key, Number.NaN);
    (error as { cause?: unknown }).cause = cause;
    return error;
  }
}
