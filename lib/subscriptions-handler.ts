/**
 * The custom resource behind `cluster.addSubscription(...)`: creates the subscription through
 * the admin function at deploy time, changes it on update (PATCH of the mutable fields; a new
 * name or topic replaces it) and deletes it with the stack (its consumer group and offsets
 * stay, so re-adding it resumes).
 */
import type { CloudFormationCustomResourceEvent } from 'aws-lambda';
import { MUTABLE_FIELDS, SUBSCRIPTION_DEFAULTS } from '../core/subscriptions/config.js';
import {
  type AdminInvoker,
  answerCloudFormation,
  type CustomResourceResponse,
  callAdmin,
  lambdaInvoker,
} from './topics-handler.js';

/** The admin function refused a subscription request. */
export class SubscriptionRequestError extends Error {
  override name = 'SubscriptionRequestError';
  constructor(
    readonly subscription: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`subscription '${subscription}': the admin function answered ${status} ${JSON.stringify(body)}`);
  }
}

const code = (body: unknown) => (body as { error?: { code?: string } } | undefined)?.error?.code;

/**
 * Creates the subscription, or brings an existing one's mutable fields to `spec`; a field the
 * `previous` spec set and `spec` no longer does goes back to its default (removing `filters`
 * from the stack stops filtering).
 */
export async function applySubscription(
  spec: Record<string, unknown>,
  invoke: AdminInvoker,
  previous: Record<string, unknown> = {},
): Promise<string> {
  const name = String(spec.name);
  const created = await callAdmin(invoke, 'POST', '/v1/subscriptions', spec);
  if (created.status === 201) return `created ${name}`;
  if (created.status !== 409 || code(created.body) !== 'SUBSCRIPTION_ALREADY_EXISTS')
    throw new SubscriptionRequestError(name, created.status, created.body);
  const changes: Record<string, unknown> = {};
  const defaults: Record<string, unknown> = SUBSCRIPTION_DEFAULTS;
  for (const f of MUTABLE_FIELDS) {
    if (spec[f] !== undefined) changes[f] = spec[f];
    else if (previous[f] !== undefined && f in defaults) changes[f] = defaults[f];
  }
  const patched = await callAdmin(invoke, 'PATCH', `/v1/subscriptions/${encodeURIComponent(name)}`, changes);
  if (patched.status !== 200) throw new SubscriptionRequestError(name, patched.status, patched.body);
  return `updated ${name}`;
}

/** Deletes the subscription; one already gone is fine. */
export async function removeSubscription(name: string, invoke: AdminInvoker): Promise<string> {
  const res = await callAdmin(invoke, 'DELETE', `/v1/subscriptions/${encodeURIComponent(name)}`);
  if (res.status !== 204 && code(res.body) !== 'SUBSCRIPTION_NOT_FOUND')
    throw new SubscriptionRequestError(name, res.status, res.body);
  return `deleted ${name}`;
}

/** Answers one CloudFormation event; never throws (a failure is a FAILED response). */
export async function handleSubscriptionEvent(
  event: CloudFormationCustomResourceEvent,
  invoke: AdminInvoker,
): Promise<CustomResourceResponse> {
  const spec = JSON.parse(String(event.ResourceProperties.Subscription ?? '{}')) as Record<string, unknown>;
  const physicalId = `subscription-${String(spec.name)}`;
  const base = {
    PhysicalResourceId: event.RequestType === 'Delete' ? event.PhysicalResourceId : physicalId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  };
  try {
    let reason: string;
    if (event.RequestType === 'Delete') {
      reason = await removeSubscription(event.PhysicalResourceId.replace(/^subscription-/, ''), invoke);
    } else {
      let old: Record<string, unknown> = {};
      if (event.RequestType === 'Update') {
        old = JSON.parse(String(event.OldResourceProperties.Subscription ?? '{}')) as Record<string, unknown>;
        // A new name or topic is a new subscription: CloudFormation deletes the old one
        // (new physical id); a changed start position only matters to a new one.
        if (old.name === spec.name && old.topic !== spec.topic)
          await removeSubscription(String(spec.name), invoke);
      }
      reason = await applySubscription(spec, invoke, old.name === spec.name ? old : {});
    }
    return { ...base, Status: 'SUCCESS', Reason: reason, Data: {} };
  } catch (err) {
    return {
      ...base,
      Status: 'FAILED',
      Reason: String((err as Error).message ?? err).slice(0, 1000),
      Data: {},
    };
  }
}

/** The Lambda entry point. */
export async function handler(event: CloudFormationCustomResourceEvent): Promise<void> {
  const invoke = lambdaInvoker(process.env.SLUICE_ADMIN_FUNCTION ?? '');
  await answerCloudFormation(event, await handleSubscriptionEvent(event, invoke));
}
