/**
 * `sluice maintenance run`: one maintenance pass on demand, against the store `sluice dev`
 * uses; and the timer that runs passes inside `sluice dev`.
 */
import { parseArgs } from 'node:util';
import {
  formatReport,
  type MaintenanceDeps,
  type MaintenanceOptions,
  type MaintenanceReport,
  resolveMaintenanceOptions,
  runMaintenancePass,
} from '../../core/maintenance/index.js';
import { systemClock } from '../../lambdas/context.js';
import { optionsFromEnv, ownerName } from '../../lambdas/maintenance.js';

export const maintenanceHelp = `Usage: sluice maintenance run [options]

Runs one maintenance pass now: time and size retention, small-object compaction,
compacted topics, reclamation of deleted topics, orphan GC. It works on the store
\`sluice dev\` uses (SLUICE_STORAGE, SLUICE_DATA_DIR, SLUICE_BUCKET/SLUICE_TABLE,
AWS_ENDPOINT_URL) and is safe while a dev server runs on it: each partition is worked on
under a lease, and every change is a conditional write.

Options:
  --grace-ms <ms>    orphan GC deletes unreferenced objects older than this (default 3600000).
                     Below a minute it may delete the object of an append (or a rewrite)
                     still committing: use small values only on a store nothing writes to.
  --data-dir <dir>   where the embedded store keeps data (env SLUICE_DATA_DIR, default ./.sluice)
  --json             print the report as JSON
  -h, --help         show this help

Other settings come from SLUICE_MAINTENANCE_OPTIONS (JSON), e.g.
  SLUICE_MAINTENANCE_OPTIONS='{"targetObjectBytes":8388608,"maxCompactionDelayMs":0}'

Exit codes: 0 ok, 1 a task failed (it is retried by the next pass), 2 bad usage.
`;

/** Above an append's commit deadline (20 s) with a margin. */
const SAFE_GRACE_MS = 60_000;

function usage(message: string): number {
  process.stderr.write(`sluice maintenance: ${message}\nRun 'sluice maintenance --help' for usage.\n`);
  return 2;
}

export async function maintenanceCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      'grace-ms': { type: 'string' },
      'data-dir': { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
    allowPositionals: true,
  });
  if (values.help) {
    process.stdout.write(maintenanceHelp);
    return 0;
  }
  const [action, ...extra] = positionals;
  if (action !== 'run')
    return usage(action ? `unknown action '${action}'` : "say what to do: 'sluice maintenance run'");
  if (extra.length > 0) return usage(`unexpected argument '${extra[0]}'`);
  let graceMs: number | undefined;
  if (values['grace-ms'] !== undefined) {
    graceMs = Number(values['grace-ms']);
    if (!Number.isSafeInteger(graceMs) || graceMs < 0) {
      return usage(`--grace-ms must be an integer ≥ 0, got '${values['grace-ms']}'`);
    }
  }

  const env = { ...process.env };
  if (values['data-dir']) env.SLUICE_DATA_DIR = values['data-dir'];
  const options = resolveMaintenanceOptions({
    ...optionsFromEnv(env),
    ...(graceMs !== undefined && { orphanGraceMs: graceMs }),
  });
  if (options.orphanGraceMs < SAFE_GRACE_MS) {
    process.stderr.write(
      `sluice maintenance: warning: a grace period under ${SAFE_GRACE_MS} ms is only safe if nothing writes to this store now\n`,
    );
  }
  const { storesFromEnv } = await import('../../storage/config.js');
  const stores = await storesFromEnv(env);
  const started = Date.now();
  try {
    const deps: MaintenanceDeps = {
      ...stores,
      clock: systemClock,
      random: Math.random,
      owner: ownerName(Math.random, env),
    };
    // On demand means everything now: every partition with data, and orphan GC whatever its interval.
    const { tasks, report } = await runMaintenancePass(deps, options, { force: true });
    const ms = Date.now() - started;
    if (values.json) {
      process.stdout.write(
        `${JSON.stringify({ storage: stores.describe, tasks: tasks.length, ms, ...report }, null, 2)}\n`,
      );
    } else {
      process.stdout.write(
        `storage: ${stores.describe}\n${tasks.length} tasks in ${ms} ms: ${formatReport(report)}\n`,
      );
      for (const e of report.errors) process.stdout.write(`  failed: ${e.task}: ${e.message}\n`);
    }
    return report.errors.length > 0 ? 1 : 0;
  } finally {
    await stores.close();
  }
}

export interface MaintenanceTimer {
  /** Stops the timer and waits for a pass in progress. */
  stop(): Promise<void>;
}

/**
 * Runs a maintenance pass every `intervalMs` over `stores` (what `sluice dev` does), one
 * pass at a time. A pass that did something is reported through `onReport`; a failing
 * pass through `onError`, and the timer goes on.
 *
 * @example
 * const timer = startMaintenanceTimer(ctx, { intervalMs: 10_000 });
 * await timer.stop();
 */
export function startMaintenanceTimer(
  stores: Pick<MaintenanceDeps, 'meta' | 'objects'> & Partial<Pick<MaintenanceDeps, 'clock' | 'random'>>,
  settings: {
    intervalMs: number;
    /** Default: from SLUICE_MAINTENANCE_OPTIONS in `env`. */
    options?: MaintenanceOptions;
    env?: NodeJS.ProcessEnv;
    onReport?: (report: MaintenanceReport) => void;
    onError?: (error: unknown) => void;
  },
): MaintenanceTimer {
  const random = stores.random ?? Math.random;
  const deps: MaintenanceDeps = {
    meta: stores.meta,
    objects: stores.objects,
    clock: stores.clock ?? systemClock,
    random,
    owner: ownerName(random, settings.env),
  };
  const options = settings.options ?? optionsFromEnv(settings.env ?? process.env);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = (async () => {
      try {
        const { report } = await runMaintenancePass(deps, options);
        if (worthTelling(report)) settings.onReport?.(report);
      } catch (err) {
        settings.onError?.(err);
      }
    })().finally(() => {
      if (!stopped) timer = setTimeout(tick, settings.intervalMs).unref();
    });
  };
  timer = setTimeout(tick, settings.intervalMs).unref();
  return {
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}

/** True when a pass changed anything or failed somewhere. */
function worthTelling(r: MaintenanceReport): boolean {
  const changes =
    r.recordsExpired +
    r.entriesCompacted +
    r.recordsCleaned +
    r.objectsDeleted +
    r.orphansDeleted +
    r.topicsReclaimed +
    r.transactionsAborted;
  return changes > 0 || r.errors.length > 0;
}
