/**
 * A Jepsen-style run of the write path: several "Lambda instances" (separate contexts over
 * the same stores, each with its own caches and its own seeded faults) serve idempotent
 * producers that retry on whichever instance they reach next. Faults: lost responses (the
 * write happened, the caller saw an error), failures before a call, throttling,
 * transactions cancelled for conflicts (as DynamoDB cancels overlapping ones), cut requests
 * (the client gives up waiting while the request runs on), and instances replaced mid-run
 * (a cold instance with empty caches). Concurrency is real: requests overlap on the
 * partitions' head items.
 *
 * With `combine` on (cross-instance combining through write intents, core/intents.ts) it
 * also crashes instances: now and then an instance dies right after one of its write
 * intents is stored (before anyone commits it), or right after a combined commit (before
 * it answers). A crashed instance makes no store call after that point (every call fails
 * before reaching the store), and its client sees the connection drop and retries
 * elsewhere; the instance is replaced.
 *
 * The checker then reads everything back from a fresh instance and reports anomalies:
 * lost acked records, duplicates, gaps in offsets, an acked offset holding another record,
 * producer order broken, torn requests (a multi-partition request seen in part), and two
 * instances reading a partition differently. It runs on the embedded store and on moto
 * (served one request at a time, docs/design.md §10).
 */
import { describe, expect, it } from 'vitest';
import { type Clock, seededRandom } from '../../core/clock.js';
import type {
  ByteRange,
  ItemKey,
  MetaStore,
  ObjectStore,
  QueryOptions,
  SortKeyRange,
  TransactOp,
} from '../../core/ports.js';
import { createContext } from '../../lambdas/context.js';
import { toEvent } from '../../lambdas/http.js';
import { createRouter } from '../../lambdas/index.js';
import { FaultInjector, FaultyMetaStore, FaultyObjectStore } from '../../storage/faulty.js';
import { makeStores, type StoreKind } from '../helpers/stores.js';

const enc = new TextEncoder();
const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

const PARTITIONS = 3;
const INSTANCES = 3;
const PRODUCERS = 5;
const REQUESTS = 24;

// biome-ignore lint/suspicious/noExplicitAny: responses of several shapes
type Call = (method: string, url: string, body?: unknown) => Promise<{ status: number; body: any }>;

/** Set when an instance crashes; every store call after fails before reaching the store. */
class Crash {
  crashed = false;
  /** Write intents stored, combined commits (head + intents), crashes by where they hit. */
  readonly counts = { intents: 0, combined: 0, crashAfterIntent: 0, crashAfterCombined: 0 };
  constructor(
    private readonly random: () => number,
    private readonly rate: number,
  ) {}
  check(): void {
    if (this.crashed) throw new Error('instance crashed');
  }
  /** After a transaction applied: counts it, and may crash the instance before it learns so. */
  after(ops: readonly TransactOp[]): void {
    const intentPuts = ops.filter((op) => op.type === 'put' && op.key.sk.startsWith('w#')).length;
    const combined = ops.some((op) => op.key.sk === 'head') && ops.some((op) => op.key.sk.startsWith('w#'));
    this.counts.intents += intentPuts;
    if (combined) this.counts.combined++;
    if ((intentPuts > 0 || combined) && this.random() < this.rate) {
      this.crashed = true;
      if (combined) this.counts.crashAfterCombined++;
      else this.counts.crashAfterIntent++;
      this.check();
    }
  }
}

class CrashableMetaStore implements MetaStore {
  constructor(
    private readonly inner: MetaStore,
    private readonly crash: Crash,
  ) {}
  async get(key: ItemKey) {
    this.crash.check();
    return this.inner.get(key);
  }
  async batchGet(keys: readonly ItemKey[]) {
    this.crash.check();
    return this.inner.batchGet(keys);
  }
  async query(pk: string, range?: SortKeyRange, options?: QueryOptions) {
    this.crash.check();
    return this.inner.query(pk, range, options);
  }
  async transact(ops: readonly TransactOp[]) {
    this.crash.check();
    await this.inner.transact(ops);
    this.crash.after(ops);
  }
}

