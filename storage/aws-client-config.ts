/**
 * Where and as whom the stores' AWS clients (S3, DynamoDB, SQS, Kinesis) call, from the
 * environment, one rule for all of them:
 *
 * - endpoint: `AWS_ENDPOINT_URL` (an emulator: moto, LocalStack), else AWS's;
 * - region: `AWS_REGION`, `AWS_DEFAULT_REGION`, else us-east-1 on an emulator;
 * - credentials: keys given in `env` itself win, with `AWS_SESSION_TOKEN` when set (Lambda's
 *   are always temporary: a key without its token is refused); an emulator on this machine
 *   gets dummy keys (it checks none); otherwise the SDK's default chain finds them.
 */

/** What an emulator on this machine is given when no keys are configured: it checks none. */
export const LOCAL_EMULATOR_CREDENTIALS = { accessKeyId: 'sluice-local', secretAccessKey: 'sluice-local' };

export interface AwsClientConfig {
  endpoint: string | undefined;
  region: string | undefined;
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
}

export function awsClientConfig(env: NodeJS.ProcessEnv): AwsClientConfig {
  const endpoint = env.AWS_ENDPOINT_URL || undefined;
  const region = env.AWS_REGION || env.AWS_DEFAULT_REGION || (endpoint ? 'us-east-1' : undefined);
  const credentials =
    env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
      ? {
          accessKeyId: env.AWS_ACCESS_KEY_ID,
          secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
          ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
        }
      : endpoint && isLocalEndpoint(endpoint) && !env.AWS_PROFILE
        ? LOCAL_EMULATOR_CREDENTIALS
        : undefined;
  return { endpoint, region, credentials };
}

/** True when `endpoint` names this machine (localhost, 127.0.0.0/8, ::1, *.localhost). */
export function isLocalEndpoint(endpoint: string): boolean {
  let host: string;
  try {
    host = new URL(endpoint).hostname.replace(/^\[|\]$/g, '');
  } catch {
    return false;
  }
  return (
    host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host)
  );
}
