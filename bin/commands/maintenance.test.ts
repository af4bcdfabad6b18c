import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ManualClock } from '../../core/clock.js';
import type { MaintenanceReport } from '../../core/maintenance/index.js';
import { createContext } from '../../lambdas/context.js';
import { storesFromEnv } from '../../storage/config.js';
import { MemoryMetaStore, MemoryObjectStore } from '../../storage/memory.js';
import { engine, objectKeysOf, produce } from '../../test/maintenance/harness.js';
import { startDevServer } from '../dev.js';
import { maintenanceCommand, maintenanceHelp } from './maintenance.js';

const dirs: string[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  const into = (sink: string[]) => (s: string | Uint8Array) => {
    sink.push(String(s));
    return true;
  };
  vi.spyOn(process.stdout, 'write').mockImplementation(into(out));
  vi.spyOn(process.stderr, 'write').mockImplementation(into(err));
  return { out: () => out.join(''), err: () => err.join('') };
}

describe('sluice maintenance', () => {
  it('prints its help and refuses bad usage', async () => {
    const io = capture();
    expect(await maintenanceCommand(['--help'])).toBe(0);
    expect(io.out()).toBe(maintenanceHelp);
    expect(await maintenanceCommand([])).toBe(2);
    expect(await maintenanceCommand(['sweep'])).toBe(2);
    expect(await maintenanceCommand(['run', '--grace-ms=-1'])).toBe(2);
    expect(io.err()).toContain("unknown action 'sweep'");
    expect(io.err()).toContain('--grace-ms must be an integer');
    await expect(maintenanceCommand(['run', '--bogus'])).rejects.toThrow(/bogus/);
  });

  it('runs a pass on the local store and reports what it did', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-maint-'));
    dirs.push(dir);
    const env = { SLUICE_STORAGE: 'local', SLUICE_DATA_DIR: dir };
    const stores = await storesFromEnv(env);
    const e = engine({ stores, clock: new ManualClock(Date.now(), { autoAdvance: true }) });
    await e.topics.create('old', 1, { 'retention.ms': 60_000 });
    // Records stamped long ago expire at once; an object nobody committed is an orphan.
    await produce(e, 'old', {
      0: [
        { value: 'a', timestamp: 1000 },
        { value: 'b', timestamp: 1000 },
      ],
    });
    await stores.objects.put('data/orphan.seg', new Uint8Array(100));
    await stores.close();

    const io = capture();
    const code = await maintenanceCommand(['run', '--grace-ms', '0', '--json', '--data-dir', dir]);
    expect(io.err()).toContain('only safe if nothing writes to this store now');
    expect(code).toBe(0);
    const report = JSON.parse(io.out());
    expect(report).toMatchObject({
      recordsExpired: 2,
      orphansDeleted: 1,
      objectsDeleted: 1,
      errors: [],
    });
    expect(report.storage).toContain(dir);
    const after = await storesFromEnv(env);
    expect(await objectKeysOf(after.objects)).toEqual([]);
    await after.close();

    const text = capture();
    expect(await maintenanceCommand(['run', '--data-dir', dir])).toBe(0);
    expect(text.out()).toMatch(/tasks in \d+ ms: 1 partition maintained, 0 B reclaimed/);
  });
});

describe('sluice dev maintenance timer', () => {
  it('runs passes in the dev server until it closes', async () => {
    const clock = new ManualClock(Date.now(), { autoAdvance: true });
    const stores = { meta: new MemoryMetaStore(), objects: new MemoryObjectStore() };
    const context = createContext(stores, { clock, env: {} });
    const e = engine({ stores, clock });
    await e.topics.create('t', 1, { 'retention.ms': 60_000 });
    await produce(e, 't', { 0: [{ value: 'old', timestamp: 1000 }] });
    const reports: MaintenanceReport[] = [];
    const server = await startDevServer({
      port: 0,
      context,
      maintenanceIntervalMs: 20,
      onMaintenance: (r) => reports.push(r),
    });
    try {
      for (let i = 0; i < 250 && reports.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    } finally {
      await server.close();
    }
    expect(reports[0]).toMatchObject({ recordsExpired: 1, objectsDeleted: 1 });
    expect(await objectKeysOf(stores.objects)).toEqual([]);
  });
});