class CrashableObjectStore implements ObjectStore {
  constructor(
    private readonly inner: ObjectStore,
    private readonly crash: Crash,
  ) {}
  async put(key: string, body: Uint8Array) {
    this.crash.check();
    return this.inner.put(key, body);
  }
  async get(key: string, range?: ByteRange) {
    this.crash.check();
    return this.inner.get(key, range);
  }
  async delete(keys: readonly string[]) {
    this.crash.check();
    return this.inner.delete(keys);
  }
  async list(prefix: string, options?: { after?: string; limit?: number }) {
    this.crash.check();
    return this.inner.list(prefix, options);
  }
}

function instance(
  stores: { meta: MetaStore; objects: ObjectStore },
  seed: number,
  faulty: boolean,
  combine = false,
) {
  const faults = new FaultInjector({
    seed,
    rates: faulty
      ? {
          transact: { before: 0.04, after: 0.08, throttle: 0.03, conflict: 0.08 },
          put: { before: 0.03, after: 0.03 },
          default: { before: 0.02 },
        }
      : {},
  });
  const crash = new Crash(seededRandom(seed + 0.5), faulty && combine ? 0.1 : 0);
  const ctx = createContext(
    {
      meta: new CrashableMetaStore(new FaultyMetaStore(stores.meta, faults), crash),
      objects: new CrashableObjectStore(new FaultyObjectStore(stores.objects, faults), crash),
    },
    { env: {}, clock: realClock, random: seededRandom(seed), topicCacheTtlMs: 60_000, combine },
  );
  const route = createRouter(ctx);
  const call: Call = async (method, url, body) => {
    const res = await route(
      toEvent({
        method,
        url,
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : enc.encode(JSON.stringify(body)),
      }),
    );
    return { status: res.statusCode ?? 0, body: res.body ? JSON.parse(res.body) : undefined };
  };
  return { call, faults, crash };
}

interface Request {
  producer: number;
  records: { partition: number; value: string }[];
  acked?: { partition: number; offset: number }[];
}

