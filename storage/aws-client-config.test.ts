import { describe, expect, it } from 'vitest';
import { awsClientConfig, LOCAL_EMULATOR_CREDENTIALS } from './aws-client-config.js';
import { inboxFromEnv } from './inbox-config.js';

describe('awsClientConfig', () => {
  it("keeps Lambda's session token with its temporary keys (a key without its token is refused)", () => {
    const env = {
      AWS_ACCESS_KEY_ID: 'ASIAEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 's',
      AWS_SESSION_TOKEN: 't',
      AWS_REGION: 'eu-west-1',
    };
    expect(awsClientConfig(env)).toEqual({
      endpoint: undefined,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 's', sessionToken: 't' },
    });
  });

  it('gives an emulator on this machine dummy keys, and leaves AWS to the default chain', () => {
    expect(awsClientConfig({ AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' })).toEqual({
      endpoint: 'http://127.0.0.1:5000',
      region: 'us-east-1',
      credentials: LOCAL_EMULATOR_CREDENTIALS,
    });
    expect(awsClientConfig({ AWS_ENDPOINT_URL: 'http://10.0.0.5:5000' }).credentials).toBeUndefined();
    expect(
      awsClientConfig({ AWS_ENDPOINT_URL: 'http://localhost:5000', AWS_PROFILE: 'p' }).credentials,
    ).toBeUndefined();
    expect(awsClientConfig({}).credentials).toBeUndefined();
  });

  it("the inbox's clients get the same: the session token reaches the SQS client", async () => {
    const inbox = await inboxFromEnv({
      SLUICE_STORAGE: 'aws',
      SLUICE_INBOX_URL: 'https://sqs.us-east-1.amazonaws.com/123456789012/q',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'ASIAEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 's',
      AWS_SESSION_TOKEN: 't',
    });
    try {
      const client = (
        inbox!.queue as unknown as { client: { config: { credentials: () => Promise<unknown> } } }
      ).client;
      expect(await client.config.credentials()).toMatchObject({
        accessKeyId: 'ASIAEXAMPLE',
        sessionToken: 't',
      });
    } finally {
      await inbox!.close();
    }
  });

  it('refuses an unknown SLUICE_INBOX_BACKEND, and kinesis with nowhere to find a stream', async () => {
    await expect(inboxFromEnv({ SLUICE_INBOX_BACKEND: 'kinesys' })).rejects.toThrow(
      /SLUICE_INBOX_BACKEND must be sqs or kinesis \(got 'kinesys'\)/,
    );
    await expect(inboxFromEnv({ SLUICE_STORAGE: 'local', SLUICE_INBOX_BACKEND: 'kinesis' })).rejects.toThrow(
      /SLUICE_INBOX_BACKEND=kinesis needs SLUICE_STORAGE=aws with AWS_ENDPOINT_URL/,
    );
  });
});
