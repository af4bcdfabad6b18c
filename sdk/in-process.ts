/**
 * `import { inProcessSluice } from 'sluice/in-process'`: the SDK over the engine in this
 * process, with no server (tests, embedding). A separate entry point because it carries the
 * server (handlers, stores, their optional peer dependencies); `sluice` itself stays an HTTP
 * client that a Lambda function can bundle small.
 */
import { Sluice, type SluiceConfig } from './sluice.js';
import { createInProcessTransport, type InProcessTarget } from './transport/in-process.js';

export { createInProcessTransport, type InProcessTarget } from './transport/in-process.js';

/**
 * A client that calls the Lambda handlers in this process, with no server. Give it stores
 * (`{ meta, objects }`) or a ready context.
 *
 * @example
 * import { inProcessSluice } from 'sluice/in-process';
 * import { MemoryMetaStore, MemoryObjectStore } from 'sluice/storage/memory';
 * const sluice = inProcessSluice({ meta: new MemoryMetaStore(), objects: new MemoryObjectStore() });
 */
export function inProcessSluice(
  target: InProcessTarget,
  config: Omit<SluiceConfig, 'endpoint' | 'transport'> = {},
): Sluice {
  return new Sluice({
    ...config,
    endpoint: 'http://in-process.sluice',
    transport: createInProcessTransport(target),
  });
}
