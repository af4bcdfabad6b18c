/**
 * `npm run build`, second step: bundles every Lambda handler into dist/handlers/<name>/index.mjs
 * (esbuild, ES module for Node 24, no source map) and writes the native packages' versions
 * from package-lock.json to dist/handlers/native-versions.json, so the published construct
 * synthesizes without TypeScript sources, a lock file or esbuild (lib/handler-bundles.ts).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  bundleHandler,
  HANDLER_NAMES,
  HANDLER_SPECS,
  PREBUILT_DIR,
  SOURCE_ROOT,
  writeNativeVersions,
} from '../lib/handler-bundles.js';

rmSync(PREBUILT_DIR, { recursive: true, force: true });
mkdirSync(PREBUILT_DIR, { recursive: true });
for (const name of HANDLER_NAMES) {
  const out = join(PREBUILT_DIR, name);
  mkdirSync(out, { recursive: true });
  const bytes = bundleHandler(name, join(SOURCE_ROOT, HANDLER_SPECS[name].source), out);
  console.log(
    `${name.padEnd(12)} ${(bytes / 1024).toFixed(0).padStart(6)} KiB  native: ${HANDLER_SPECS[name].native.join(', ') || '-'}`,
  );
}
writeNativeVersions(PREBUILT_DIR);
