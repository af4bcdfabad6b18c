/**
 * `npm run bench -- e2e [totalMiB]`: produce then consume through HTTP into `sluice dev`
 * (embedded store: files + SQLite), against the raw floor — the same object writes and
 * metadata transactions (produce) and the same head reads, index queries and ranged GETs
 * (consume) made directly on the adapters. Rounds interleave system and floor so both see
 * the same machine noise; figures are medians over rounds.
 *
 * Two HTTP ceilings, measured in the same rounds (interleaved with system and floor, the
 * order rotated per round): a bare `node:http` server, and a handler that does nothing
 * served over sluice dev's own HTTP path. Each round's ratio is taken as a share of that
 * round's ceilings (paired) and the median of those shares reported
 * (`*_share_of_ceiling`, `*_share_of_handler_ceiling`).
 *
 * Writes bench/results/e2e.json.
 */

import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IndexEntry } from '../core/append.js';
import { keys, objectKeys } from '../core/keys.js';
import type { ItemData, MetaStore, ObjectStore } from '../core/ports.js';
import { encodeBatch, encodeSegment, LOG_OVERHEAD, readBatchHeader } from '../core/records/index.js';
import { encodeProduceFrames } from '../core/wire.js';
import { FsObjectStore } from '../storage/fs.js';
import { SqliteMetaStore } from '../storage/sqlite.js';
import { median, printTable, round, writeResults } from './lib.js';

const MiB = 1024 * 1024;
const RECORD_BYTES = 1024;
const RECORDS_PER_REQUEST = 1000; // ≈ 1 MiB per request: how a busy producer batches
const WORKERS = Number(process.env.BENCH_WORKERS ?? 4); // concurrent requests, one partition each
const ROUNDS = 8;

const agent = new Agent({ keepAlive: true, maxSockets: 16 });

