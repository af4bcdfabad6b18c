/** Test fixture standing in for lambdas/groups.ts: loads every native package the real handlers use. */
export { handler } from './native-probe.js';
