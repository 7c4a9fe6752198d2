// Start-up: which auth mode each set of variables gives, and the combinations refused (one message
// naming the variables, never their values).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { type Config, ConfigError, parseConfig, type Environment } from '../src/process/config.ts';

const PROJECT = { WATSONX_PROJECT_ID: '11111111-2222-4333-8444-555555555555' };
const CPD = 'https://cpd-cpd.apps.cluster.example.com';
const SECRETS = ['k-secret-1', 'k-secret-2', 'pw-secret-3', 'tok-secret-4', 'emVuOmtleQ=='];

function auth(env: Environment): Config['upstream'] & { mode: 'ibm' } {
  const upstream = parseConfig({ ...PROJECT, ...env }).upstream;
  assert.equal(upstream.mode, 'ibm');
  return upstream as Config['upstream'] & { mode: 'ibm' };
}

function refused(env: Environment, expected: RegExp): void {
  let error: unknown;
  try {
    parseConfig({ ...PROJECT, ...env });
  } catch (thrown) {
    error = thrown;
  }
  assert.ok(error instanceof ConfigError, `not refused: ${JSON.stringify(Object.keys(env))}`);
  assert.match(error.message, expected);
  for (const secret of SECRETS)
    assert.ok(!error.message.includes(secret), `${secret} echoed: ${error.message}`);
}

