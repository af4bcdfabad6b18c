/**
 * The Lambda handler bundles: what each function's bundle holds, how esbuild makes it, and
 * where the construct finds it.
 *
 * Two modes, one recipe:
 * - Published package (`dist/lib/*.js`): `npm run build` has bundled every handler into
 *   `dist/handlers/<name>/` (index.mjs and chunks/) and written the native packages' versions to
 *   `dist/handlers/native-versions.json`; synth copies the bundle and installs the native
 *   packages for Lambda's platform. No TypeScript, no lock file, no esbuild needed in the
 *   user's app.
 * - This repository (`lib/*.ts`, tests, `npx cdk synth`): synth bundles from the sources with
 *   the same options, the versions coming from package-lock.json.
 *
 * Each function bundles only what it uses: AWS clients it never calls stay out (left as
 * external dynamic imports that never run), the native packages are installed only into the
 * functions that run codecs, and there is no source map (names are kept for stack traces).
 */
import { execSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import {
  installNativeCommand,
  LOCAL_ONLY_PACKAGES,
  LOCAL_ONLY_STUBS,
  lockedVersions,
  NATIVE_PACKAGES,
  NativePackageVersionError,
  npmCpu,
} from './native-modules.js';

const LIB_FILE = fileURLToPath(import.meta.url);
const LIB_DIR = dirname(LIB_FILE);
/** True when this module runs from the published package (compiled), false from the sources. */
export const PUBLISHED = LIB_FILE.endsWith('.js');
/** The repository root (source mode), holding package.json and package-lock.json. */
export const SOURCE_ROOT = join(LIB_DIR, '..');
/** Where `npm run build` writes the bundles: dist/handlers, beside dist/lib. */
export const PREBUILT_DIR = PUBLISHED
  ? join(LIB_DIR, '..', 'handlers')
  : join(SOURCE_ROOT, 'dist', 'handlers');
/** The file of {@link PREBUILT_DIR} holding the native packages' versions. */
export const NATIVE_VERSIONS_FILE = 'native-versions.json';

type NativePackage = (typeof NATIVE_PACKAGES)[number];

export interface HandlerSpec {
  /** The entry, relative to the repository root. */
  readonly source: string;
  /** Native packages installed into the bundle (the functions that compress or decompress). */
  readonly native: readonly NativePackage[];
  /** Packages this function never loads: left external, so their code stays out of the bundle. */
  readonly unused: readonly string[];
}

const ALL_NATIVE = NATIVE_PACKAGES;
/**
 * The functions serving HTTP resolve their URLs from SSM; only maintenance sends to SQS; only
 * produce (POST /v1/inbox) and the batcher touch a Kinesis inbox.
 */
const API_UNUSED = ['@aws-sdk/client-sqs', '@aws-sdk/client-lambda', '@aws-sdk/client-kinesis'];

/** Every handler Sluice deploys. */
export const HANDLER_SPECS = {
  // Produce sends acks=1 records to the inbox (SQS).
  produce: { source: 'lambdas/produce.ts', native: ALL_NATIVE, unused: ['@aws-sdk/client-lambda'] },
  fetch: { source: 'lambdas/fetch.ts', native: ALL_NATIVE, unused: API_UNUSED },
  // Topics, offsets and groups never compress or decompress a batch; CRC32C, if ever
  // needed, has a portable fallback (core/records/crc32c.ts).
  admin: { source: 'lambdas/admin.ts', native: [], unused: API_UNUSED },
  groups: { source: 'lambdas/groups.ts', native: [], unused: API_UNUSED },
  // The schema registry reads and writes table items only.
  schemas: { source: 'lambdas/schemas.ts', native: [], unused: API_UNUSED },
  // The acks=1 inbox batcher: encodes and checks batches (CRC32C), never compresses; SQS to
  // release held-back messages early.
  batcher: {
    source: 'lambdas/batcher.ts',
    native: ['@node-rs/crc32'],
    unused: ['@aws-sdk/client-ssm', '@aws-sdk/client-lambda'],
  },
  // Maintenance sends tasks to SQS and wakes the subscriptions trigger (Lambda).
  maintenance: {
    source: 'lambdas/maintenance.ts',
    native: ALL_NATIVE,
    unused: ['@aws-sdk/client-ssm', '@aws-sdk/client-kinesis'],
  },
  topics: {
    source: 'lib/topics-handler.ts',
    native: [],
    unused: ['@aws-sdk/client-sqs', '@aws-sdk/client-ssm', '@aws-sdk/client-kinesis'],
  },
  // Reads records (decompression) and invokes targets, sends failures to SQS.
  subscriptions: {
    source: 'lambdas/subscriptions.ts',
    native: ALL_NATIVE,
    unused: ['@aws-sdk/client-ssm', '@aws-sdk/client-kinesis'],
  },
  'subscriptions-provider': {
    source: 'lib/subscriptions-handler.ts',
    native: [],
    unused: ['@aws-sdk/client-sqs', '@aws-sdk/client-ssm', '@aws-sdk/client-kinesis'],
  },
} as const satisfies Record<string, HandlerSpec>;

export type HandlerName = keyof typeof HANDLER_SPECS;
export const HANDLER_NAMES = Object.keys(HANDLER_SPECS) as HandlerName[];

/**
 * ESM bundles still contain CommonJS dependencies that call `require`; esbuild's shim throws
 * unless a real `require` is in scope, so the bundle opens by making one.
 */
const REQUIRE_BANNER =
  "import { createRequire as __sluiceCreateRequire } from 'node:module'; const require = __sluiceCreateRequire(import.meta.url);";

/** The subset of esbuild's BuildResult this module reads. */
interface EsbuildResult {
  metafile?: { outputs: Record<string, { bytes: number }> };
  warnings: unknown[];
}
type BuildSync = (options: Record<string, unknown>) => EsbuildResult;

/**
 * Bundles `entry` into `outDir/index.mjs` (and `outDir/chunks/`) for Lambda's Node 24 with
 * esbuild (a development dependency: only the repository and `npm run build` call this).
 * Returns the bundle's size (all its files).
 *
 * @example
 * bundleHandler('produce', '/repo/lambdas/produce.ts', '/tmp/produce'); // 1_234_567
 */
export function bundleHandler(name: HandlerName, entry: string, outDir: string): number {
  const spec: HandlerSpec = HANDLER_SPECS[name];
  const esbuild = createRequire(LIB_FILE)('esbuild') as { buildSync: BuildSync };
  const result = esbuild.buildSync({
    entryPoints: { index: entry },
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    // Code reached only by dynamic import (the AWS clients, schema languages, codecs, rare
    // paths) goes to chunks/ and is parsed when first used, not at every cold start.
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node24',
    mainFields: ['module', 'main'],
    banner: { js: REQUIRE_BANNER },
    minify: true,
    keepNames: true,
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'error',
    metafile: true,
    // The AWS SDK is bundled at the version the tests ran against, not the runtime's.
    external: [...NATIVE_PACKAGES, ...LOCAL_ONLY_PACKAGES, ...spec.unused],
    alias: LOCAL_ONLY_STUBS,
  });
  return Object.values(result.metafile?.outputs ?? {}).reduce((sum, o) => sum + o.bytes, 0);
}

/** The versions to install of `names`: from the prebuilt package's file, else the lock file. */
export function nativeVersions(names: readonly string[]): Record<string, string> {
  if (PUBLISHED) {
    const file = join(PREBUILT_DIR, NATIVE_VERSIONS_FILE);
    const all = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>) : {};
    const out: Record<string, string> = {};
    for (const name of names) {
      const version = all[name];
      if (!version) throw new NativePackageVersionError(name, PREBUILT_DIR);
      out[name] = version;
    }
    return out;
  }
  return lockedVersions(SOURCE_ROOT, names);
}

