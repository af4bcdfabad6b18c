/**
 * Hostile input: thousands of generated malformed requests through the real handlers.
 * Every one must get a 4xx with an error body, and none may change stored state.
 */
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ItemKey, MetaStore, ObjectStore, TransactOp } from '../../core/ports.js';
import { encodeBatch } from '../../core/records/index.js';
import { encodeProduceFrames } from '../../core/wire.js';
import { createContext } from '../../lambdas/context.js';
import { toEvent } from '../../lambdas/http.js';
import { createRouter, type FunctionUrlHandler } from '../../lambdas/index.js';
import { MemoryMetaStore, MemoryObjectStore } from '../../storage/memory.js';

/** Counts writes that reached the stores. */
class WriteCounter {
  writes = 0;
  wrap(meta: MetaStore, objects: ObjectStore): { meta: MetaStore; objects: ObjectStore } {
    const self = this;
    return {
      meta: {
        get: (k: ItemKey) => meta.get(k),
        batchGet: (k) => meta.batchGet(k),
        query: (pk, r, o) => meta.query(pk, r, o),
        async transact(ops: readonly TransactOp[]) {
          await meta.transact(ops);
          if (ops.some((o) => o.type !== 'check')) self.writes++;
        },
      },
      objects: {
        async put(key, body) {
          await objects.put(key, body);
          self.writes++;
        },
        get: (k, r) => objects.get(k, r),
        async delete(keys) {
          await objects.delete(keys);
          self.writes++;
        },
        list: (p, o) => objects.list(p, o),
      },
    };
  }
}

const enc = new TextEncoder();

