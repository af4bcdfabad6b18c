/**
 * Native npm packages and the Lambda bundle.
 *
 * esbuild cannot inline a `.node` binary, and napi-rs packages pick their binary at run time
 * from a per-platform optional package (`@node-rs/crc32-linux-arm64-gnu`, …). `npm install`
 * on a developer's laptop or CI fetches the variant of *that* machine, so copying
 * `node_modules` would ship the wrong one. Instead the packages stay external to esbuild and,
 * after bundling, npm installs them again into the asset for Lambda's platform (Linux, glibc,
 * the function's CPU), at the exact versions of the lock file the tests ran against.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Architecture } from 'aws-cdk-lib/aws-lambda';

/** napi-rs packages the handlers load on Lambda; installed into each bundle for Lambda's platform. */
export const NATIVE_PACKAGES = ['@node-rs/crc32', 'snappy', 'lz4-napi'] as const;

/**
 * Packages kept out of the bundle and not installed: never loaded on Lambda.
 *
 * - zstd-napi: the fallback for runtimes without node:zlib zstd (Lambda's Node 24 has it),
 *   loaded with `require` on first use, so it can simply stay external.
 * - better-sqlite3: backs local storage only, but storage/sqlite.ts imports it statically,
 *   and esbuild hoists an external static import to the top of an ES module bundle, where
 *   it would fail at load time. It is aliased to a stub instead (see {@link LOCAL_ONLY_STUBS}).
 */
export const LOCAL_ONLY_PACKAGES = ['zstd-napi'] as const;

/** Local-only packages replaced in the bundle by a stub that throws if used. */
export const LOCAL_ONLY_STUBS: Readonly<Record<string, string>> = {
  'better-sqlite3': fileURLToPath(new URL('./lambda-stubs/better-sqlite3.ts', import.meta.url)),
};

/** A package the bundle needs is in neither the lock file nor package.json. */
export class NativePackageVersionError extends Error {
  override name = 'NativePackageVersionError';
  constructor(
    readonly packageName: string,
    projectRoot: string,
    options?: { cause?: unknown },
  ) {
    super(
      `cannot tell which version of '${packageName}' to bundle: it is in neither package-lock.json nor package.json under ${projectRoot}`,
      options,
    );
  }
}

/**
 * The version of each package to install into the bundle: the one the lock file pins (what
 * the tests ran against), else the range package.json declares.
 *
 * @example
 * lockedVersions('/repo', ['snappy']); // { snappy: '7.4.3' }
 */
export function lockedVersions(projectRoot: string, names: readonly string[]): Record<string, string> {
  const lock = readJson(join(projectRoot, 'package-lock.json')) as
    | { packages?: Record<string, { version?: string }> }
    | undefined;
  const manifest = readJson(join(projectRoot, 'package.json')) as
    | { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> }
    | undefined;
  const versions: Record<string, string> = {};
  for (const name of names) {
    const version =
      lock?.packages?.[`node_modules/${name}`]?.version ??
      manifest?.dependencies?.[name] ??
      manifest?.optionalDependencies?.[name];
    if (!version) throw new NativePackageVersionError(name, projectRoot);
    versions[name] = version;
  }
  return versions;
}

/** npm's name (`--cpu`) for a Lambda architecture. */
export function npmCpu(architecture: Architecture): 'arm64' | 'x64' {
  return architecture.name === Architecture.X86_64.name ? 'x64' : 'arm64';
}

/**
 * The shell command that installs `versions` into `outputDir/node_modules` for Lambda
 * (Linux, glibc, the given CPU). npm ≥ 10 honours `--os`/`--cpu`/`--libc` when choosing
 * optional dependencies, which is how napi-rs ships binaries; `--ignore-scripts` because
 * the binaries are prebuilt; `--prefer-offline` so a warm npm cache needs no network.
 *
 * @example
 * installNativeCommand('/tmp/out', Architecture.ARM_64, { snappy: '7.4.3' });
 * // npm install --prefix "/tmp/out" … --os=linux --cpu=arm64 --libc=glibc "snappy@7.4.3"
 */
export function installNativeCommand(
  outputDir: string,
  architecture: Architecture,
  versions: Record<string, string>,
): string {
  const specs = Object.entries(versions).map(([name, version]) => quote(`${name}@${version}`));
  return [
    'npm install',
    `--prefix ${quote(outputDir)}`,
    '--no-save --no-package-lock --prefer-offline --ignore-scripts --omit=dev',
    '--no-audit --no-fund --loglevel=error',
    `--os=linux --cpu=${npmCpu(architecture)} --libc=glibc`,
    ...specs,
  ].join(' ');
}

/** A path or package spec that cannot be passed safely inside double quotes to the shell. */
export class UnsafeShellArgumentError extends Error {
  override name = 'UnsafeShellArgumentError';
  constructor(readonly argument: string) {
    super(`refusing to pass ${JSON.stringify(argument)} to the shell: it contains " $ \\ or a backquote`);
  }
}

function quote(s: string): string {
  if (/["$`\\]/.test(s)) throw new UnsafeShellArgumentError(s);
  return `"${s}"`;
}

function readJson(path: string): unknown {
  if (!existsSync(path)) return undefined;
  return JSON.parse(readFileSync(path, 'utf8'));
}
