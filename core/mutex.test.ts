import { describe, expect, it } from 'vitest';
import { KeyedMutex } from './mutex.js';

describe('KeyedMutex', () => {
  it('serialises holders of a key and lets other keys run', async () => {
    const m = new KeyedMutex();
    const log: string[] = [];
    const tick = () => new Promise((r) => setTimeout(r, 5));
    await Promise.all([
      m.run(['a'], async () => {
        log.push('a1+');
        await tick();
        log.push('a1-');
      }),
      m.run(['a'], async () => {
        log.push('a2+');
        await tick();
        log.push('a2-');
      }),
      m.run(['b'], async () => {
        log.push('b+');
      }),
    ]);
    expect(log.indexOf('a1-')).toBeLessThan(log.indexOf('a2+'));
    expect(log.indexOf('b+')).toBeLessThan(log.indexOf('a1-'));
  });

  it('takes many keys in a fixed order without deadlock, and releases on error', async () => {
    const m = new KeyedMutex();
    let inside = 0;
    let max = 0;
    const work = (keys: string[]) =>
      m.run(keys, async () => {
        inside++;
        max = Math.max(max, inside);
        await new Promise((r) => setTimeout(r, 1));
        inside--;
      });
    await Promise.all(Array.from({ length: 20 }, (_, i) => work(i % 2 ? ['x', 'y'] : ['y', 'x'])));
    expect(max).toBe(1);
    await expect(m.run(['x'], async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await m.run(['x'], async () => {}); // not stuck
  });
});