async function jepsen(kind: StoreKind, seed: number, combine = false) {
  const stores = await makeStores(kind);
  const anomalies: string[] = [];
  try {
    const random = seededRandom(seed);
    const setup = instance(stores, seed * 100, false);
    expect((await setup.call('POST', '/v1/topics', { name: 'j', partitions: PARTITIONS })).status).toBe(201);
    const everyInstance: ReturnType<typeof instance>[] = [];
    const fresh = (n: number) => {
      const made = instance(stores, seed * 100 + n, true, combine);
      everyInstance.push(made);
      return made;
    };
    const instances = Array.from({ length: INSTANCES }, (_, i) => fresh(i + 1));
    let generation = INSTANCES;
    const requests: Request[] = [];
    const inFlight: Promise<unknown>[] = [];
    let cut = 0;
    let replaced = 0;
    let retries = 0;
    let crashed = 0;

    const producer = async (p: number) => {
      const { body: id } = await setup.call('POST', '/v1/producers', {});
      const sequences = Array.from({ length: PARTITIONS }, () => 0);
      for (let r = 0; r < REQUESTS; r++) {
        // One or two partitions, one to three records each.
        const parts =
          random() < 0.3 ? [0, 1, 2].filter(() => random() < 0.7) : [Math.floor(random() * PARTITIONS)];
        if (parts.length === 0) parts.push(p % PARTITIONS);
        const records = parts.flatMap((partition) =>
          Array.from({ length: 1 + Math.floor(random() * 3) }, (_, k) => ({
            partition,
            value: `p${p}-r${r}-q${partition}-${k}`,
          })),
        );
        const req: Request = { producer: p, records };
        requests.push(req);
        const counts = new Map<number, number>();
        for (const rec of records) counts.set(rec.partition, (counts.get(rec.partition) ?? 0) + 1);
        const body = {
          topic: 'j',
          records,
          producer: {
            id: id.producerId,
            epoch: id.epoch,
            sequences: Object.fromEntries([...counts.keys()].map((q) => [q, sequences[q]])),
          },
        };
        for (let attempt = 0; ; attempt++) {
          if (attempt > 60) {
            anomalies.push(`p${p} r${r}: no ack after 60 attempts`);
            return;
          }
          // Lambda routes each attempt to any instance; now and then one is replaced.
          if (random() < 0.05) {
            instances[Math.floor(random() * INSTANCES)] = fresh(++generation);
            replaced++;
          }
          const slot = Math.floor(random() * INSTANCES);
          const target = instances[slot]!;
          const pending = target.call('POST', '/v1/produce', body);
          inFlight.push(pending.catch(() => {}));
          let res: Awaited<typeof pending> | undefined;
          // A crashed instance never answers: the client sees the connection drop, retries
          // elsewhere, and Lambda starts a new instance in its place.
          const dropped = async () => {
            if (!target.crash.crashed) return false;
            crashed++;
            if (instances[slot] === target) instances[slot] = fresh(++generation);
            return true;
          };
          if (random() < 0.2) {
            // A cut request: the client stops waiting; the request runs on.
            const waitMs = Math.floor(random() * 3);
            res = await Promise.race([pending, realClock.sleep(waitMs).then(() => undefined)]);
            if (res === undefined) {
              cut++;
              continue;
            }
          } else {
            res = await pending;
          }
          if (await dropped()) continue;
          if (res.status === 200) {
            req.acked = res.body.records;
            break;
          }
          retries++;
          if (!res.body?.error?.retriable) {
            anomalies.push(`p${p} r${r}: non-retriable ${res.status} ${JSON.stringify(res.body)}`);
            return;
          }
        }
        for (const [q, n] of counts) sequences[q]! += n;
      }
    };
    await Promise.all(Array.from({ length: PRODUCERS }, (_, p) => producer(p)));
    await Promise.all(inFlight);

    // The checker, on two fresh instances without faults.
    const readers = [instance(stores, 1, false), instance(stores, 2, false)];
    const logs: { offset: number; value: string }[][] = [];
    for (let partition = 0; partition < PARTITIONS; partition++) {
      const seen = await Promise.all(
        readers.map(async (reader) => {
          const all: { offset: number; value: string }[] = [];
          for (let offset = 0; ; ) {
            const res = await reader.call('GET', `/v1/fetch?topic=j&partition=${partition}&offset=${offset}`);
            expect(res.status).toBe(200);
            all.push(
              ...res.body.records.map((x: { offset: number; value: string }) => ({
                offset: x.offset,
                value: x.value,
              })),
            );
            if (res.body.nextOffset >= res.body.highWatermark) break;
            offset = res.body.nextOffset;
          }
          return all;
        }),
      );
      if (JSON.stringify(seen[0]) !== JSON.stringify(seen[1]))
        anomalies.push(`partition ${partition}: inconsistent reads`);
      logs.push(seen[0]!);
    }
    const where = new Map<string, { partition: number; offset: number }>();
    logs.forEach((log, partition) => {
      log.forEach((x, i) => {
        if (x.offset !== i)
          anomalies.push(`partition ${partition}: gap or disorder at ${i} (offset ${x.offset})`);
        if (where.has(x.value))
          anomalies.push(
            `duplicate ${x.value} at ${partition}/${x.offset} and ${JSON.stringify(where.get(x.value))}`,
          );
        where.set(x.value, { partition, offset: x.offset });
      });
    });
    let acked = 0;
    for (const req of requests) {
      const present = req.records.filter((rec) => where.has(rec.value)).length;
      if (present !== 0 && present !== req.records.length)
        anomalies.push(`torn request of p${req.producer}: ${present}/${req.records.length}`);
      if (!req.acked) continue;
      req.records.forEach((rec, i) => {
        acked++;
        const at = where.get(rec.value);
        const ack = req.acked![i]!;
        if (!at) anomalies.push(`lost ${rec.value}`);
        else if (at.partition !== ack.partition || at.offset !== ack.offset)
          anomalies.push(
            `${rec.value} acked at ${ack.partition}/${ack.offset}, found at ${at.partition}/${at.offset}`,
          );
      });
    }
    // Producer order: within a partition, each producer's records appear in send order.
    for (let p = 0; p < PRODUCERS; p++) {
      logs.forEach((log, partition) => {
        const mine = log.filter((x) => x.value.startsWith(`p${p}-`)).map((x) => x.value);
        const sent = requests
          .filter((q) => q.producer === p)
          .flatMap((q) =>
            q.records
              .filter((rec) => rec.partition === partition && where.has(rec.value))
              .map((rec) => rec.value),
          );
        if (JSON.stringify(mine) !== JSON.stringify(sent))
          anomalies.push(`p${p} order broken on partition ${partition}`);
      });
    }
    const injected: Record<string, number> = {};
    const combining = { intents: 0, combined: 0, crashAfterIntent: 0, crashAfterCombined: 0 };
    for (const x of everyInstance) {
      for (const e of x.faults.events) injected[e.fault] = (injected[e.fault] ?? 0) + 1;
      for (const [k, v] of Object.entries(x.crash.counts)) combining[k as keyof typeof combining] += v;
    }
    return { anomalies, acked, cut, replaced, retries, crashed, injected, combining };
  } finally {
    await stores.cleanup();
  }
}

