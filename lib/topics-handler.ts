/**
 * The deploy-time topics custom resource (Lambda). CloudFormation calls it on create and
 * update with the topics the stack declares; it asks the admin function for each, through
 * the same Function URL event shape and API as any client, so topic rules live in one place.
 *
 * - create: `POST /v1/topics`; if the topic exists, its partitions are raised to the
 *   declared count (`POST /v1/topics/{t}/partitions`); fewer partitions than exist fails.
 * - delete: nothing. Removing a topic from the stack, or the stack itself, never deletes
 *   data; `DELETE /v1/topics/{t}` is an explicit act.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type {
  CloudFormationCustomResourceEvent,
  LambdaFunctionURLEvent,
  LambdaFunctionURLResult,
} from 'aws-lambda';
import { toEvent } from '../lambdas/http.js';
import type { TopicSpec } from './topic-spec.js';

/** Calls the admin handler with a Function URL event and returns its result. */
export type AdminInvoker = (event: LambdaFunctionURLEvent) => Promise<LambdaFunctionURLResult>;

/** The admin function answered a topic request with an error. */
export class TopicRequestError extends Error {
  override name = 'TopicRequestError';
  constructor(
    readonly topic: string,
    readonly status: number,
    readonly body: unknown,
  ) {
    super(`topic '${topic}': the admin function answered ${status} ${JSON.stringify(body)}`);
  }
}

/** The admin function itself failed (threw, timed out) rather than answering. */
export class AdminInvokeError extends Error {
  override name = 'AdminInvokeError';
}

/** CloudFormation's response URL refused the response. */
export class ResponseUploadError extends Error {
  override name = 'ResponseUploadError';
}

/** Creates each topic, or grows its partitions to the declared count; returns what it did. */
export async function applyTopics(specs: readonly TopicSpec[], invoke: AdminInvoker): Promise<string[]> {
  const done: string[] = [];
  for (const spec of specs) {
    const partitions = spec.partitions ?? 1;
    const body = { name: spec.name, partitions, ...(spec.config ? { config: spec.config } : {}) };
    const created = await callAdmin(invoke, 'POST', '/v1/topics', body);
    if (created.status === 201) {
      done.push(`created ${spec.name} (${partitions} partitions)`);
      continue;
    }
    if (created.status !== 409 || errorCode(created.body) !== 'TOPIC_ALREADY_EXISTS') {
      throw new TopicRequestError(spec.name, created.status, created.body);
    }
    const path = `/v1/topics/${encodeURIComponent(spec.name)}`;
    const described = await callAdmin(invoke, 'GET', path);
    if (described.status !== 200) throw new TopicRequestError(spec.name, described.status, described.body);
    const current = (described.body as { partitions?: unknown[] }).partitions?.length ?? 0;
    if (partitions < current) {
      throw new TopicRequestError(spec.name, 409, {
        error: {
          message: `has ${current} partitions; the stack declares ${partitions} and partitions cannot be removed`,
        },
      });
    }
    if (partitions === current) {
      done.push(`kept ${spec.name} (${current} partitions)`);
      continue;
    }
    const grown = await callAdmin(invoke, 'POST', `${path}/partitions`, { count: partitions });
    if (grown.status !== 200) throw new TopicRequestError(spec.name, grown.status, grown.body);
    done.push(`grew ${spec.name} from ${current} to ${partitions} partitions`);
  }
  return done;
}

/** Sends one JSON request to the admin function; the answer parsed, whatever its encoding. */
export async function callAdmin(
  invoke: AdminInvoker,
  method: string,
  url: string,
  body?: unknown,
): Promise<{ status: number; body: unknown }> {
  const bytes = body === undefined ? undefined : new TextEncoder().encode(JSON.stringify(body));
  const headers: Record<string, string> = bytes ? { 'content-type': 'application/json' } : {};
  const result = await invoke(toEvent({ method, url, headers, ...(bytes ? { body: bytes } : {}) }));
  if (typeof result === 'string') return { status: 200, body: JSON.parse(result) };
  const raw = result.body ?? '';
  const text = result.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  return { status: result.statusCode ?? 200, body: text ? JSON.parse(text) : undefined };
}

function errorCode(body: unknown): string | undefined {
  return (body as { error?: { code?: string } } | undefined)?.error?.code;
}

/** What CloudFormation expects at the response URL. */
export interface CustomResourceResponse {
  Status: 'SUCCESS' | 'FAILED';
  Reason: string;
  PhysicalResourceId: string;
  StackId: string;
  RequestId: string;
  LogicalResourceId: string;
  Data: Record<string, string>;
}

/**
 * Handles one CloudFormation event and always produces a response: a custom resource that
 * never answers holds the stack until its service timeout.
 */
export async function handleEvent(
  event: CloudFormationCustomResourceEvent,
  invoke: AdminInvoker,
): Promise<CustomResourceResponse> {
  const physicalId =
    event.RequestType === 'Create' ? `${event.LogicalResourceId}-topics` : event.PhysicalResourceId;
  const base = {
    PhysicalResourceId: physicalId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  };
  try {
    if (event.RequestType === 'Delete')
      return { ...base, Status: 'SUCCESS', Reason: 'topics are kept', Data: {} };
    const specs = JSON.parse(String(event.ResourceProperties.Topics ?? '[]')) as TopicSpec[];
    const done = await applyTopics(specs, invoke);
    return { ...base, Status: 'SUCCESS', Reason: done.join('; ').slice(0, 1000), Data: {} };
  } catch (err) {
    // CloudFormation shows Reason in the console; keep it short and specific.
    return {
      ...base,
      Status: 'FAILED',
      Reason: String((err as Error).message ?? err).slice(0, 1000),
      Data: {},
    };
  }
}

/** Invokes the admin function named by SLUICE_ADMIN_FUNCTION directly (not through its URL). */
export function lambdaInvoker(functionName: string, client = new LambdaClient({})): AdminInvoker {
  return async (event) => {
    const out = await client.send(
      new InvokeCommand({
        FunctionName: functionName,
        Payload: new TextEncoder().encode(JSON.stringify(event)),
      }),
    );
    const payload = out.Payload ? new TextDecoder().decode(out.Payload) : '';
    if (out.FunctionError) throw new AdminInvokeError(`the admin function failed: ${payload.slice(0, 500)}`);
    return JSON.parse(payload) as LambdaFunctionURLResult;
  };
}

/** The Lambda entry point. */
export async function handler(event: CloudFormationCustomResourceEvent): Promise<void> {
  await answerCloudFormation(
    event,
    await handleEvent(event, lambdaInvoker(process.env.SLUICE_ADMIN_FUNCTION ?? '')),
  );
}

/** Logs a custom resource's outcome and PUTs it to CloudFormation's response URL. */
export async function answerCloudFormation(
  event: CloudFormationCustomResourceEvent,
  response: CustomResourceResponse,
): Promise<void> {
  console.log(
    JSON.stringify({ requestType: event.RequestType, status: response.Status, reason: response.Reason }),
  );
  // The response URL is a presigned S3 PUT: an empty content type is part of what was signed.
  const res = await fetch(event.ResponseURL, {
    method: 'PUT',
    headers: { 'content-type': '' },
    body: JSON.stringify(response),
  });
  if (!res.ok) throw new ResponseUploadError(`CloudFormation's response URL answered ${res.status}`);
}