describe('the mode, inferred or named', () => {
  test('an API key alone → iam (any of its three names; the same value twice is fine)', () => {
    for (const name of ['IBM_CLOUD_API_KEY', 'WATSONX_APIKEY', 'WATSONX_API_KEY']) {
      assert.deepEqual(auth({ [name]: 'k-secret-1' }).auth, {
        type: 'iam',
        iamUrl: 'https://iam.cloud.ibm.com',
        apiKey: 'k-secret-1',
      });
    }
    assert.equal(auth({ IBM_CLOUD_API_KEY: 'k-secret-1', WATSONX_APIKEY: 'k-secret-1' }).auth.type, 'iam');
    assert.deepEqual(
      auth({ WATSONX_APIKEY: 'k-secret-1', WATSONX_IAM_URL: 'https://iam.test.cloud.ibm.com/identity/token' })
        .auth,
      { type: 'iam', iamUrl: 'https://iam.test.cloud.ibm.com/identity/token', apiKey: 'k-secret-1' },
    );
  });

  test('WATSONX_TOKEN → bearer; WATSONX_ZENAPIKEY → zenapikey; a username with a password → cp4d', () => {
    assert.deepEqual(auth({ WATSONX_TOKEN: 'tok-secret-4' }).auth, { type: 'bearer', token: 'tok-secret-4' });
    assert.deepEqual(auth({ WATSONX_URL: CPD, WATSONX_ZENAPIKEY: 'emVuOmtleQ==' }).auth, {
      type: 'zenapikey',
      zenApiKey: 'emVuOmtleQ==',
    });
    assert.deepEqual(
      auth({ WATSONX_URL: CPD, WATSONX_USERNAME: 'alice', WATSONX_PASSWORD: 'pw-secret-3' }).auth,
      {
        type: 'cp4d',
        authorizeUrl: CPD,
        username: 'alice',
        password: 'pw-secret-3',
      },
    );
    assert.deepEqual(
      auth({ WATSONX_URL: CPD, WATSONX_USERNAME: 'alice', WATSONX_API_KEY: 'k-secret-1' }).auth,
      {
        type: 'cp4d',
        authorizeUrl: CPD,
        username: 'alice',
        apiKey: 'k-secret-1',
      },
    );
  });

  test('zenapikey from a username and API key: base64 of user:key, no newline', () => {
    const upstream = auth({
      WATSONX_AUTH_TYPE: 'zenapikey',
      WATSONX_URL: CPD,
      WATSONX_USERNAME: 'alice',
      WATSONX_API_KEY: 'k-secret-1',
    });
    assert.deepEqual(upstream.auth, {
      type: 'zenapikey',
      zenApiKey: Buffer.from('alice:k-secret-1').toString('base64'),
    });
  });

  test('aws: the token server follows the AWS region host, WATSONX_AUTH_URL overrides it', () => {
    assert.deepEqual(
      auth({
        WATSONX_AUTH_TYPE: 'aws',
        WATSONX_URL: 'https://us-east-1.aws.wxai.ibm.com',
        WATSONX_APIKEY: 'k-secret-1',
      }).auth,
      { type: 'aws', tokenUrl: 'https://account-iam.platform.saas.ibm.com', apiKey: 'k-secret-1' },
    );
    const govCloud = auth({
      WATSONX_AUTH_TYPE: 'aws',
      WATSONX_URL: 'https://wxai.ibmforusgov.com',
      WATSONX_APIKEY: 'k',
    });
    assert.deepEqual(govCloud.auth, {
      type: 'aws',
      tokenUrl: 'https://account-iam.awsg.usge1.private.platform.ibmforusgov.com',
      apiKey: 'k',
    });
    assert.deepEqual(
      auth({
        WATSONX_AUTH_TYPE: 'aws',
        WATSONX_URL: 'https://watsonx.example.com',
        WATSONX_AUTH_URL: 'https://iam.example.com',
        WATSONX_APIKEY: 'k',
      }).auth,
      { type: 'aws', tokenUrl: 'https://iam.example.com', apiKey: 'k' },
    );
  });

  test('none, and UPSTREAM_CREDENTIALS=client (no server key; cache size)', () => {
    assert.deepEqual(auth({ WATSONX_AUTH_TYPE: 'none' }).auth, { type: 'none' });
    const client = auth({ UPSTREAM_CREDENTIALS: 'client', CLIENT_KEY_CACHE_SIZE: '50' });
    assert.deepEqual(client.auth, { type: 'iam', iamUrl: 'https://iam.cloud.ibm.com', apiKey: '' });
    assert.deepEqual(client.clientCredentials, { cacheSize: 50 });
  });

  test("the IBM SDK's names: bearertoken, noauth; an ibm-credentials.env file", () => {
    assert.deepEqual(
      auth({ WATSONX_AI_AUTH_TYPE: 'bearerToken', WATSONX_AI_BEARER_TOKEN: 'tok-secret-4' }).auth,
      {
        type: 'bearer',
        token: 'tok-secret-4',
      },
    );
    assert.deepEqual(auth({ WATSONX_AI_AUTH_TYPE: 'noauth' }).auth, { type: 'none' });
    const directory = mkdtempSync(join(tmpdir(), 'wxo-cred-'));
    try {
      const file = join(directory, 'my.env');
      writeFileSync(file, 'WATSONX_AI_APIKEY=k-secret-2\nOTHER_SERVICE_APIKEY=x\n');
      assert.deepEqual(auth({ IBM_CREDENTIALS_FILE: file }).auth, {
        type: 'iam',
        iamUrl: 'https://iam.cloud.ibm.com',
        apiKey: 'k-secret-2',
      });
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test('no credentials at all: still the simulator (the README quick start)', () => {
    assert.equal(parseConfig({}).upstream.mode, 'simulator');
  });
});

describe('refused at start, naming variables only', () => {
  test('two credentials without WATSONX_AUTH_TYPE', () => {
    refused(
      { IBM_CLOUD_API_KEY: 'k-secret-1', WATSONX_TOKEN: 'tok-secret-4' },
      /IBM_CLOUD_API_KEY, WATSONX_TOKEN are set together: say which to use with WATSONX_AUTH_TYPE/,
    );
    refused(
      { WATSONX_TOKEN: 'tok-secret-4', WATSONX_ZENAPIKEY: 'emVuOmtleQ==' },
      /WATSONX_TOKEN, WATSONX_ZENAPIKEY are set together/,
    );
  });

  test('different values under two API key names', () => {
    refused(
      { IBM_CLOUD_API_KEY: 'k-secret-1', WATSONX_API_KEY: 'k-secret-2' },
      /hold different API keys: set only one/,
    );
  });

  test('half-set cp4d: a username alone, a password alone, both a password and an API key', () => {
    refused(
      { WATSONX_URL: CPD, WATSONX_USERNAME: 'alice' },
      /WATSONX_USERNAME needs WATSONX_PASSWORD or an API key/,
    );
    refused(
      { WATSONX_URL: CPD, WATSONX_PASSWORD: 'pw-secret-3' },
      /WATSONX_AUTH_TYPE=cp4d needs WATSONX_USERNAME/,
    );
    refused(
      {
        WATSONX_URL: CPD,
        WATSONX_USERNAME: 'alice',
        WATSONX_PASSWORD: 'pw-secret-3',
        WATSONX_API_KEY: 'k-secret-1',
      },
      /WATSONX_PASSWORD and WATSONX_API_KEY are both set: .*exactly one/,
    );
  });

  test('cp4d, zenapikey and aws need the cluster (or AWS) URL', () => {
    refused(
      { WATSONX_USERNAME: 'alice', WATSONX_PASSWORD: 'pw-secret-3' },
      /WATSONX_URL is required with WATSONX_AUTH_TYPE=cp4d/,
    );
    refused(
      { WATSONX_ZENAPIKEY: 'emVuOmtleQ==' },
      /WATSONX_URL is required with WATSONX_AUTH_TYPE=zenapikey/,
    );
    refused(
      { WATSONX_AUTH_TYPE: 'aws', WATSONX_APIKEY: 'k-secret-1' },
      /WATSONX_URL is required with WATSONX_AUTH_TYPE=aws/,
    );
    refused(
      { WATSONX_AUTH_TYPE: 'aws', WATSONX_APIKEY: 'k-secret-1', WATSONX_URL: 'https://watsonx.example.com' },
      /WATSONX_AUTH_URL is required with WATSONX_AUTH_TYPE=aws/,
    );
  });

  test("a named mode with another mode's settings, or without its own", () => {
    refused(
      { WATSONX_AUTH_TYPE: 'bearer', IBM_CLOUD_API_KEY: 'k-secret-1' },
      /WATSONX_AUTH_TYPE=bearer does not use IBM_CLOUD_API_KEY/,
    );
    refused({ WATSONX_AUTH_TYPE: 'bearer' }, /WATSONX_AUTH_TYPE=bearer needs the token: set WATSONX_TOKEN/);
    refused({ WATSONX_AUTH_TYPE: 'iam' }, /WATSONX_AUTH_TYPE=iam needs an API key: set IBM_CLOUD_API_KEY/);
    refused(
      { WATSONX_AUTH_TYPE: 'none', WATSONX_TOKEN: 'tok-secret-4' },
      /WATSONX_AUTH_TYPE=none does not use WATSONX_TOKEN/,
    );
    refused(
      { WATSONX_AUTH_TYPE: 'basic' },
      /WATSONX_AUTH_TYPE must be one of iam, bearer, cp4d, zenapikey, aws, none/,
    );
    refused({ WATSONX_AI_AUTH_TYPE: 'zen' }, /WATSONX_AI_AUTH_TYPE=zen needs code/);
  });

  test('per-user keys with a server credential or a mode that cannot take one key', () => {
    refused(
      { UPSTREAM_CREDENTIALS: 'client', IBM_CLOUD_API_KEY: 'k-secret-1' },
      /UPSTREAM_CREDENTIALS=client takes each client's own API key: remove IBM_CLOUD_API_KEY/,
    );
    refused({ UPSTREAM_CREDENTIALS: 'client', WATSONX_AUTH_TYPE: 'none' }, /none already forwards/);
    refused({ UPSTREAM_CREDENTIALS: 'everyone' }, /UPSTREAM_CREDENTIALS must be server or client/);
  });

  test('a token or ZenApiKey that would break a header, or a ZenApiKey that is not base64', () => {
    refused({ WATSONX_TOKEN: 'tok secret\r\nx' }, /WATSONX_TOKEN must be one word of visible characters/);
    refused(
      { WATSONX_URL: CPD, WATSONX_ZENAPIKEY: 'alice:k-secret-1' },
      /WATSONX_ZENAPIKEY must be base64 of <username>:<api key>/,
    );
  });

  test('credentials in two sources (the gateway names, the SDK names, the file) are not combined', () => {
    refused(
      { IBM_CLOUD_API_KEY: 'k-secret-1', WATSONX_AI_APIKEY: 'k-secret-2' },
      /IBM credentials are set in more than one place \(IBM_CLOUD_API_KEY in the environment; and WATSONX_AI_APIKEY in the WATSONX_AI_\* variables\)/,
    );
    refused(
      { IBM_CREDENTIALS_FILE: '/nonexistent/ibm-credentials.env' },
      /IBM_CREDENTIALS_FILE: cannot read "\/nonexistent\/ibm-credentials.env" \(ENOENT\)/,
    );
  });
});
