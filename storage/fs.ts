/**
 * The ObjectStore as files under a directory, for `sluice dev`. Safe with several
 * processes on one directory (the dev server and `sluice maintenance run`).
 *
 * Layout: each `/`-separated segment of a key is one path segment, escaped so that any key
 * maps to a valid, unique name even on case-insensitive file systems: bytes outside
 * `[a-z0-9._-]` become `%XX` (upper-case hex), so do the segments `.` and `..`, and an
 * empty segment is `%`. Objects end in `!` (which escaping never produces), so the object
 * `a/b` and the objects under `a/b/` never collide. Temporary files live in `~tmp/`.
 *
 * Create-only put: write a temporary file, fsync it, `link()` it to its final name
 * (atomic, and fails with EEXIST when the name is taken), fsync the directory.
 */
import { randomBytes } from 'node:crypto';
import { type FileHandle, link, mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidRequestError } from '../core/errors.js';
import {
  type ByteRange,
  type ListPage,
  ObjectExistsError,
  type ObjectInfo,
  ObjectNotFoundError,
  type ObjectStore,
} from '../core/ports.js';
import { checkByteRange, checkObjectKey, parseListOptions } from './object-args.js';
import { compareUtf8 } from './query.js';

const TMP_DIR = '~tmp';
const OBJECT_SUFFIX = '!';
/** Most file systems refuse longer names. */
const MAX_NAME_BYTES = 255;

/** Escapes one key segment into a file name (see the module comment). */
export function encodeSegment(segment: string): string {
  if (segment === '') return '%';
  if (segment === '.' || segment === '..') return segment.replaceAll('.', '%2E');
  let out = '';
  for (const byte of Buffer.from(segment, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[a-z0-9._-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The inverse of {@link encodeSegment}. */
export function decodeSegment(name: string): string {
  if (name === '%') return '';
  const bytes: number[] = [];
  for (let i = 0; i < name.length; i++) {
    if (name[i] === '%') {
      bytes.push(Number.parseInt(name.slice(i + 1, i + 3), 16));
      i += 2;
    } else bytes.push(name.charCodeAt(i));
  }
  return Buffer.from(bytes).toString('utf8');
}

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | null)?.code;
}

async function fsyncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (error) {
    // Some platforms (Windows) cannot open or fsync a directory; the link is still atomic.
    if (!['EISDIR', 'EPERM', 'EINVAL', 'EACCES'].includes(errno(error) ?? '')) throw error;
  } finally {
    await handle?.close();
  }
}

/**
 * An ObjectStore in a directory.
 *
 * @example
 * const objects = new FsObjectStore('./.sluice/objects');
 * await objects.put('data/abc.seg', bytes);
 */
export class FsObjectStore implements ObjectStore {
  constructor(readonly root: string) {}

  private pathOf(key: string): { dir: string; file: string } {
    const segments = key.split('/').map(encodeSegment);
    const last = `${segments.pop()!}${OBJECT_SUFFIX}`;
    for (const name of [...segments, last]) {
      if (Buffer.byteLength(name) > MAX_NAME_BYTES) {
        throw new InvalidRequestError(`key ${key} has a segment too long for a file name`, 'key');
      }
    }
    const dir = join(this.root, ...segments);
    return { dir, file: join(dir, last) };
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    checkObjectKey(key);
    const { dir, file } = this.pathOf(key);
    const tmpDir = join(this.root, TMP_DIR);
    await mkdir(tmpDir, { recursive: true });
    await mkdir(dir, { recursive: true });
    const tmp = join(tmpDir, `${process.pid}-${randomBytes(8).toString('hex')}`);
    const handle = await open(tmp, 'wx');
    try {
      try {
        await handle.writeFile(body);
        await handle.sync();
      } finally {
        await handle.close();
      }
      try {
        await link(tmp, file);
      } catch (error) {
        if (errno(error) === 'EEXIST') throw new ObjectExistsError(key);
        throw error;
      }
    } finally {
      await unlink(tmp).catch(() => undefined);
    }
    await fsyncDir(dir);
  }

  async get(key: string, range?: ByteRange): Promise<Uint8Array> {
    checkObjectKey(key);
    checkByteRange(range);
    const { file } = this.pathOf(key);
    let handle: FileHandle;
    try {
      handle = await open(file, 'r');
    } catch (error) {
      if (errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR') throw new ObjectNotFoundError(key);
      throw error;
    }
    try {
      if (!range) return new Uint8Array(await handle.readFile());
      const size = (await handle.stat()).size;
      const start = Math.min(range.start, size);
      const length = Math.min(range.end, size) - start;
      const out = new Uint8Array(length);
      let read = 0;
      while (read < length) {
        const { bytesRead } = await handle.read(out, read, length - read, start + read);
        if (bytesRead === 0) break;
        read += bytesRead;
      }
      return read === length ? out : out.subarray(0, read);
    } finally {
      await handle.close();
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) checkObjectKey(key);
    for (const key of keys) {
      await unlink(this.pathOf(key).file).catch((error: unknown) => {
        if (errno(error) !== 'ENOENT' && errno(error) !== 'ENOTDIR') throw error;
      });
    }
  }

  async list(prefix: string, options?: { after?: string; limit?: number }): Promise<ListPage> {
    const limit = parseListOptions(prefix, options);
    const after = options?.after;
    // Start in the deepest directory the prefix names completely.
    const complete = prefix.split('/').slice(0, -1);
    const keys: string[] = [];
    await this.walk(
      join(this.root, ...complete.map(encodeSegment)),
      complete.map((s) => `${s}/`).join(''),
      prefix,
      keys,
    );
    const matching = keys
      .filter((k) => after === undefined || compareUtf8(k, after) > 0)
      .sort(compareUtf8)
      .slice(0, limit + 1);
    const objects: ObjectInfo[] = [];
    for (const key of matching.slice(0, limit)) {
      try {
        const s = await stat(this.pathOf(key).file);
        objects.push({ key, size: s.size, lastModified: Math.floor(s.mtimeMs) });
      } catch (error) {
        if (errno(error) !== 'ENOENT') throw error; // deleted meanwhile
      }
    }
    const page: ListPage = { objects };
    if (matching.length > limit && objects.length > 0) page.next = objects[objects.length - 1]!.key;
    return page;
  }

  private async walk(dir: string, keyPrefix: string, prefix: string, out: string[]): Promise<void> {
    let entries: import('node:fs').Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      if (errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR') return;
      throw error;
    }
    for (const entry of entries) {
      if (entry.isFile() && entry.name.endsWith(OBJECT_SUFFIX)) {
        const key = keyPrefix + decodeSegment(entry.name.slice(0, -OBJECT_SUFFIX.length));
        if (key.startsWith(prefix)) out.push(key);
      } else if (entry.isDirectory() && !(keyPrefix === '' && entry.name === TMP_DIR)) {
        const sub = `${keyPrefix}${decodeSegment(entry.name)}/`;
        if (sub.startsWith(prefix) || prefix.startsWith(sub)) {
          await this.walk(join(dir, entry.name), sub, prefix, out);
        }
      }
    }
  }
}
