/** Virtual time for suites over `ManualClock` and the modelled stores (storage/modelled.ts). */
import type { ManualClock } from '../../core/clock.js';

/**
 * Settles `promise` while moving `clock` forward in steps of 0.25 ms, letting pending I/O
 * run between steps, so concurrent calls overlap as they would in real time. Fails after
 * `limitMs` of virtual time (default 200 s) rather than spinning forever.
 */
export async function drive<T>(clock: ManualClock, promise: Promise<T>, limitMs = 200_000): Promise<T> {
  let done = false;
  const settled = promise.finally(() => {
    done = true;
  });
  settled.catch(() => {});
  const steps = limitMs / 0.25;
  for (let step = 0; !done; step++) {
    if (step > steps) throw new Error(`drive: not settled after ${limitMs / 1000} s of virtual time`);
    await new Promise((resolve) => setImmediate(resolve));
    clock.advance(0.25);
  }
  return settled;
}