/** node:http with keep-alive: the lightest client, so the figures are the server's. */
function call(
  url: string,
  method: string,
  body: Uint8Array | string,
  headers: Record<string, string>,
): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method, agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Starts a server process that prints `listening on <url>`; resolves with the URL. */
async function spawnServer(args: string[]): Promise<{ url: string; close(): void }> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const child = spawn(process.execPath, args, {
    cwd: root,
    env: { ...process.env, SLUICE_MAINTENANCE_INTERVAL_MS: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no server after 60 s: ${out}`)), 60_000);
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  }).catch((err) => {
    child.kill('SIGKILL');
    throw err;
  });
  // Never leave a server behind, even when the bench fails half-way.
  const reap = () => child.kill('SIGTERM');
  process.once('exit', reap);
  return {
    url,
    close: () => {
      process.off('exit', reap);
      reap();
    },
  };
}

/**
 * A bare node:http server in its own process that swallows uploads and answers `/get`
 * with 1 MiB: what any HTTP service costs on this machine before it does any work.
 */
const BARE_SERVER = `
const http = require('node:http');
const mib = Buffer.alloc(1 << 20, 7);
const server = http.createServer((req, res) => {
  req.on('data', () => {});
  req.on('end', () => {
    const out = req.url === '/get' ? mib : Buffer.from('{}');
    res.writeHead(200, { 'content-length': out.length });
    res.end(out);
  });
});
server.listen(0, '127.0.0.1', () => console.log('listening on http://127.0.0.1:' + server.address().port));
process.on('SIGTERM', () => process.exit(0));
`;

/**
 * The HTTP ceiling over Sluice's own HTTP path: `sluice dev`'s server and event conversion
 * (bin/dev.ts, lambdas/http.ts `lambdaHandler`) with a handler that takes the upload and
 * answers `{}`, or answers 1 MiB of bytes, and does nothing else.
 */
const BARE_HANDLER_SERVER = (root: string) => `
import { startDevServer } from '${root}/bin/dev.ts';
import { lambdaHandler } from '${root}/lambdas/http.ts';
import { createContext } from '${root}/lambdas/context.ts';
import { MemoryMetaStore, MemoryObjectStore } from '${root}/storage/memory.ts';
const mib = new Uint8Array(1 << 20).fill(7);
const route = lambdaHandler([
  { method: 'POST', path: '/put', handle: async () => ({ status: 200, body: {} }) },
  { method: 'POST', path: '/get', handle: async () => ({ status: 200, headers: { 'content-type': 'application/octet-stream' }, body: mib }) },
]);
const context = createContext({ meta: new MemoryMetaStore(), objects: new MemoryObjectStore() }, { env: {} });
const dev = await startDevServer({ port: 0, context, route, subscriptions: false, inboxWindowMs: false });
console.log('listening on ' + dev.url);
process.on('SIGTERM', () => process.exit(0));
`;

/** Walks a one-partition fetch frame to its last batch header, without CRC checks. */
function lastBatchHeader(body: Buffer) {
  let pos = 2 + body.readUInt16BE(0) + 4 + 16 + 4;
  let header = readBatchHeader(body, pos);
  for (;;) {
    const next = pos + LOG_OVERHEAD + header.batchLength;
    if (next >= body.length) return header;
    pos = next;
    header = readBatchHeader(body, pos);
  }
}

async function pool(
  workers: number,
  jobs: number,
  run: (worker: number, job: number) => Promise<void>,
): Promise<void> {
  // Static shares (job j to worker j mod n): each partition is written and read exactly
  // as often as the others, so consume ends exactly at every partition's end.
  await Promise.all(
    Array.from({ length: workers }, async (_, w) => {
      for (let job = w; job < jobs; job += workers) await run(w, job);
    }),
  );
}

function batchBytes(seed: number): Uint8Array {
  const value = new Uint8Array(RECORD_BYTES - 16);
  for (let i = 0; i < value.length; i++) value[i] = (i * 31 + seed) & 0xff;
  return encodeBatch(
    Array.from({ length: RECORDS_PER_REQUEST }, (_, i) => ({
      key: new TextEncoder().encode(`key-${seed}-${i}`.padEnd(16, '.')),
      value,
      timestamp: 1_700_000_000_000 + i,
    })),
  );
}

/** MiB/s of each side in one round. */
type Round<K extends string> = Record<K, number>;

/**
 * Runs ROUNDS rounds of `jobs` requests on WORKERS workers for every side, the sides in a
 * different order each round (rotated), so all see the same machine noise within a round
 * and ratios can be taken per round (paired) rather than between medians of separate runs.
 */
async function interleavedRounds<K extends string>(
  label: string,
  jobs: number,
  bytesPerJob: number,
  sides: Record<K, (worker: number) => Promise<void>>,
): Promise<Round<K>[]> {
  const names = Object.keys(sides) as K[];
  const rounds: Round<K>[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const r = {} as Round<K>;
    for (let i = 0; i < names.length; i++) {
      const which = names[(round + i) % names.length]!;
      const t0 = performance.now();
      await pool(WORKERS, jobs, (w) => sides[which](w));
      r[which] = (jobs * bytesPerJob) / MiB / ((performance.now() - t0) / 1000);
    }
    rounds.push(r);
    console.log(
      `  ${label} round ${round + 1}/${ROUNDS}: ${names.map((n) => `${n} ${r[n].toFixed(1)}`).join(', ')} MiB/s`,
    );
  }
  return rounds;
}

/** The best ratio to the floor a system can reach that adds HTTP (at `http` MiB/s) to the floor's work. */
const ceiling = (floor: number, http: number) => 1 / floor / (1 / floor + 1 / http);

/** `npm run bench -- e2e [totalMiB]` (default 256). */
export async function run(args: string[]): Promise<void> {
  const totalMiB = Number(args[0] ?? 256);
  const requestsPerRound = WORKERS * Math.max(1, Math.round(totalMiB / ROUNDS / WORKERS));
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-e2e-'));
  await mkdir(join(dir, 'floor'), { recursive: true });
  const objects: ObjectStore = new FsObjectStore(join(dir, 'floor', 'objects'));
  const meta: MetaStore = new SqliteMetaStore(join(dir, 'floor', 'meta.sqlite'));
  // The system under test runs as users run it: `sluice dev` in its own process, on its
  // own store; the floor runs here, on a store of the same kind.
  const server = await spawnServer([
    '--import',
    'tsx',
    'bin/sluice.ts',
    'dev',
    '--port',
    '0',
    '--data-dir',
    join(dir, 'dev'),
  ]);
  // The HTTP ceilings, served for the whole run so each round measures them beside the
  // system: a server that does nothing, and a handler that does nothing over the dev path.
  const bare = await spawnServer(['-e', BARE_SERVER]);
  const root = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
  const bareHandler = await spawnServer([
    '--import',
    'tsx',
    '--input-type=module',
    '-e',
    BARE_HANDLER_SERVER(root),
  ]);
  const batch = batchBytes(1);
  const requestBytes = batch.length;
  console.log(
    `e2e: ${ROUNDS} rounds × ${requestsPerRound} requests of ${(requestBytes / MiB).toFixed(2)} MiB ` +
      `(${RECORDS_PER_REQUEST} records of ${RECORD_BYTES} B), ${WORKERS} concurrent, embedded store in ${dir}`,
  );

  await fetch(`${server.url}/v1/topics`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'bench', partitions: WORKERS }),
  });
  const frames = Array.from({ length: WORKERS }, (_, p) =>
    encodeProduceFrames([{ topic: 'bench', partition: p, batch }]),
  );

  // The floor: the same PUT and the same transaction (head CAS, index item, registry item).
  const floorHeads = Array.from({ length: WORKERS }, () => ({ version: 0, next: 0 }));
  const floorEntries: { p: number; entry: IndexEntry }[] = [];
  let floorSeq = 0;
  const floorProduce = async (p: number) => {
    const segment = encodeSegment([{ topic: 'floor', partition: p, batches: [batch] }]);
    const key = objectKeys.segment(`floor/${floorSeq++}`);
    await objects.put(key, segment.bytes);
    const h = floorHeads[p]!;
    const e = segment.index[0]!;
    const entry: IndexEntry = {
      o: key,
      pos: e.position,
      len: e.length,
      base: h.next,
      n: e.offsetCount,
      rc: e.recordCount,
      bc: 1,
      mt: e.maxTimestamp,
      at: 0,
    };
    await meta.transact([
      {
        type: 'put',
        key: keys.head('floor', p),
        data: { next: h.next + e.offsetCount, start: 0, size: 0, p: {} },
        condition: h.version === 0 ? { absent: true } : { version: h.version },
      },
      {
        type: 'put',
        key: keys.index('floor', p, h.next + e.offsetCount - 1),
        data: entry as unknown as ItemData,
        condition: { absent: true },
      },
      { type: 'put', key: keys.objectRef(key), data: { refs: 1, at: 0 }, condition: { absent: true } },
    ]);
    h.version++;
    h.next += e.offsetCount;
    floorEntries.push({ p, entry });
  };
  const systemProduce = async (p: number) => {
    const res = await call(`${server.url}/v1/produce`, 'POST', frames[p]!, {
      'content-type': 'application/vnd.sluice.batches',
    });
    if (res.status !== 200) throw new Error(`produce failed: ${res.status} ${res.body}`);
  };

  const upload = frames[0]!;
  const produce = await interleavedRounds('produce', requestsPerRound, requestBytes, {
    system: systemProduce,
    floor: floorProduce,
    http: async () => void (await call(`${bare.url}/put`, 'POST', upload, {})),
    handler: async () => void (await call(`${bareHandler.url}/put`, 'POST', upload, {})),
  });

  // Consume: each worker reads its partition from the start, 1 MiB per request.
  const hwm = floorHeads.map((h) => h.next);
  const systemOffsets = new Array(WORKERS).fill(0);
  const floorOffsets = new Array(WORKERS).fill(0);
  const systemConsume = async (p: number) => {
    const res = await call(
      `${server.url}/v1/fetch`,
      'POST',
      JSON.stringify({
        partitions: [{ topic: 'bench', partition: p, offset: systemOffsets[p] }],
        maxBytes: MiB,
      }),
      { 'content-type': 'application/json', accept: 'application/vnd.sluice.batches' },
    );
    if (res.status !== 200) throw new Error(`fetch failed: ${res.status} ${res.body}`);
    // The frame's last batch tells where to go on; the client's CRC checks are not the
    // server's cost, so they are left out of the measurement.
    const last = lastBatchHeader(res.body);
    systemOffsets[p] = last.baseOffset + last.lastOffsetDelta + 1;
  };
  const floorConsume = async (p: number) => {
    const pk = keys.partitionPk('floor', p);
    await meta.get(keys.head('floor', p));
    const page = await meta.query(
      pk,
      { gte: keys.indexSk(floorOffsets[p]), lte: `${keys.indexPrefix}~` },
      { limit: 16 },
    );
    const entry = page.items[0]!.data as unknown as IndexEntry;
    await objects.get(entry.o, { start: entry.pos, end: entry.pos + entry.len });
    floorOffsets[p] = entry.base + entry.n;
  };
  const consume = await interleavedRounds('consume', requestsPerRound, requestBytes, {
    system: systemConsume,
    floor: floorConsume,
    http: async () => void (await call(`${bare.url}/get`, 'POST', '{}', {})),
    handler: async () => void (await call(`${bareHandler.url}/get`, 'POST', '{}', {})),
  });
  bare.close();
  bareHandler.close();

  if (systemOffsets.some((o, p) => o !== hwm[p]))
    throw new Error(`consume did not reach the end: ${systemOffsets} vs ${hwm}`);

  // Each round's ratio as a share of the same round's ceilings (paired), then the median
  // over rounds: the noise between rounds cancels instead of adding up (issue 17 §4).
  type Side = 'system' | 'floor' | 'http' | 'handler';
  const paired = (rounds: Round<Side>[], http: 'http' | 'handler') =>
    rounds.map((r) => r.system / r.floor / ceiling(r.floor, r[http]));
  const spread = (xs: number[]) => [Math.min(...xs), Math.max(...xs)].map((x) => round(x)).join('–');
  const shares = {
    produce: paired(produce, 'http'),
    consume: paired(consume, 'http'),
    produceHandler: paired(produce, 'handler'),
    consumeHandler: paired(consume, 'handler'),
  };
  const httpUp = median(produce.map((r) => r.http));
  const httpDown = median(consume.map((r) => r.http));
  const handlerUp = median(produce.map((r) => r.handler));
  const handlerDown = median(consume.map((r) => r.handler));

  const recordsPerMiB = (RECORDS_PER_REQUEST * MiB) / requestBytes;
  const metrics = {
    produce_mb_s: median(produce.map((r) => r.system)),
    consume_mb_s: median(consume.map((r) => r.system)),
    floor_produce_mb_s: median(produce.map((r) => r.floor)),
    floor_consume_mb_s: median(consume.map((r) => r.floor)),
    produce_ratio: median(produce.map((r) => r.system / r.floor)),
    consume_ratio: median(consume.map((r) => r.system / r.floor)),
    produce_records_s: median(produce.map((r) => r.system)) * recordsPerMiB,
    consume_records_s: median(consume.map((r) => r.system)) * recordsPerMiB,
    total_mib: (ROUNDS * requestsPerRound * requestBytes) / MiB,
    bare_http_upload_mb_s: httpUp,
    bare_http_download_mb_s: httpDown,
    produce_ratio_ceiling: median(produce.map((r) => ceiling(r.floor, r.http))),
    consume_ratio_ceiling: median(consume.map((r) => ceiling(r.floor, r.http))),
    bare_handler_upload_mb_s: handlerUp,
    bare_handler_download_mb_s: handlerDown,
    produce_ratio_handler_ceiling: median(produce.map((r) => ceiling(r.floor, r.handler))),
    consume_ratio_handler_ceiling: median(consume.map((r) => ceiling(r.floor, r.handler))),
    // Medians of the per-round (paired) shares (issue 17 §4: goal ≥ 0.9).
    produce_share_of_ceiling: median(shares.produce),
    consume_share_of_ceiling: median(shares.consume),
    produce_share_of_handler_ceiling: median(shares.produceHandler),
    consume_share_of_handler_ceiling: median(shares.consumeHandler),
  };
  console.log('');
  printTable([
    [
      '',
      'system MiB/s',
      'floor MiB/s',
      'system records/s',
      'ratio (median of rounds)',
      'bare HTTP MiB/s',
      'HTTP ceiling of the ratio',
      'share of it',
      'dev-path ceiling',
      'share of it',
    ],
    [
      'produce',
      round(metrics.produce_mb_s, 1),
      round(metrics.floor_produce_mb_s, 1),
      Math.round(metrics.produce_records_s),
      round(metrics.produce_ratio),
      round(metrics.bare_http_upload_mb_s, 1),
      round(metrics.produce_ratio_ceiling),
      round(metrics.produce_share_of_ceiling),
      round(metrics.produce_ratio_handler_ceiling),
      round(metrics.produce_share_of_handler_ceiling),
    ],
    [
      'consume',
      round(metrics.consume_mb_s, 1),
      round(metrics.floor_consume_mb_s, 1),
      Math.round(metrics.consume_records_s),
      round(metrics.consume_ratio),
      round(metrics.bare_http_download_mb_s, 1),
      round(metrics.consume_ratio_ceiling),
      round(metrics.consume_share_of_ceiling),
      round(metrics.consume_ratio_handler_ceiling),
      round(metrics.consume_share_of_handler_ceiling),
    ],
  ]);
  console.log(
    `per-round shares (min–max): produce ${spread(shares.produce)} of bare HTTP, ${spread(shares.produceHandler)} of the dev path; ` +
      `consume ${spread(shares.consume)} / ${spread(shares.consumeHandler)}`,
  );
  console.log(
    `wrote ${writeResults('e2e', Object.fromEntries(Object.entries(metrics).map(([k, v]) => [k, round(v)])))}`,
  );
  server.close();
  agent.destroy();
  (meta as SqliteMetaStore).close();
  await rm(dir, { recursive: true, force: true });
}
