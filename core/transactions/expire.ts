/**
 * Aborting abandoned transactions (DESIGN.md "Transactions", timeouts): a sweep of the
 * transaction catalog that ends every transaction open past its deadline, fencing its
 * producer (epoch + 1), as Kafka's coordinator does. Maintenance runs it every pass; its
 * staged objects are then unreferenced and orphan GC deletes them.
 *
 * Cost: one query per 100 transactional ids, one batchGet per page, one conditional write
 * per expired transaction.
 */
import type { Clock } from '../clock.js';
import { SluiceError } from '../errors.js';
import { keys } from '../keys.js';
import { ConflictError, type MetaStore } from '../ports.js';
import { finishCommit } from './large-commit.js';
import { afterTimeout, decodeState, encodeState, isExpired } from './state.js';

const PAGE = 100;
const MAX_ATTEMPTS = 10;

/**
 * Aborts every expired transaction; returns how many it aborted. A transaction that moves
 * meanwhile (its producer committed, aborted or re-initialised) is left alone.
 *
 * @example
 * const aborted = await abortExpiredTransactions({ meta, clock });
 */
export async function abortExpiredTransactions(deps: { meta: MetaStore; clock: Clock }): Promise<number> {
  const { meta, clock } = deps;
  let aborted = 0;
  let after: string | undefined;
  do {
    const page = await meta.query(keys.transactionCatalogPk, undefined, { limit: PAGE, after });
    after = page.next;
    const items = await meta.batchGet(page.items.map((i) => keys.transaction(i.sk)));
    for (const [i, first] of items.entries()) {
      const key = keys.transaction(page.items[i]!.sk);
      let item = first;
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const state = decodeState(item?.data);
        // Past its commit point it is committed: rolled forward, never aborted.
        if (state?.committing) {
          await finishCommit(deps, page.items[i]!.sk);
          break;
        }
        if (!item || !state || !isExpired(state, clock.now())) break;
        try {
          await meta.transact([
            {
              type: 'put',
              key,
              data: encodeState(afterTimeout(state)),
              condition: { version: item.version },
            },
          ]);
          aborted++;
          break;
        } catch (err) {
          // A lost race (its producer moved it) or a cancelled transaction (DynamoDB's
          // TransactionConflict, nothing applied): read it again and decide again.
          if (!(err instanceof ConflictError || (err instanceof SluiceError && err.retriable))) throw err;
          item = await meta.get(key);
        }
      }
    }
  } while (after);
  return aborted;
}
