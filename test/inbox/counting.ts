/** A transport to the Sluice functions that counts requests by method and path. */
import { createHttpTransport } from '../../sdk/transport/http.js';
import type { Transport } from '../../sdk/transport/types.js';

export function counting(endpoint: string): { transport: Transport; paths: Map<string, number> } {
  const inner = createHttpTransport({ endpoint });
  const paths = new Map<string, number>();
  return {
    paths,
    transport: async (req) => {
      const key = `${req.method} ${new URL(req.url).pathname}`;
      paths.set(key, (paths.get(key) ?? 0) + 1);
      return inner(req);
    },
  };
}
