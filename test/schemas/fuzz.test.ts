/**
 * The registry's HTTP inputs fuzzed (fast-check) through the real router: any path under
 * /schemas, any method, any body — never a 500, every refusal in the registry's error shape
 * (or, for a path no route knows, the API's), and a refused request changes nothing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createContext } from '../../lambdas/context.js';
import { rawBody, toEvent } from '../../lambdas/http.js';
import { createRouter } from '../../lambdas/index.js';
import { MemoryMetaStore, MemoryObjectStore } from '../../storage/memory.js';

const segment = fc.oneof(
  fc.constantFrom(
    'subjects',
    'versions',
    'schemas',
    'ids',
    'config',
    'compatibility',
    'latest',
    '-1',
    '1',
    '0',
    'x-value',
    'types',
    'schema',
    'mode',
  ),
  fc.string({ maxLength: 8 }).map((s) => encodeURIComponent(s)),
);
const body = fc.oneof(
  fc.constant(undefined),
  fc.json().map((j) => j),
  fc.record({
    schema: fc.oneof(fc.string(), fc.json()),
    schemaType: fc.option(fc.constantFrom('AVRO', 'PROTOBUF', 'JSON', 'XML', ''), { nil: undefined }),
  }),
  fc.record({ compatibility: fc.oneof(fc.constantFrom('FULL', 'NONE', 'full'), fc.string()) }),
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString('latin1')),
);

describe('schema registry HTTP fuzz', () => {
  it('never answers 500 and answers refusals in the registry error shape', async () => {
    const meta = new MemoryMetaStore();
    const route = createRouter(createContext({ meta, objects: new MemoryObjectStore() }, { env: {} }));
    const call = async (method: string, path: string, payload?: string) => {
      const res = await route(
        toEvent({ method, url: path, body: payload === undefined ? undefined : Buffer.from(payload) }),
      );
      return { status: res.statusCode ?? 200, text: Buffer.from(rawBody(res)).toString('utf8') };
    };
    await call('POST', '/schemas/subjects/seed-value/versions', JSON.stringify({ schema: '"string"' }));
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('GET', 'POST', 'PUT', 'DELETE'),
        fc.array(segment, { minLength: 1, maxLength: 5 }),
        fc.option(
          fc.constantFrom('?deleted=true', '?permanent=true', '?verbose=true', '?defaultToGlobal=true'),
          { nil: '' },
        ),
        body,
        async (method, segments, query, b) => {
          const path = `/schemas/${segments.join('/')}${query}`;
          const payload = b === undefined ? undefined : typeof b === 'string' ? b : JSON.stringify(b);
          const before = method === 'GET' ? undefined : JSON.stringify(await meta.query('sr#subjects'));
          const res = await call(method, path, payload);
          expect(res.status, `${method} ${path} ${payload}`).toBeLessThan(500);
          if (res.status >= 400) {
            const parsed = JSON.parse(res.text);
            const registryShape = typeof parsed.error_code === 'number' && typeof parsed.message === 'string';
            const apiShape = typeof parsed.error?.code === 'string';
            expect(registryShape || (apiShape && (res.status === 404 || res.status === 405)), res.text).toBe(
              true,
            );
            if (before !== undefined) expect(JSON.stringify(await meta.query('sr#subjects'))).toBe(before);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
