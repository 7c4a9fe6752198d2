// Every IBM auth mode, started from its variables as an operator would set them, against the
// simulator (which checks the Authorization each call carries): a request that reaches watsonx,
// the token refresh and the one retry after a 401 where the mode has tokens, and the failures
// (named by mode and cause, no secret, no internal address).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { accessToken } from './helpers/simulator.ts';
import { chat, jwtClaims, message, startAuthGateway, subjectOf } from './helpers/auth-gateway.ts';

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers) await close();
});

async function gateway(...args: Parameters<typeof startAuthGateway>) {
  const started = await startAuthGateway(...args);
  closers.push(() => started.close());
  return started;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const ALICE = { username: 'alice', password: 'alice-s3cret-password', apiKey: 'alice-platform-api-key' };

describe('iam', () => {
  for (const [label, env] of [
    ['IBM_CLOUD_API_KEY', { IBM_CLOUD_API_KEY: 'server-iam-key' }],
    ["LiteLLM's WATSONX_APIKEY", { WATSONX_APIKEY: 'server-iam-key' }],
    [
      "LiteLLM's WATSONX_API_KEY with WATSONX_AUTH_TYPE",
      { WATSONX_AUTH_TYPE: 'iam', WATSONX_API_KEY: 'server-iam-key' },
    ],
  ] as const) {
    test(`${label}: the key is exchanged at IAM and its token sent`, async () => {
      const target = await gateway((url) => ({ ...env, IBM_IAM_URL: url }), {
        acceptedApiKeys: ['server-iam-key'],
      });
      const response = await target.inject(chat());
      assert.equal(response.statusCode, 200, response.body);
      const [authorization] = target.inferenceAuthorizations();
      assert.equal(jwtClaims(authorization!).sub, subjectOf('server-iam-key'));
      assert.equal(target.calls('/identity/token').length, 1);
    });
  }

  test("the IBM SDK's WATSONX_AI_* variables, service URL included", async () => {
    const target = await gateway(
      (url) => ({
        WATSONX_URL: '',
        WATSONX_AI_AUTH_TYPE: 'iam',
        WATSONX_AI_APIKEY: 'sdk-iam-key',
        WATSONX_AI_SERVICE_URL: url,
        WATSONX_AI_AUTH_URL: url,
      }),
      { acceptedApiKeys: ['sdk-iam-key'] },
    );
    assert.equal(
      target.config.upstream.mode === 'ibm' && target.config.upstream.watsonxUrl,
      target.simulator.url,
    );
    const response = await target.inject(chat());
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(jwtClaims(target.inferenceAuthorizations()[0]!).sub, subjectOf('sdk-iam-key'));
  });

  test('an ibm-credentials.env named by IBM_CREDENTIALS_FILE (a directory holding it)', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'wxo-credentials-'));
    try {
      const target = await gateway(
        (url) => {
          writeFileSync(
            join(directory, 'ibm-credentials.env'),
            `WATSONX_AI_AUTH_TYPE=iam\nWATSONX_AI_APIKEY=file-iam-key\nWATSONX_AI_AUTH_URL=${url}\n`,
          );
          return { IBM_CREDENTIALS_FILE: directory };
        },
        { acceptedApiKeys: ['file-iam-key'] },
      );
      const response = await target.inject(chat());
      assert.equal(response.statusCode, 200, response.body);
      assert.equal(jwtClaims(target.inferenceAuthorizations()[0]!).sub, subjectOf('file-iam-key'));
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('bearer (WATSONX_TOKEN)', () => {
  test('the token is sent as it is; a 401 is not retried (nothing to refresh)', async () => {
    const target = await gateway(() => ({ WATSONX_TOKEN: 'static-bearer-token-1' }), {
      staticBearerTokens: ['static-bearer-token-1'],
    });
    assert.equal(target.upstream.authMode, 'bearer');
    const response = await target.inject(chat());
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(target.inferenceAuthorizations(), ['Bearer static-bearer-token-1']);
    assert.equal(target.calls('/identity/token').length, 0);
    const health = (await target.inject({ method: 'GET', url: '/health' })).json();
    assert.equal(health.upstream.token.status, 'static');
    assert.equal((await target.inject({ method: 'GET', url: '/ready' })).statusCode, 200);
  });

  test('a token watsonx refuses: 502 upstream_auth_failed after one call, the token not echoed', async () => {
    const target = await gateway(() => ({
      WATSONX_AUTH_TYPE: 'bearer',
      WATSONX_TOKEN: 'Bearer expired-token-zz',
    }));
    const response = await target.inject(chat());
    assert.equal(response.statusCode, 502, response.body);
    assert.equal(response.json().error.code, 'upstream_auth_failed');
    assert.doesNotMatch(response.body, /expired-token-zz/);
    // The pasted "Bearer " prefix was dropped, and there was no second try with the same header.
    assert.deepEqual(target.inferenceAuthorizations(), ['Bearer expired-token-zz']);
  });

  test('the deployment listing with a refused token: one call, no retry with the same header', async () => {
    const target = await gateway(() => ({ WATSONX_TOKEN: 'expired-token-zz' }));
    const models = await target.inject({ method: 'GET', url: '/v1/models' });
    assert.equal(models.statusCode, 200, models.body);
    assert.equal(target.calls('/ml/v4/deployments').length, 1);
  });
});

describe('cp4d (/icp4d-api/v1/authorize)', () => {
  test('username + password: one authorize call, its JWT sent; an expired token is renewed once', async () => {
    const target = await gateway(
      () => ({ WATSONX_USERNAME: ALICE.username, WATSONX_PASSWORD: ALICE.password }),
      { cp4dUsers: [ALICE] },
    );
    assert.equal(target.upstream.authMode, 'cp4d');
    const first = await target.inject(chat());
    assert.equal(first.statusCode, 200, first.body);
    const authorize = target.calls('/icp4d-api/v1/authorize');
    assert.equal(authorize.length, 1);
    assert.deepEqual(authorize[0]!.body, { username: 'alice', password: ALICE.password });
    assert.equal(jwtClaims(target.inferenceAuthorizations()[0]!).username, 'alice');

    target.simulator.expireTokens();
    const second = await target.inject(chat());
    assert.equal(second.statusCode, 200, second.body);
    assert.equal(target.calls('/icp4d-api/v1/authorize').length, 2);
    const sent = target.inferenceAuthorizations();
    assert.equal(sent.length, 3, 'the refused call and its one retry');
    assert.equal(sent[1], sent[0]);
    assert.notEqual(sent[2], sent[1]);
  });

  test('username + platform API key, answered as `accessToken` (cp-data 5.2)', async () => {
    const target = await gateway(
      () => ({ WATSONX_AUTH_TYPE: 'cp4d', WATSONX_USERNAME: ALICE.username, WATSONX_API_KEY: ALICE.apiKey }),
      { cp4dUsers: [ALICE], cp4dTokenField: 'accessToken' },
    );
    const response = await target.inject(message());
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(target.calls('/icp4d-api/v1/authorize')[0]!.body, {
      username: 'alice',
      api_key: ALICE.apiKey,
    });
  });

  test('the SDK names: WATSONX_AI_AUTH_TYPE=cp4d with WATSONX_AI_URL as the cluster URL', async () => {
    const target = await gateway(
      (url) => ({
        WATSONX_URL: '',
        WATSONX_AI_AUTH_TYPE: 'cp4d',
        WATSONX_AI_USERNAME: ALICE.username,
        WATSONX_AI_PASSWORD: ALICE.password,
        WATSONX_AI_URL: url,
      }),
      { cp4dUsers: [ALICE] },
    );
    assert.equal((await target.inject(chat())).statusCode, 200);
  });

  test('a wrong password: 502 naming the mode and cause; no password in the answer or the log', async () => {
    const target = await gateway(
      () => ({ WATSONX_USERNAME: ALICE.username, WATSONX_PASSWORD: 'wrong-password-123' }),
      { cp4dUsers: [ALICE] },
    );
    const response = await target.inject(chat());
    assert.equal(response.statusCode, 502, response.body);
    const error = response.json().error;
    assert.equal(error.code, 'upstream_auth_failed');
    assert.match(error.message, /auth mode cp4d/);
    assert.match(error.message, /rejected the username and password \(401: Invalid user credentials\)/);
    assert.match(error.message, /WATSONX_USERNAME and WATSONX_PASSWORD/);
    assert.doesNotMatch(response.body + target.log.join(''), /wrong-password-123/);
    assert.equal(target.inferenceAuthorizations().length, 0);
  });

  test('the cluster unreachable: 503 saying so, without its address or port', async () => {
    const port = await closedPort();
    const target = await gateway(() => ({
      WATSONX_USERNAME: ALICE.username,
      WATSONX_PASSWORD: ALICE.password,
      WATSONX_AUTH_URL: `http://127.0.0.1:${port}`,
    }));
    const response = await target.inject(chat());
    assert.equal(response.statusCode, 503, response.body);
    assert.equal(response.json().error.code, 'iam_unavailable');
    assert.match(response.json().error.message, /Cloud Pak for Data .* is unreachable/);
    assert.doesNotMatch(response.body, new RegExp(`127\\.0\\.0\\.1|${port}|ECONNREFUSED`));
    const ready = await target.inject({ method: 'GET', url: '/ready' });
    assert.equal(ready.statusCode, 503);
    assert.match(ready.json().reason, /Cloud Pak for Data/);
  });
});

describe('zenapikey', () => {
  const header = `ZenApiKey ${Buffer.from(`${ALICE.username}:${ALICE.apiKey}`).toString('base64')}`;

  test('built from WATSONX_USERNAME + WATSONX_API_KEY (no newline), no token call', async () => {
    const target = await gateway(
      () => ({
        WATSONX_AUTH_TYPE: 'zenapikey',
        WATSONX_USERNAME: ALICE.username,
        WATSONX_API_KEY: ALICE.apiKey,
      }),
      { cp4dUsers: [ALICE] },
    );
    const response = await target.inject(chat());
    assert.equal(response.statusCode, 200, response.body);
    assert.deepEqual(target.inferenceAuthorizations(), [header]);
    assert.equal(target.simulator.requests.filter((request) => !request.path.startsWith('/ml/')).length, 0);
  });

  test("LiteLLM's pre-encoded WATSONX_ZENAPIKEY is sent verbatim; a refused key is not retried", async () => {
    const target = await gateway(() => ({ WATSONX_ZENAPIKEY: header.slice('ZenApiKey '.length) }), {
      cp4dUsers: [ALICE],
    });
    assert.equal(target.upstream.authMode, 'zenapikey');
    assert.equal((await target.inject(chat())).statusCode, 200);
    assert.deepEqual(target.inferenceAuthorizations(), [header]);

    const refused = await gateway(
      () => ({ WATSONX_ZENAPIKEY: Buffer.from('alice:revoked-key').toString('base64') }),
      {
        cp4dUsers: [ALICE],
      },
    );
    const response = await refused.inject(chat());
    assert.equal(response.statusCode, 502);
    assert.equal(refused.inferenceAuthorizations().length, 1);
  });
});

describe('aws', () => {
  test('the SaaS key is exchanged at /api/2.0/apikeys/token; an expired token is renewed once', async () => {
    const target = await gateway(
      (url) => ({ WATSONX_AUTH_TYPE: 'aws', IBM_CLOUD_API_KEY: 'aws-saas-key', WATSONX_AUTH_URL: url }),
      { acceptedApiKeys: ['aws-saas-key'] },
    );
    const first = await target.inject(chat());
    assert.equal(first.statusCode, 200, first.body);
    const calls = target.calls('/api/2.0/apikeys/token');
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0]!.body, { apikey: 'aws-saas-key' });
    assert.equal(target.calls('/identity/token').length, 0);
    assert.equal(jwtClaims(target.inferenceAuthorizations()[0]!).sub, subjectOf('aws:aws-saas-key'));

    target.simulator.expireTokens();
    assert.equal((await target.inject(chat())).statusCode, 200);
    assert.equal(target.calls('/api/2.0/apikeys/token').length, 2);
  });

  test('a refused key: 502 naming the aws mode', async () => {
    const target = await gateway(
      (url) => ({ WATSONX_AUTH_TYPE: 'aws', WATSONX_APIKEY: 'not-this-key', WATSONX_AUTH_URL: url }),
      { acceptedApiKeys: ['aws-saas-key'] },
    );
    const response = await target.inject(chat());
    assert.equal(response.statusCode, 502);
    assert.match(
      response.json().error.message,
      /auth mode aws.*IBM SaaS IAM \(watsonx on AWS\) rejected the API key/,
    );
    assert.doesNotMatch(response.body, /not-this-key/);
  });
});

describe("none (the client's Authorization forwarded)", () => {
  test("the client's own header reaches watsonx unchanged; x-api-key becomes a Bearer", async () => {
    const target = await gateway(() => ({ WATSONX_AUTH_TYPE: 'none' }));
    const token = await accessToken(target.simulator, 'client-own-key');
    const response = await target.inject(chat({ authorization: `Bearer ${token}` }));
    assert.equal(response.statusCode, 200, response.body);
    const anthropic = await target.inject(message({ 'x-api-key': token }));
    assert.equal(anthropic.statusCode, 200, anthropic.body);
    assert.deepEqual(target.inferenceAuthorizations(), [`Bearer ${token}`, `Bearer ${token}`]);
    assert.equal((await target.inject({ method: 'GET', url: '/ready' })).statusCode, 200);
    assert.equal(
      (await target.inject({ method: 'GET', url: '/health' })).json().upstream.token.status,
      'per-request',
    );
  });

  test("no credential, or one watsonx refuses: the client's 401 in its protocol, one call", async () => {
    const target = await gateway(() => ({ WATSONX_AUTH_TYPE: 'none' }));
    const missing = await target.inject(chat());
    assert.equal(missing.statusCode, 401);
    assert.equal(missing.json().error.code, 'invalid_api_key');

    const refused = await target.inject(chat({ authorization: 'Bearer not-a-token-of-ibm' }));
    assert.equal(refused.statusCode, 401, refused.body);
    assert.equal(refused.json().error.code, 'invalid_api_key');
    assert.doesNotMatch(refused.body, /not-a-token-of-ibm/);
    const anthropic = await target.inject(message({ 'x-api-key': 'not-a-token-of-ibm' }));
    assert.equal(anthropic.statusCode, 401);
    assert.equal(anthropic.json().error.type, 'authentication_error');
    assert.equal(target.inferenceAuthorizations().length, 2, 'no retry with the same header');
  });
});
