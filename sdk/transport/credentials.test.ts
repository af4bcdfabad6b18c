import { describe, expect, it } from 'vitest';
import { SluiceArgumentError } from '../errors.js';
import { credentialsFromEnv, defaultCredentials } from './credentials.js';

const chainCreds = { accessKeyId: 'FROMCHAIN', secretAccessKey: 's' };
const chain = async () => ({ defaultProvider: () => async () => chainCreds });
const missing = async () => {
  throw Object.assign(new Error('Cannot find package'), { code: 'ERR_MODULE_NOT_FOUND' });
};

describe('default credentials', () => {
  it('take the environment first, with the session token, read on every call', async () => {
    const env: NodeJS.ProcessEnv = {
      AWS_ACCESS_KEY_ID: 'A1',
      AWS_SECRET_ACCESS_KEY: 'S1',
      AWS_SESSION_TOKEN: 'T1',
    };
    let loads = 0;
    const provider = defaultCredentials({
      env,
      load: async () => {
        loads++;
        return chain();
      },
    });
    expect(await provider()).toEqual({ accessKeyId: 'A1', secretAccessKey: 'S1', sessionToken: 'T1' });
    env.AWS_ACCESS_KEY_ID = 'A2';
    delete env.AWS_SESSION_TOKEN;
    expect(await provider()).toEqual({ accessKeyId: 'A2', secretAccessKey: 'S1' });
    expect(loads).toBe(0);
  });

  it('fall back to the AWS SDK chain when it is installed, loading it once', async () => {
    const ids: string[] = [];
    const provider = defaultCredentials({
      env: {},
      load: async (id) => {
        ids.push(id);
        return chain();
      },
    });
    expect(await provider()).toEqual(chainCreds);
    expect(await provider()).toEqual(chainCreds);
    expect(ids).toEqual(['@aws-sdk/credential-provider-node']);
  });

  it('say what to do when there is neither', async () => {
    const provider = defaultCredentials({ env: { AWS_ACCESS_KEY_ID: 'only-half' }, load: missing });
    const err = await provider().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SluiceArgumentError);
    expect((err as Error).message).toMatch(/AWS_ACCESS_KEY_ID.*credential-provider-node/);
    expect(credentialsFromEnv({ AWS_SECRET_ACCESS_KEY: 'x' })).toBeUndefined();
  });
});