/** Writes the native packages' versions beside the prebuilt bundles (`npm run build`). */
export function writeNativeVersions(dir: string): void {
  writeFileSync(
    join(dir, NATIVE_VERSIONS_FILE),
    `${JSON.stringify(lockedVersions(SOURCE_ROOT, NATIVE_PACKAGES), null, 2)}\n`,
  );
}

/** node_modules directories already installed in this process, by CPU and versions. */
const installed = new Map<string, string>();

/**
 * A node_modules directory holding `versions` for Linux on `architecture`, installed once per
 * process (npm --prefer-offline) and copied into each function that needs it.
 */
function nativeModules(architecture: lambda.Architecture, versions: Record<string, string>): string {
  const key = `${npmCpu(architecture)} ${JSON.stringify(versions)}`;
  let dir = installed.get(key);
  if (!dir) {
    const prefix = mkdtempSync(join(tmpdir(), 'sluice-native-'));
    execSync(installNativeCommand(prefix, architecture, versions), {
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    process.once('exit', () => rmSync(prefix, { recursive: true, force: true }));
    dir = join(prefix, 'node_modules');
    installed.set(key, dir);
  }
  return dir;
}

/** A prebuilt handler is missing from the package (a build that did not run `npm run build`). */
export class MissingHandlerBundleError extends Error {
  override name = 'MissingHandlerBundleError';
  constructor(readonly path: string) {
    super(
      `the prebuilt handler bundle ${path} is missing: the package was published without 'npm run build'`,
    );
  }
}

export interface HandlerCodeOptions {
  /** Bundle this source file instead of the handler's own (tests, custom handlers); needs esbuild. */
  readonly entry?: string;
}

/**
 * The Lambda code of one handler for one architecture: the bundle (prebuilt, or made from
 * the sources), plus the native packages it needs installed for Linux on that CPU by npm
 * (`--prefer-offline`: a warm npm cache synthesizes without network). Bundling runs locally,
 * never in Docker; the image named is never pulled.
 *
 * @example
 * new lambda.Function(scope, 'Produce', { code: handlerCode('produce', lambda.Architecture.ARM_64), handler: 'index.handler', … });
 */
export function handlerCode(
  name: HandlerName,
  architecture: lambda.Architecture,
  options: HandlerCodeOptions = {},
): lambda.Code {
  const spec: HandlerSpec = HANDLER_SPECS[name];
  const prebuilt = options.entry === undefined && PUBLISHED ? join(PREBUILT_DIR, name) : undefined;
  if (prebuilt && !existsSync(join(prebuilt, 'index.mjs'))) {
    throw new MissingHandlerBundleError(join(prebuilt, 'index.mjs'));
  }
  const entry = options.entry ?? join(SOURCE_ROOT, spec.source);
  const versions = spec.native.length > 0 ? nativeVersions(spec.native) : {};
  return lambda.Code.fromAsset(prebuilt ?? dirname(entry), {
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      image: DockerImage.fromRegistry('public.ecr.aws/lambda/nodejs:24'),
      // Not read by the local bundler: they key CDK's asset cache, which would otherwise
      // hand two handlers from one folder the same asset.
      environment: {
        SLUICE_HANDLER: name,
        SLUICE_ENTRY: prebuilt ? `prebuilt:${name}` : entry,
        SLUICE_CPU: npmCpu(architecture),
        SLUICE_NATIVE: JSON.stringify(versions),
      },
      local: {
        tryBundle(outputDir: string): boolean {
          if (prebuilt) cpSync(prebuilt, outputDir, { recursive: true });
          else bundleHandler(name, entry, outputDir);
          if (spec.native.length > 0) {
            cpSync(nativeModules(architecture, versions), join(outputDir, 'node_modules'), {
              recursive: true,
            });
          }
          return true;
        },
      },
    },
  });
}