describe('malformed requests', () => {
  const counter = new WriteCounter();
  let route: FunctionUrlHandler;
  let goodFrames: Uint8Array;

  beforeAll(async () => {
    const stores = counter.wrap(new MemoryMetaStore(), new MemoryObjectStore());
    const ctx = createContext(stores, { env: {} });
    route = createRouter(ctx);
    const setup = await call('POST', '/v1/topics', JSON.stringify({ name: 't', partitions: 2 }));
    expect(setup.statusCode).toBe(201);
    goodFrames = encodeProduceFrames([
      {
        topic: 't',
        partition: 1,
        batch: encodeBatch([{ key: enc.encode('k'), value: enc.encode('v'), timestamp: 1 }]),
      },
    ]);
    counter.writes = 0;
  });

  async function call(
    method: string,
    url: string,
    body?: string | Uint8Array,
    headers: Record<string, string> = {},
  ) {
    const bytes = typeof body === 'string' ? enc.encode(body) : body;
    return route(
      toEvent({ method, url, headers: { 'content-type': 'application/json', ...headers }, body: bytes }),
    );
  }

  async function expectRejected(
    method: string,
    url: string,
    body?: string | Uint8Array,
    headers?: Record<string, string>,
  ) {
    const res = await call(method, url, body, headers);
    const status = res.statusCode ?? 0;
    if (status < 400 || status >= 500) {
      throw new Error(
        `${method} ${url} ${typeof body === 'string' ? body.slice(0, 200) : ''} → ${status} ${res.body}`,
      );
    }
    const parsed = JSON.parse(res.body ?? '{}');
    expect(typeof parsed.error.code).toBe('string');
    expect(typeof parsed.error.message).toBe('string');
  }

  const paths = ['/v1/produce', '/v1/topics', '/v1/fetch', '/v1/topics/t/partitions', '/v1/producers/x'];
  const wrongType = fc.oneof(
    fc.string(),
    fc.integer(),
    fc.double(),
    fc.boolean(),
    fc.constant(null),
    fc.array(fc.integer()),
    fc.object(),
  );

  it('rejects random bytes and random JSON', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...paths), fc.uint8Array({ maxLength: 200 }), async (path, bytes) => {
        const text = Buffer.from(bytes).toString('latin1');
        if (path === '/v1/producers/x') return expectRejected('POST', path, text);
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          return expectRejected('POST', path, text);
        }
        if (typeof json === 'object' && json !== null) return; // covered below
        return expectRejected('POST', path, text);
      }),
      { numRuns: 300 },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('/v1/produce', '/v1/fetch', '/v1/topics/t/partitions'),
        fc.object(),
        async (path, obj) => {
          await expectRejected('POST', path, JSON.stringify(obj));
        },
      ),
      { numRuns: 300 },
    );
    expect(counter.writes).toBe(0);
  });

  it('refuses a valid JSON body that does not say it is JSON: 415 UNSUPPORTED_MEDIA_TYPE, nothing written', async () => {
    const valid: Record<string, string> = {
      '/v1/topics': JSON.stringify({ name: 'made-anyway', partitions: 1 }),
      '/v1/produce': JSON.stringify({ topic: 't', records: [{ value: 'x', partition: 0 }] }),
      '/v1/topics/t/partitions': JSON.stringify({ count: 3 }),
    };
    const notJson = fc.oneof(
      fc.constantFrom(
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data',
        'application/jsonx',
        'json',
      ),
      fc.string({ maxLength: 40 }).filter((t) => !/^\s*application\/([\w.+-]+\+)?json\s*(;.*)?$/i.test(t)),
    );
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...Object.keys(valid)), notJson, async (path, type) => {
        const res = await call('POST', path, valid[path], { 'content-type': type });
        expect(res.statusCode).toBe(415);
        expect(JSON.parse(res.body ?? '{}').error.code).toBe('UNSUPPORTED_MEDIA_TYPE');
      }),
      { numRuns: 200 },
    );
    expect(counter.writes).toBe(0);
    // The same bodies pass with a JSON type, parameters and case included.
    const ok = await call('POST', '/v1/produce', valid['/v1/produce'], {
      'content-type': 'Application/JSON; charset=utf-8',
    });
    expect(ok.statusCode).toBe(200);
    counter.writes = 0;
  });

  it('rejects produce requests with one field of the wrong type or out of range', async () => {
    const valid = () => ({
      topic: 't',
      records: [{ key: 'k', value: 'v', headers: { h: 'x' }, partition: 0, timestamp: 5 }],
    });
    const mutations: [string, fc.Arbitrary<unknown>][] = [
      [
        'topic',
        fc.oneof(
          fc.integer(),
          fc.constant(null),
          fc.array(fc.string()),
          fc.string().filter((s) => s !== 't'),
        ),
      ],
      ['records', fc.oneof(fc.string(), fc.integer(), fc.constant([]), fc.constant(null))],
      ['records.0.value', fc.oneof(fc.integer(), fc.boolean(), fc.array(fc.integer()), fc.object())],
      ['records.0.key', fc.oneof(fc.integer(), fc.boolean(), fc.object())],
      [
        'records.0.partition',
        fc.oneof(
          fc.integer({ max: -1 }),
          fc.integer({ min: 2 }),
          fc.double({ noInteger: true }),
          fc.string(),
        ),
      ],
      ['records.0.timestamp', fc.oneof(fc.integer({ max: -1 }), fc.string(), fc.double({ noInteger: true }))],
      [
        'records.0.headers',
        fc.oneof(fc.string(), fc.integer(), fc.array(fc.integer({ min: 1 }), { minLength: 1 })),
      ],
      ['encoding', fc.string().filter((s) => s !== 'utf8' && s !== 'base64')],
      [
        'producer',
        fc.oneof(
          fc.string(),
          fc.integer(),
          fc.record({ id: wrongType, epoch: wrongType, sequences: wrongType }),
        ),
      ],
    ];
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: mutations.length - 1 }), fc.nat(), async (which, seed) => {
        const [path, arb] = mutations[which]!;
        const value = fc.sample(arb, { seed, numRuns: 1 })[0];
        const body = valid() as Record<string, unknown>;
        const parts = path.split('.');
        let target = body as Record<string, unknown>;
        for (const p of parts.slice(0, -1)) target = target[p] as Record<string, unknown>;
        target[parts.at(-1)!] = value;
        await expectRejected('POST', '/v1/produce', JSON.stringify(body));
      }),
      { numRuns: 400 },
    );
    expect(counter.writes).toBe(0);
  });

  it('refuses an unknown field anywhere in a JSON body, naming it (typos do not pass)', async () => {
    const bodies: [string, string, Record<string, unknown>, string[]][] = [
      ['POST', '/v1/produce', { topic: 't', records: [{ value: 'v', partition: 0 }] }, ['', 'records.0']],
      ['POST', '/v1/topics', { name: 'typo', partitions: 3 }, ['']],
      ['POST', '/v1/fetch', { partitions: [{ topic: 't', partition: 0, offset: 0 }] }, ['', 'partitions.0']],
      ['POST', '/v1/topics/t/partitions', { count: 3 }, ['']],
      [
        'POST',
        '/v1/groups/g/offsets',
        { offsets: [{ topic: 't', partition: 0, offset: 0 }] },
        ['', 'offsets.0'],
      ],
      ['POST', '/v1/groups/g/heartbeat', { memberEpoch: 0, topics: ['t'] }, ['']],
    ];
    const known = new Set([
      'topic',
      'records',
      'value',
      'partition',
      'name',
      'partitions',
      'offset',
      'count',
    ]);
    const name = fc.string({ minLength: 1, maxLength: 12 }).filter((k) => !known.has(k) && k !== '__proto__');
    await fc.assert(
      fc.asyncProperty(
        fc.nat(bodies.length - 1),
        fc.nat(),
        name,
        fc.jsonValue(),
        async (which, where, key, value) => {
          const [method, url, valid, places] = bodies[which]!;
          const body = structuredClone(valid);
          const place = places[where % places.length]!;
          let target = body as Record<string, unknown>;
          for (const p of place ? place.split('.') : []) target = target[p] as Record<string, unknown>;
          if (Object.hasOwn(target, key)) return;
          target[key] = value;
          const res = await call(method, url, JSON.stringify(body));
          const err = JSON.parse(res.body ?? '{}').error;
          const field = place ? `${place}.${key}` : key;
          expect([res.statusCode, err?.code, err?.message]).toEqual([
            400,
            'INVALID_REQUEST',
            `${field}: unknown field (not in the API)`,
          ]);
        },
      ),
      { numRuns: 200 },
    );
    expect(counter.writes).toBe(0);
    // The reported typos, by name.
    const typo = await call(
      'POST',
      '/v1/produce',
      JSON.stringify({ topic: 't', records: [{ value: 'v', partiton: 0 }] }),
    );
    expect(JSON.parse(typo.body!).error.message).toBe('records.0.partiton: unknown field (not in the API)');
    const create = await call('POST', '/v1/topics', JSON.stringify({ name: 'x', partition: 3 }));
    expect(JSON.parse(create.body!).error.message).toBe('partition: unknown field (not in the API)');
    // A missing query parameter says which one.
    const missing = await call('GET', '/v1/fetch?topic=t&partition=0');
    expect([missing.statusCode, JSON.parse(missing.body!).error.message]).toEqual([
      400,
      'offset: required query parameter is missing',
    ]);
  });

  it('rejects corrupted binary batches', async () => {
    // Bytes of the batch the CRC does not cover (baseOffset, partitionLeaderEpoch) may
    // legitimately change, and so may the frame's partition: mutations avoid them.
    const frameHeader = 2 + 1 + 8;
    const partitionField = [3, 4, 5, 6]; // a flip there may name the other, existing partition
    const free = (i: number) => {
      const b = i - frameHeader;
      return partitionField.includes(i) || (b >= 0 && b < 8) || (b >= 12 && b < 16);
    };
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.record({
            kind: fc.constant('flip' as const),
            at: fc.nat(),
            bit: fc.integer({ min: 0, max: 7 }),
          }),
          fc.record({ kind: fc.constant('cut' as const), at: fc.nat() }),
          fc.record({
            kind: fc.constant('grow' as const),
            extra: fc.uint8Array({ minLength: 1, maxLength: 30 }),
          }),
        ),
        async (m) => {
          let body: Uint8Array;
          if (m.kind === 'flip') {
            const at = m.at % goodFrames.length;
            if (free(at)) return;
            body = Uint8Array.from(goodFrames);
            body[at]! ^= 1 << m.bit;
          } else if (m.kind === 'cut') {
            body = goodFrames.subarray(0, m.at % goodFrames.length);
          } else {
            body = new Uint8Array([...goodFrames, ...m.extra]);
          }
          await expectRejected('POST', '/v1/produce', body, {
            'content-type': 'application/vnd.sluice.batches',
          });
        },
      ),
      { numRuns: 600 },
    );
    expect(counter.writes).toBe(0);
  });

  it('rejects bad fetch and offsets queries', async () => {
    const value = fc.oneof(
      fc.string(),
      fc.integer({ max: -1 }).map(String),
      fc.constant('99999999999999999999'),
      fc.constant('1e3'),
      fc.constant(''),
      fc.constant('0x10'),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('partition', 'offset', 'maxBytes', 'maxWaitMs', 'maxRecords', 'encoding', 'topic'),
        value,
        async (field, v) => {
          const q = new URLSearchParams({ topic: 't', partition: '0', offset: '0', [field]: v });
          const res = await call('GET', `/v1/fetch?${q}`);
          const ok = res.statusCode === 200;
          // A few generated values are valid (e.g. encoding=utf8): those must succeed cleanly.
          if (!ok) await expectRejected('GET', `/v1/fetch?${q}`);
          const at = new URLSearchParams({ topic: 't', partition: '0', at: v });
          const r2 = await call('GET', `/v1/offsets?${at}`);
          if (r2.statusCode !== 200) await expectRejected('GET', `/v1/offsets?${at}`);
        },
      ),
      { numRuns: 300 },
    );
    expect(counter.writes).toBe(0);
  });
});

