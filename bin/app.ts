/**
 * The CDK app: `npx cdk synth` / `npx cdk deploy` from the repository root (cdk.json runs
 * this file with tsx). Options come as context, e.g. `npx cdk deploy -c architecture=x86_64`:
 *
 * | context         | values                  | default  |
 * |-----------------|-------------------------|----------|
 * | stackName       | a CloudFormation name   | Sluice   |
 * | architecture    | arm64, x86_64           | arm64    |
 * | removalPolicy   | retain, destroy         | retain   |
 * | topics          | JSON list of TopicSpec  | none     |
 * | maintenanceMinutes | whole number ≥ 1     | 1        |
 *
 * Every synth runs cdk-nag's AwsSolutions and Serverless packs; an unacknowledged finding
 * fails it.
 */
import { App, Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Schedule } from 'aws-cdk-lib/aws-events';
import { Architecture } from 'aws-cdk-lib/aws-lambda';
import nag from 'cdk-nag';
import { SluiceStack } from '../lib/sluice-stack.js';
import type { TopicSpec } from '../lib/topic-spec.js';

/** A context value the app does not understand. */
export class InvalidContextError extends Error {
  override name = 'InvalidContextError';
}

function choice<T>(app: App, key: string, options: Record<string, T>, fallback: string): T {
  const raw = String(app.node.tryGetContext(key) ?? fallback);
  const value = options[raw];
  if (value === undefined) {
    throw new InvalidContextError(
      `context '${key}' is '${raw}'; use one of: ${Object.keys(options).join(', ')}`,
    );
  }
  return value;
}

function topics(app: App): TopicSpec[] | undefined {
  const raw = app.node.tryGetContext('topics');
  if (raw === undefined) return undefined;
  try {
    return (typeof raw === 'string' ? JSON.parse(raw) : raw) as TopicSpec[];
  } catch (cause) {
    throw new InvalidContextError(`context 'topics' is not JSON: ${String(raw)}`, { cause });
  }
}

function maintenanceSchedule(app: App): Schedule | undefined {
  const raw = app.node.tryGetContext('maintenanceMinutes');
  if (raw === undefined) return undefined;
  const minutes = Number(raw);
  if (!Number.isInteger(minutes) || minutes < 1) {
    throw new InvalidContextError(
      `context 'maintenanceMinutes' is '${raw}'; use a whole number of minutes ≥ 1`,
    );
  }
  return Schedule.rate(Duration.minutes(minutes));
}

const app = new App();
new SluiceStack(app, String(app.node.tryGetContext('stackName') ?? 'Sluice'), {
  architecture: choice(
    app,
    'architecture',
    { arm64: Architecture.ARM_64, x86_64: Architecture.X86_64 },
    'arm64',
  ),
  removalPolicy: choice(
    app,
    'removalPolicy',
    { retain: RemovalPolicy.RETAIN, destroy: RemovalPolicy.DESTROY },
    'retain',
  ),
  topics: topics(app),
  maintenanceSchedule: maintenanceSchedule(app),
});
Validations.of(app).addPlugins(
  new nag.AwsSolutionsChecks(app, { verbose: true }),
  new nag.ServerlessChecks(app, { verbose: true }),
);
