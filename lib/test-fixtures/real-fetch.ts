/**
 * The real fetch handler plus the native-package probe, bundled together so one bundle
 * proves both that the real handler loads and serves a request from a Lambda bundle, and
 * that every native package resolves from the bundle's own node_modules.
 */
export { handler } from '../../lambdas/fetch.js';
export { handler as probe } from './native-probe.js';
