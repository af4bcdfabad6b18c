/**
 * cdk.json pins the feature flags aws-cdk-lib recommends for new projects, so a synth means
 * the same template on every machine and CDK upgrades change behaviour only when a flag is
 * added here. The stack must stay clean under them.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { App, Stack } from 'aws-cdk-lib';
import nag from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { FIXTURE_ENTRY_DIR } from '../test/fixtures/cdk/synth.js';
import { SluiceCluster } from './sluice-cluster.js';

const cdkJson = JSON.parse(readFileSync(new URL('../cdk.json', import.meta.url), 'utf8')) as {
  context: Record<string, unknown>;
};
const recommended = createRequire(import.meta.url)('aws-cdk-lib/recommended-feature-flags.json') as Record<
  string,
  unknown
>;

describe('cdk.json', () => {
  it('pins every feature flag the installed aws-cdk-lib recommends, at its recommended value', () => {
    expect(Object.keys(recommended).length).toBeGreaterThan(50);
    for (const [flag, value] of Object.entries(recommended)) {
      expect(cdkJson.context[flag], flag).toEqual(value);
    }
  });

  it('the cluster synthesizes under those flags with no cdk-nag finding', () => {
    const app = new App({
      context: { ...cdkJson.context, 'aws:cdk:bundling-stacks': [] },
      builtinCloudFormationValidation: false,
    });
    const stack = new Stack(app, 'Flags');
    new SluiceCluster(stack, 'Cluster', {
      entryDir: FIXTURE_ENTRY_DIR,
      topics: [{ name: 'orders', partitions: 3 }],
    });
    for (const checks of [new nag.AwsSolutionsChecks(), new nag.ServerlessChecks()]) {
      const report = checks.validateScope(stack);
      expect(report.violations.map((v) => v.ruleName)).toEqual([]);
    }
  });
});
