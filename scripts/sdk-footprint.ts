/**
 * What the SDK costs an application, measured the way a user meets it (issue 11 §6):
 *
 * - install: `npm install` of the packed package into an empty app: packages installed and
 *   packages with an install script (a compile), goals ≤ 15 and 0;
 * - bundle: a Lambda producer that imports the SDK and sends one record, bundled by esbuild
 *   (minified, ES module, Node 22), goal ≤ 250 KB.
 *
 * `npx tsx scripts/sdk-footprint.ts [sluice-x.y.z.tgz]` (packs the repository, built, when no
 * tarball is given); prints the figures as JSON and exits 1 when a goal is missed. CI runs it.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const GOALS = { maxPackages: 15, maxCompiled: 0, maxBundleBytes: 250_000 } as const;

export interface SdkFootprint {
  /** Packages `npm install` put in node_modules (sluice included). */
  packages: number;
  /** Those of them with an install script (node-gyp builds and the like). */
  compiled: string[];
  /** Bytes of node_modules on disk. */
  installedBytes: number;
  /** Bytes of the minified producer bundle. */
  bundleBytes: number;
  /** Whether every goal of {@link GOALS} is met. */
  ok: boolean;
}

const PRODUCER = `
import { Sluice } from 'sluice';

const sluice = new Sluice({ endpoint: process.env.SLUICE_ENDPOINT });
const producer = sluice.producer();

export async function handler(event) {
  await producer.connect();
  const [sent] = await producer.send({ topic: 'orders', messages: [{ key: event.id, value: JSON.stringify(event) }] });
  return sent;
}
`;

function duBytes(dir: string): number {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
}

/** Installs `tarball` into an empty app under `workDir` and bundles a producer against it. */
export function measureSdkFootprint(tarball: string, workDir: string): SdkFootprint {
  const app = join(workDir, 'sdk-app');
  mkdirSync(app, { recursive: true });
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'sdk-app', private: true, type: 'module' }),
  );
  execFileSync(
    'npm',
    ['install', `file:${tarball}`, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'],
    { cwd: app, stdio: ['ignore', 'ignore', 'inherit'] },
  );
  const lock = JSON.parse(readFileSync(join(app, 'node_modules', '.package-lock.json'), 'utf8')) as {
    packages: Record<string, { hasInstallScript?: boolean; link?: boolean }>;
  };
  const installed = Object.entries(lock.packages).filter(([path]) => path.startsWith('node_modules/'));
  const compiled = installed
    .filter(([, p]) => p.hasInstallScript)
    .map(([path]) => path.slice('node_modules/'.length));
  writeFileSync(join(app, 'handler.mjs'), PRODUCER);
  const esbuild = createRequire(import.meta.url)('esbuild') as {
    buildSync(options: Record<string, unknown>): unknown;
  };
  const outfile = join(app, 'out', 'index.mjs');
  esbuild.buildSync({
    entryPoints: [join(app, 'handler.mjs')],
    outfile,
    bundle: true,
    minify: true,
    platform: 'node',
    format: 'esm',
    target: 'node22',
    absWorkingDir: app,
    logLevel: 'error',
  });
  const bundleBytes = statSync(outfile).size;
  const packages = installed.length;
  return {
    packages,
    compiled,
    installedBytes: duBytes(join(app, 'node_modules')),
    bundleBytes,
    ok:
      packages <= GOALS.maxPackages &&
      compiled.length <= GOALS.maxCompiled &&
      bundleBytes <= GOALS.maxBundleBytes,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const work = mkdtempSync(join(tmpdir(), 'sluice-sdk-footprint-'));
  try {
    let tarball = process.argv[2];
    if (!tarball) {
      const packed = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
        cwd: root,
        encoding: 'utf8',
      });
      tarball = join(work, (JSON.parse(packed) as { filename: string }[])[0]!.filename);
    }
    const figures = measureSdkFootprint(tarball, work);
    console.log(JSON.stringify({ goals: GOALS, ...figures }, null, 2));
    if (!figures.ok) process.exitCode = 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