/** `JEPSEN_SEED=<n>` explores another schedule (the same for both stores). */
const seedOf = (fallback: number) => Number(process.env.JEPSEN_SEED) || fallback;

describe.each<StoreKind>(['sqlite', 'aws'])('Jepsen-style write path: %s', (kind) => {
  it('with combining: 0 anomalies under crashes between an intent and its commit and after a combined commit', async () => {
    const result = await jepsen(kind, seedOf(kind === 'aws' ? 11 : 5), true);
    console.log(
      `Jepsen-style ${kind} combine: ${JSON.stringify({ ...result, anomalies: result.anomalies })}`,
    );
    expect(result.anomalies).toEqual([]);
    expect(result.acked).toBeGreaterThan(PRODUCERS * REQUESTS);
    // Writers did combine, and crashed on both sides of a combined commit.
    expect(result.combining.intents).toBeGreaterThan(10);
    expect(result.combining.combined).toBeGreaterThan(3);
    expect(result.combining.crashAfterIntent).toBeGreaterThan(0);
    expect(result.combining.crashAfterCombined).toBeGreaterThan(0);
    expect(result.crashed).toBeGreaterThan(0);
    expect(result.injected.after).toBeGreaterThan(3);
  }, 240_000);

  it('0 anomalies among concurrent idempotent producers under faults, cut requests and replaced instances', async () => {
    const result = await jepsen(kind, seedOf(kind === 'aws' ? 7 : 3));
    console.log(`Jepsen-style ${kind}: ${JSON.stringify({ ...result, anomalies: result.anomalies.length })}`);
    expect(result.anomalies).toEqual([]);
    expect(result.acked).toBeGreaterThan(PRODUCERS * REQUESTS);
    // The run did meet the faults it is about.
    expect(result.cut).toBeGreaterThan(3);
    expect(result.replaced).toBeGreaterThan(0);
    // Lost responses and conflicts happened (the server absorbs most itself, so clients
    // rarely see a retriable error).
    expect(result.injected.after).toBeGreaterThan(3);
    expect(result.injected.conflict).toBeGreaterThan(3);
  }, 240_000);
});
