/**
 * Reads the CDK app's options from context (`npx cdk deploy -c key=value`) into
 * {@link SluiceStackProps}, refusing values it does not understand.
 *
 * | context            | values                  | default  |
 * |--------------------|-------------------------|----------|
 * | stackName          | a CloudFormation name   | Sluice   |
 * | architecture       | arm64, x86_64           | arm64    |
 * | removalPolicy      | retain, destroy         | retain   |
 * | topics             | JSON list of TopicSpec  | none     |
 * | maintenanceMinutes | whole number ≥ 1        | 1        |
 * | inboxWindowSeconds | whole number 1–300      | 1        |
 * | reservedConcurrency| whole number ≥ 1, none  | 20       |
 * | inboxBackend       | sqs, kinesis            | sqs      |
 * | inboxShards        | whole number ≥ 1 (kinesis) | 1     |
 *
 * `inboxWindowSeconds` is the acks=1 batcher's batching window: the delay bound of an acks=1
 * event at low volume, and the lever on its cost (docs/design.md, "acks=1: the inbox").
 * `inboxBackend` and `inboxShards` choose the inbox itself (SluiceClusterProps).
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Schedule } from 'aws-cdk-lib/aws-events';
import { Architecture } from 'aws-cdk-lib/aws-lambda';
import type { SluiceStackProps } from './sluice-stack.js';
import type { TopicSpec } from './topic-spec.js';

/** A context value the app does not understand. */
export class InvalidContextError extends Error {
  override name = 'InvalidContextError';
}

/** Looks up one context key; `undefined` when it is not set. */
export type ContextLookup = (key: string) => unknown;

/**
 * @example
 * const { stackName, props } = stackOptionsFromContext((k) => app.node.tryGetContext(k));
 * new SluiceStack(app, stackName, props);
 */
export function stackOptionsFromContext(get: ContextLookup): { stackName: string; props: SluiceStackProps } {
  return {
    stackName: String(get('stackName') ?? 'Sluice'),
    props: {
      architecture: choice(
        get,
        'architecture',
        { arm64: Architecture.ARM_64, x86_64: Architecture.X86_64 },
        'arm64',
      ),
      removalPolicy: choice(
        get,
        'removalPolicy',
        { retain: RemovalPolicy.RETAIN, destroy: RemovalPolicy.DESTROY },
        'retain',
      ),
      topics: topics(get),
      maintenanceSchedule: maintenanceSchedule(get),
      inboxBatchWindow: inboxBatchWindow(get),
      ...reservedConcurrency(get),
      ...inbox(get),
    },
  };
}

function choice<T>(get: ContextLookup, key: string, options: Record<string, T>, fallback: string): T {
  const raw = String(get(key) ?? fallback);
  if (!Object.hasOwn(options, raw)) {
    throw new InvalidContextError(
      `context '${key}' is '${raw}'; use one of: ${Object.keys(options).join(', ')}`,
    );
  }
  return options[raw]!;
}

function topics(get: ContextLookup): TopicSpec[] | undefined {
  const raw = get('topics');
  if (raw === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = typeof raw === 'string' ? JSON.parse(raw) : raw;
  } catch (cause) {
    throw new InvalidContextError(`context 'topics' is not JSON: ${String(raw)}`, { cause });
  }
  if (!Array.isArray(parsed)) {
    throw new InvalidContextError(
      `context 'topics' must be a JSON list such as [{"name":"orders","partitions":3}]`,
    );
  }
  return parsed as TopicSpec[];
}

function maintenanceSchedule(get: ContextLookup): Schedule | undefined {
  const raw = get('maintenanceMinutes');
  if (raw === undefined) return undefined;
  const minutes = Number(raw);
  if (!Number.isInteger(minutes) || minutes < 1) {
    throw new InvalidContextError(
      `context 'maintenanceMinutes' is '${String(raw)}'; use a whole number of minutes ≥ 1`,
    );
  }
  return Schedule.rate(Duration.minutes(minutes));
}

function inboxBatchWindow(get: ContextLookup): Duration | undefined {
  const raw = get('inboxWindowSeconds');
  if (raw === undefined) return undefined;
  const seconds = Number(raw);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 300) {
    throw new InvalidContextError(
      `context 'inboxWindowSeconds' is '${String(raw)}'; use a whole number of seconds from 1 to 300`,
    );
  }
  return Duration.seconds(seconds);
}

/** Each HTTP function's reserved concurrency: a whole number, or `none` (accounts below a quota of 200). */
function reservedConcurrency(get: ContextLookup): { reservedConcurrency?: number | 'none' } {
  const raw = get('reservedConcurrency');
  if (raw === undefined) return {};
  if (raw === 'none') return { reservedConcurrency: 'none' };
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) {
    throw new InvalidContextError(
      `context 'reservedConcurrency' is '${String(raw)}'; use a whole number ≥ 1, or none`,
    );
  }
  return { reservedConcurrency: n };
}

/** The acks=1 inbox's backend, and its shards with Kinesis. */
function inbox(get: ContextLookup): Pick<SluiceStackProps, 'inboxBackend' | 'inboxShards'> {
  const out: { inboxBackend?: 'sqs' | 'kinesis'; inboxShards?: number } = {};
  if (get('inboxBackend') !== undefined) {
    out.inboxBackend = choice(get, 'inboxBackend', { sqs: 'sqs', kinesis: 'kinesis' } as const, 'sqs');
  }
  const raw = get('inboxShards');
  if (raw !== undefined) {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1) {
      throw new InvalidContextError(`context 'inboxShards' is '${String(raw)}'; use a whole number ≥ 1`);
    }
    if (out.inboxBackend !== 'kinesis') {
      throw new InvalidContextError(`context 'inboxShards' needs -c inboxBackend=kinesis`);
    }
    out.inboxShards = n;
  }
  return out;
}
