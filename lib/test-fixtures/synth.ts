/**
 * Test helpers: a stack holding one SluiceCluster over the fixture handlers, synthesized
 * without bundling (the template is what these tests read; bundling.test.ts bundles).
 */
import { fileURLToPath } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { SluiceCluster } from '../sluice-cluster.js';
import type { SluiceClusterProps } from '../sluice-cluster-props.js';

export const FIXTURE_ENTRY_DIR = fileURLToPath(new URL('.', import.meta.url));

/** An App that skips asset bundling and CDK's built-in template validation (seconds per synth). */
export function fastApp(): App {
  return new App({ context: { 'aws:cdk:bundling-stacks': [] }, builtinCloudFormationValidation: false });
}

export interface ClusterStackOptions {
  /** Runs before the cluster is built; returns props that need the stack (keys, buckets). */
  before?: (stack: Stack) => Partial<SluiceClusterProps>;
  /** Runs after the cluster is built, before synthesis (grants, extra constructs). */
  after?: (stack: Stack, cluster: SluiceCluster) => void;
}

export function clusterStack(
  props: SluiceClusterProps = {},
  options: ClusterStackOptions = {},
): { stack: Stack; cluster: SluiceCluster; template: Template } {
  const stack = new Stack(fastApp(), 'Test');
  const extra = options.before?.(stack) ?? {};
  const cluster = new SluiceCluster(stack, 'Cluster', { entryDir: FIXTURE_ENTRY_DIR, ...props, ...extra });
  options.after?.(stack, cluster);
  return { stack, cluster, template: Template.fromStack(stack) };
}

type Resources = Record<
  string,
  { Type: string; Properties?: Record<string, unknown> } & Record<string, unknown>
>;

/** The statements of every IAM policy attached to the role whose logical id starts with `rolePrefix`. */
export function roleStatements(
  template: Template,
  rolePrefix: string,
): { Action: string | string[]; Resource: unknown; Condition?: unknown }[] {
  const resources = template.toJSON().Resources as Resources;
  const out: { Action: string | string[]; Resource: unknown; Condition?: unknown }[] = [];
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::IAM::Policy') continue;
    const roles = (resource.Properties?.Roles ?? []) as { Ref: string }[];
    if (!roles.some((r) => r.Ref.startsWith(rolePrefix))) continue;
    const doc = resource.Properties?.PolicyDocument as { Statement: typeof out };
    out.push(...doc.Statement);
  }
  return out;
}

/** Every action a role is allowed. */
export function roleActions(template: Template, rolePrefix: string): string[] {
  return roleStatements(template, rolePrefix).flatMap((s) =>
    Array.isArray(s.Action) ? s.Action : [s.Action],
  );
}

/** The one resource of `type` whose logical id starts with `prefix`. */
export function resourceOf(
  template: Template,
  type: string,
  prefix: string,
): { id: string; props: Record<string, unknown>; raw: Record<string, unknown> } {
  const matches = Object.entries(template.findResources(type)).filter(([id]) => id.startsWith(prefix));
  if (matches.length !== 1)
    throw new Error(`expected one ${type} starting with ${prefix}, found ${matches.length}`);
  const [id, raw] = matches[0]!;
  return {
    id,
    props: (raw as { Properties: Record<string, unknown> }).Properties,
    raw: raw as Record<string, unknown>,
  };
}
