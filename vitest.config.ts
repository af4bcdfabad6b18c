import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: [
      'core/**/*.test.ts',
      'storage/**/*.test.ts',
      'lambdas/**/*.test.ts',
      'sdk/**/*.test.ts',
      'lib/**/*.test.ts',
      'bin/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    // The deploy smoke test synthesizes the package and runs its bundles on Lambda's Node:
    // CI's step on Lambda's Node runs it (SLUICE_DEPLOY_SMOKE=1), `npm test` does not.
    exclude: ['**/node_modules/**', ...(process.env.SLUICE_DEPLOY_SMOKE === '1' ? [] : ['test/deploy/**'])],
    globalSetup: ['test/setup/moto.ts'],
    setupFiles: ['test/setup/fast-check.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The JSON report lets CI print a plain 'N passed, N failed' summary line (CI's runs on
    // Lambda's Node write their own, SLUICE_VITEST_JSON).
    reporters: [
      'default',
      ['json', { outputFile: process.env.SLUICE_VITEST_JSON ?? '.vitest/results.json' }],
    ],
  },
});
