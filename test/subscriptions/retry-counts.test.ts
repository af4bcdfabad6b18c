/**
 * Retry attempts are counted per batch, as Lambda counts them, whatever the runs: one run,
 * runs cut short by their deadline (the trigger function's continuations), and runs by
 * different dispatchers taking the lease over in turn. A target that always fails is invoked
 * exactly `maxRetryAttempts + 1` times per batch; with `bisectBatchOnFunctionError`, the
 * split batch once more (splitting uses up no attempt) and each half `maxRetryAttempts + 1`
 * times. On files + SQLite and on S3 + DynamoDB (emulator).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { keys } from '../../core/keys.js';
import { makeStores, type TestStores } from '../helpers/stores.js';
import { type World, world } from './world.js';

let stores: TestStores | undefined;
afterEach(async () => {
  await stores?.cleanup();
  stores = undefined;
});

type Mode = 'one run' | 'a run per invocation, dispatchers taking turns';

async function deliver(w: World, mode: Mode): Promise<void> {
  if (mode === 'one run') {
    expect((await w.dispatcher('d').dispatch('s', 0)).status).toBe('caught-up');
    return;
  }
  // Each invocation takes 5 ms, and each run may start none after 1 ms: one invocation per run.
  // Each run is another dispatcher's, a minute after the last (past any backoff and lease).
  for (let run = 0; run < 50; run++) {
    w.clock.advance(61_000);
    const r = await w.dispatcher(`d${run}`).dispatch('s', 0, { deadline: w.clock.now() + 1 });
    expect(r.invocations).toBeLessThanOrEqual(1);
    if (r.status === 'caught-up') return;
    expect(r.status).toBe('deadline');
  }
  throw new Error('not caught up after 50 runs');
}

for (const kind of ['sqlite', 'aws'] as const) {
  describe(`retry attempts per batch on ${kind}`, () => {
    const modes: Mode[] =
      kind === 'aws'
        ? ['a run per invocation, dispatchers taking turns']
        : ['one run', 'a run per invocation, dispatchers taking turns'];
    for (const mode of modes) {
      for (const bisect of [false, true]) {
        it(`maxRetryAttempts 0, 1, 2${bisect ? ' with bisect' : ''}: ${mode}`, async () => {
          stores = await makeStores(kind);
          const w = world(stores);
          await w.topics.create('t', 1);
          for (const max of [0, 1, 2]) {
            const name = `s`;
            await w.subs.delete(name).catch(() => undefined);
            const start = (await w.reader.head(await w.topics.withPartition('t', 0), 0)).data.next;
            await w.produce('t', 0, 2);
            await w.subs.create({
              name,
              topic: 't',
              target: 'fn',
              groupId: `g${max}`,
              startingPosition: 'latest',
              batchSize: 10,
              maxRetryAttempts: max,
              bisectBatchOnFunctionError: bisect,
              onFailure: 'dlq',
            });
            // 'latest' pinned the offset after the two records: deliver them.
            await w.meta.transact([
              { type: 'put', key: keys.committed(`g${max}`, 't', 0), data: { offset: start, at: 0 } },
            ]);
            w.invocations.length = 0;
            w.dlq.length = 0;
            w.setBehaviour(() => {
              w.clock.advance(5);
              return { ok: false, error: 'boom' };
            });
            await deliver(w, mode);

            const a = start;
            const b = start + 1;
            const tries = Array.from({ length: max + 1 });
            const expected = bisect
              ? [[a, b], ...tries.map(() => [a]), ...tries.map(() => [b])]
              : tries.map(() => [a, b]);
            expect(w.invocations.map((i) => i.offsets)).toEqual(expected);
            expect(w.dlq.map((f) => [f.startOffset, f.endOffset, f.attempts, f.error])).toEqual(
              bisect
                ? [
                    [a, a, max + 1, 'boom'],
                    [b, b, max + 1, 'boom'],
                  ]
                : [[a, b, max + 1, 'boom']],
            );
            const item = await w.meta.get(keys.committed(`g${max}`, 't', 0));
            expect(item?.data).toEqual({ offset: b + 1, at: expect.any(Number), tid: expect.any(String) }); // no retry state left
          }
        });
      }
    }
  });
}
