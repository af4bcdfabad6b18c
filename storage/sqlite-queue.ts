/**
 * The inbox queue of `sluice dev`: an SQLite table with SQS standard's semantics — a
 * received message is hidden for the visibility timeout and comes back unless deleted;
 * receive counts and first-receive times are kept. Several processes may share the file.
 */
import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import type { Clock } from '../core/clock.js';
import type { InboxDelivery, InboxQueue } from '../core/inbox/queue.js';

interface Row {
  id: string;
  body: string;
  sent: number;
  first: number | null;
  count: number;
  receipt: string | null;
}

export interface SqliteInboxQueueOptions {
  /** How long a received message stays hidden, ms. @default 30000 */
  visibilityTimeoutMs?: number;
  clock?: Clock;
}

/**
 * @example
 * const queue = new SqliteInboxQueue('./.sluice/inbox.sqlite');
 * await queue.send(['{"topic":"t"}']);
 * const [m] = await queue.receive(10);
 * await queue.delete([m.receipt]);
 */
export class SqliteInboxQueue implements InboxQueue {
  private readonly db: Database.Database;
  private readonly visibilityMs: number;
  private readonly now: () => number;

  constructor(file: string, options: SqliteInboxQueueOptions = {}) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(`CREATE TABLE IF NOT EXISTS inbox (
      seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, body TEXT NOT NULL,
      sent INTEGER NOT NULL, visible INTEGER NOT NULL, first INTEGER, count INTEGER NOT NULL DEFAULT 0,
      receipt TEXT)`);
    this.db.exec('CREATE INDEX IF NOT EXISTS inbox_visible ON inbox (visible)');
    this.visibilityMs = options.visibilityTimeoutMs ?? 30_000;
    const clock = options.clock;
    this.now = clock ? () => clock.now() : () => Date.now();
  }

  async send(bodies: readonly string[]): Promise<string[]> {
    const insert = this.db.prepare('INSERT INTO inbox (id, body, sent, visible) VALUES (?, ?, ?, ?)');
    const now = this.now();
    const ids = bodies.map(() => randomUUID());
    this.db.transaction(() => {
      bodies.forEach((b, i) => {
        insert.run(ids[i], b, now, now);
      });
    })();
    return ids;
  }

  async receive(max: number, waitMs = 0): Promise<InboxDelivery[]> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const got = this.take(max);
      if (got.length > 0 || Date.now() >= deadline) return got;
      await new Promise((r) => setTimeout(r, Math.min(50, Math.max(1, deadline - Date.now()))));
    }
  }

  private take(max: number): InboxDelivery[] {
    const now = this.now();
    return this.db.transaction(() => {
      const rows = this.db
        .prepare('SELECT id, body, sent, first, count FROM inbox WHERE visible <= ? ORDER BY seq LIMIT ?')
        .all(now, max) as Row[];
      const update = this.db.prepare(
        'UPDATE inbox SET visible = ?, first = COALESCE(first, ?), count = count + 1, receipt = ? WHERE id = ?',
      );
      return rows.map((row) => {
        const receipt = `${row.id}:${randomUUID()}`;
        update.run(now + this.visibilityMs, now, receipt, row.id);
        return {
          messageId: row.id,
          receipt,
          body: row.body,
          sentAt: row.sent,
          firstReceivedAt: row.first ?? now,
          receiveCount: row.count + 1,
        };
      });
    })();
  }

  async delete(receipts: readonly string[]): Promise<void> {
    const del = this.db.prepare('DELETE FROM inbox WHERE receipt = ?');
    this.db.transaction(() => {
      for (const r of receipts) del.run(r);
    })();
  }

  async release(receipts: readonly string[], delayMs: number): Promise<void> {
    const upd = this.db.prepare('UPDATE inbox SET visible = ? WHERE receipt = ?');
    const at = this.now() + delayMs;
    this.db.transaction(() => {
      for (const r of receipts) upd.run(at, r);
    })();
  }

  /** Messages in the queue (visible or not) and the age of the oldest, ms. */
  stats(): { messages: number; oldestAgeMs: number } {
    const row = this.db.prepare('SELECT COUNT(*) AS n, MIN(sent) AS oldest FROM inbox').get() as {
      n: number;
      oldest: number | null;
    };
    return { messages: row.n, oldestAgeMs: row.oldest === null ? 0 : this.now() - row.oldest };
  }

  close(): void {
    this.db.close();
  }
}
