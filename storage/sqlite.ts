/**
 * The MetaStore in one SQLite file, for `sluice dev`. Several processes may share the
 * file (the dev server and `sluice maintenance run`): WAL mode lets readers run beside a
 * writer, `busy_timeout` makes a writer wait for the lock instead of failing, and every
 * `transact` is a `BEGIN IMMEDIATE` transaction that reads the current items, checks the
 * conditions and writes — atomic across processes.
 *
 * Keys sort by SQLite's BINARY collation, i.e. by UTF-8 bytes, like DynamoDB.
 */
import Database from 'better-sqlite3';
import { UnavailableError } from '../core/errors.js';
import type {
  Item,
  ItemKey,
  MetaStore,
  QueryOptions,
  QueryPage,
  SortKeyRange,
  TransactOp,
} from '../core/ports.js';
import { checkKey, checkTransaction, itemBytes } from './limits.js';
import { planTransaction } from './plan.js';
import { encodeCursor, inRange, parseQuery, QUERY_PAGE_BYTES } from './query.js';

interface Row {
  pk: string;
  sk: string;
  v: number;
  d: string;
  ttl: number | null;
}

function toItem(row: Row): Item {
  const item: Item = { pk: row.pk, sk: row.sk, version: row.v, data: JSON.parse(row.d) };
  if (row.ttl !== null) item.ttl = row.ttl;
  return item;
}

export interface SqliteMetaStoreOptions {
  /** How long a writer waits for another process's lock, in ms. @default 5000 */
  busyTimeoutMs?: number;
}

function mapBusy(error: unknown): unknown {
  const code = (error as { code?: string } | null)?.code ?? '';
  if (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED')) {
    return new UnavailableError('the SQLite database stayed locked by another process', { cause: error });
  }
  return error;
}

/**
 * A MetaStore in a SQLite file (created if missing).
 *
 * @example
 * const meta = new SqliteMetaStore('./.sluice/meta.sqlite');
 * await meta.get({ pk: 'topics', sk: 'orders' });
 * meta.close();
 */
export class SqliteMetaStore implements MetaStore {
  private readonly db: Database.Database;
  private readonly stmts: {
    get: Database.Statement<[string, string], Row>;
    put: Database.Statement<[string, string, number, string, number | null]>;
    del: Database.Statement<[string, string]>;
  };
  private readonly run: (ops: readonly TransactOp[]) => void;

  constructor(
    readonly file: string,
    options: SqliteMetaStoreOptions = {},
  ) {
    this.db = new Database(file);
    this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    this.db.pragma('journal_mode = WAL');
    // WAL + NORMAL survives a crash of any process; only a power loss may drop the last commits.
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS items (
      pk TEXT NOT NULL, sk TEXT NOT NULL, v INTEGER NOT NULL, d TEXT NOT NULL, ttl INTEGER,
      PRIMARY KEY (pk, sk)) WITHOUT ROWID`);
    this.stmts = {
      get: this.db.prepare('SELECT pk, sk, v, d, ttl FROM items WHERE pk = ? AND sk = ?'),
      put: this.db.prepare('INSERT OR REPLACE INTO items (pk, sk, v, d, ttl) VALUES (?, ?, ?, ?, ?)'),
      del: this.db.prepare('DELETE FROM items WHERE pk = ? AND sk = ?'),
    };
    const apply = this.db.transaction((ops: readonly TransactOp[]) => {
      const current = ops.map((op) => this.read(op.key));
      for (const { key, item } of planTransaction(ops, current)) {
        if (item)
          this.stmts.put.run(key.pk, key.sk, item.version, JSON.stringify(item.data), item.ttl ?? null);
        else this.stmts.del.run(key.pk, key.sk);
      }
    });
    this.run = (ops) => apply.immediate(ops);
  }

  private read(key: ItemKey): Item | undefined {
    const row = this.stmts.get.get(key.pk, key.sk);
    return row && toItem(row);
  }

  async get(key: ItemKey): Promise<Item | undefined> {
    checkKey(key);
    try {
      return this.read(key);
    } catch (error) {
      throw mapBusy(error);
    }
  }

  async batchGet(keys: readonly ItemKey[]): Promise<(Item | undefined)[]> {
    for (const key of keys) checkKey(key);
    try {
      // One read transaction: a consistent snapshot of all keys.
      return this.db.transaction(() => keys.map((key) => this.read(key)))();
    } catch (error) {
      throw mapBusy(error);
    }
  }

  async query(pk: string, range?: SortKeyRange, options?: QueryOptions): Promise<QueryPage> {
    const q = parseQuery(pk, range, options);
    const where = ['pk = ?'];
    const params: string[] = [pk];
    const bound = (op: string, value: string | undefined) => {
      if (value === undefined) return;
      where.push(`sk ${op} ?`);
      params.push(value);
    };
    bound('>=', q.range?.gte);
    bound('>', q.range?.gt);
    bound('<=', q.range?.lte);
    bound('<', q.range?.lt);
    bound('>=', q.range?.beginsWith);
    bound(q.desc ? '<' : '>', q.afterSk);
    const sql = `SELECT pk, sk, v, d, ttl FROM items WHERE ${where.join(' AND ')} ORDER BY sk ${q.desc ? 'DESC' : 'ASC'}`;
    const items: Item[] = [];
    let bytes = 0;
    let more = false;
    try {
      for (const row of this.db.prepare<string[], Row>(sql).iterate(...params)) {
        if (q.range?.beginsWith !== undefined && !row.sk.startsWith(q.range.beginsWith)) {
          // Past the prefix in ascending order: nothing further can match.
          if (!q.desc) break;
          continue;
        }
        const item = toItem(row);
        if (!inRange(item.sk, q.range)) continue;
        if ((q.limit !== undefined && items.length >= q.limit) || bytes >= QUERY_PAGE_BYTES) {
          more = true;
          break;
        }
        items.push(item);
        bytes += itemBytes(item, item.data, item.ttl);
      }
    } catch (error) {
      throw mapBusy(error);
    }
    const page: QueryPage = { items };
    if (more) page.next = encodeCursor(items[items.length - 1]!.sk);
    return page;
  }

  async transact(ops: readonly TransactOp[]): Promise<void> {
    checkTransaction(ops);
    if (ops.length === 0) return;
    try {
      this.run(ops);
    } catch (error) {
      throw mapBusy(error);
    }
  }

  /** Closes the database file. */
  close(): void {
    this.db.close();
  }
}
