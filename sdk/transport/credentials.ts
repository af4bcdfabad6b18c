/**
 * Where the SDK finds AWS credentials when none are passed, without a dependency on the
 * AWS SDK's provider chain (its 30-odd packages would be every user's install and bundle):
 *
 * 1. `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` (/ `AWS_SESSION_TOKEN`) in the environment,
 *    which is where Lambda, ECS task roles exported by the agent, and CI put them;
 * 2. else `@aws-sdk/credential-provider-node`'s default chain (profiles, SSO, web identity,
 *    container and instance metadata) if that package is installed (an optional peer
 *    dependency; Lambda's runtime also ships it);
 * 3. else a {@link SluiceArgumentError} that says what to do.
 */
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { SluiceArgumentError } from '../errors.js';

/** The optional package providing the full chain. A variable, so bundlers leave the import alone. */
const NODE_CHAIN_PACKAGE = '@aws-sdk/credential-provider-node';

/** Credentials from the environment, or undefined when it has none. */
export function credentialsFromEnv(env: NodeJS.ProcessEnv = process.env): AwsCredentialIdentity | undefined {
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) return undefined;
  return {
    accessKeyId,
    secretAccessKey,
    ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
  };
}

/**
 * The default credentials: the environment's, read on every call (rotated keys are picked
 * up), else the AWS SDK's chain when installed, else an error naming both options.
 *
 * @example
 * const creds = await defaultCredentials()(); // { accessKeyId, secretAccessKey, sessionToken? }
 */
export function defaultCredentials(
  options: { env?: NodeJS.ProcessEnv; load?: (id: string) => Promise<unknown> } = {},
): AwsCredentialIdentityProvider {
  const load = options.load ?? ((id: string) => import(id));
  let chain: Promise<AwsCredentialIdentityProvider | undefined> | undefined;
  return async () => {
    const fromEnv = credentialsFromEnv(options.env);
    if (fromEnv) return fromEnv;
    chain ??= load(NODE_CHAIN_PACKAGE).then(
      (m) => (m as { defaultProvider: () => AwsCredentialIdentityProvider }).defaultProvider(),
      () => undefined,
    );
    const provider = await chain;
    if (!provider) {
      throw new SluiceArgumentError(
        `no AWS credentials to sign with: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, pass \`credentials\` to new Sluice(...), or install ${NODE_CHAIN_PACKAGE} for profiles, SSO and instance roles`,
      );
    }
    return provider();
  };
}
