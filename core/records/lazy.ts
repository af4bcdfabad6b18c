/**
 * Optional native codecs are loaded on first use, never at import time: the uncompressed
 * and gzip paths must work in a Lambda bundle that ships none of them.
 */
import { createRequire } from 'node:module';
import { UnsupportedCompressionTypeError } from '../errors.js';

/**
 * Resolved at first use. ESM (source or bundle) has `import.meta.url`; a CommonJS bundle has
 * an empty one but a real `require`. Testing `typeof require` first would be wrong: ESM
 * bundles define a `require` shim that only throws.
 */
export function nodeRequire(): NodeJS.Require {
  const url: unknown = import.meta.url;
  return typeof url === 'string' && url !== '' ? createRequire(url) : require;
}

/**
 * Returns a loader that `require`s `id` once, on first call, and caches the module.
 * Bundlers must leave these native modules external (they cannot be inlined anyway).
 */
export function lazyModule<T>(id: string): () => T {
  let mod: T | undefined;
  return () => {
    if (mod === undefined) {
      try {
        mod = nodeRequire()(id) as T;
      } catch (cause) {
        throw new CodecUnavailableError(id, cause);
      }
    }
    return mod;
  };
}

/**
 * A batch uses a codec whose native module is not installed in this runtime: the codec is
 * unsupported here (`UNSUPPORTED_COMPRESSION_TYPE`), the batch is not corrupt.
 */
export class CodecUnavailableError extends UnsupportedCompressionTypeError {
  override name = 'CodecUnavailableError';
  constructor(moduleId: string, cause: unknown) {
    super(`compression module '${moduleId}' is not available in this runtime`, { cause });
  }
}