describe('generated headers', () => {
  it('round-trip exactly through JSON produce and JSON fetch (list and object forms)', async () => {
    const ctx = createContext({ meta: new MemoryMetaStore(), objects: new MemoryObjectStore() }, { env: {} });
    const route = createRouter(ctx);
    const call = async (method: string, url: string, body?: unknown) => {
      const res = await route(
        toEvent({
          method,
          url,
          headers: { 'content-type': 'application/json' },
          body: body === undefined ? undefined : enc.encode(JSON.stringify(body)),
        }),
      );
      return { status: res.statusCode ?? 0, body: JSON.parse(res.body ?? '{}') };
    };
    expect((await call('POST', '/v1/topics', { name: 'h' })).status).toBe(201);
    const header = fc.record({
      key: fc.string({ maxLength: 8 }),
      value: fc.option(fc.string({ maxLength: 8 }), { nil: null }),
    });
    let offset = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(header, { maxLength: 8 }), fc.boolean(), async (list, asObject) => {
        // The object form keeps order within a key only (and JavaScript puts integer-like keys
        // first): what is stored is the object's entries in order; the list form is exact.
        const byKey = new Map<string, (string | null)[]>();
        for (const h of list) byKey.set(h.key, [...(byKey.get(h.key) ?? []), h.value]);
        const headers = asObject ? Object.fromEntries(byKey) : list;
        const sent = asObject
          ? Object.entries(headers).flatMap(([key, values]) =>
              (values as (string | null)[]).map((value) => ({ key, value })),
            )
          : list;
        const produced = await call('POST', '/v1/produce', {
          topic: 'h',
          records: [{ value: 'v', headers }],
        });
        expect(produced.status).toBe(200);
        const fetched = await call('GET', `/v1/fetch?topic=h&partition=0&offset=${offset++}&maxRecords=1`);
        expect(fetched.body.records[0].headerList).toEqual(sent);
      }),
      { numRuns: 100 },
    );
  });
});
