/** Test fixture standing in for lambdas/schemas.ts: loads every native package the real handlers use. */
export { handler } from './native-probe.js';
