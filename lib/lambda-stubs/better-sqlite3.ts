/**
 * Stands in for better-sqlite3 in Lambda bundles (esbuild `--alias`). storage/sqlite.ts
 * imports better-sqlite3 statically; esbuild hoists an external static import to the top of
 * an ES module bundle, so leaving the package external would make every function fail at
 * load time on Lambda, where it is not installed. Local storage never runs there: this stub
 * only fails if something tries.
 */

/** A local-only module was used inside a Lambda bundle. */
export class LocalOnlyModuleError extends Error {
  override name = 'LocalOnlyModuleError';
  constructor(moduleId: string) {
    super(`'${moduleId}' backs local storage only and is not in the Lambda bundle; use SLUICE_STORAGE=aws`);
  }
}

export default class Database {
  constructor() {
    throw new LocalOnlyModuleError('better-sqlite3');
  }
}
