/**
 * SigV4 signing for Lambda Function URLs (IAM auth, service `lambda`) and for the acks=1
 * inbox (service `sqs`, `transport/sqs.ts`; `kinesis`, `transport/kinesis.ts`). Credentials come
 * from the options, else the environment, else the AWS SDK's provider chain when it is
 * installed (credentials.ts).
 */
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import { SluiceArgumentError } from '../errors.js';
import { defaultCredentials } from './credentials.js';
import type { TransportRequest } from './types.js';

export type Credentials = AwsCredentialIdentity | AwsCredentialIdentityProvider;

/** True for a Lambda Function URL host: `<id>.lambda-url.<region>.on.aws`. */
export function isFunctionUrl(url: string): boolean {
  return /\.lambda-url\.[a-z0-9-]+\.on\.aws$/i.test(new URL(url).hostname);
}

/** The region in a Function URL host, if any. */
export function regionOfUrl(url: string): string | undefined {
  return /\.lambda-url\.([a-z0-9-]+)\.on\.aws$/i.exec(new URL(url).hostname)?.[1];
}

export interface Signer {
  sign(request: TransportRequest): Promise<TransportRequest>;
}

/**
 * @example
 * const signer = createSigner({ region: 'eu-west-1' });
 * const signed = await signer.sign({ method: 'GET', url, headers: {} });
 */
export function createSigner(options: {
  region?: string;
  credentials?: Credentials;
  endpoint: string;
  /** The signing name. @default 'lambda' */
  service?: string;
}): Signer {
  const region =
    options.region ??
    regionOfUrl(options.endpoint) ??
    process.env.AWS_REGION ??
    process.env.AWS_DEFAULT_REGION;
  if (!region) {
    throw new SluiceArgumentError(
      'signing requests needs a region: pass `region` to new Sluice(...) or set AWS_REGION',
    );
  }
  const creds = options.credentials;
  const signer = new SignatureV4({
    service: options.service ?? 'lambda',
    region,
    credentials: creds ?? defaultCredentials(),
    sha256: Hash.bind(null, 'sha256'),
  });
  return {
    async sign(req) {
      const url = new URL(req.url);
      const query: Record<string, string> = {};
      for (const [k, v] of url.searchParams) query[k] = v;
      const signed = await signer.sign({
        method: req.method,
        protocol: url.protocol,
        hostname: url.hostname,
        port: url.port ? Number(url.port) : undefined,
        path: url.pathname,
        query,
        headers: { ...req.headers, host: url.host },
        body: req.body,
      });
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(signed.headers)) headers[k.toLowerCase()] = String(v);
      // fetch sets Host itself and refuses to be told.
      delete headers.host;
      return { ...req, headers };
    },
  };
}
