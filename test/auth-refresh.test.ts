// Token lifetimes of the CP4D and AWS modes come from the JWT they answer (`exp`, `iat`): the token
// manager refreshes in the background once 80 % of it has passed, as for IAM, through the real
// token endpoints of the simulator (a shared fake clock on both sides).
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Agent } from 'undici';
import { startSimulator } from '../src/simulator/index.ts';
import { createAwsTokenFetcher } from '../src/watsonx/aws.ts';
import { createCp4dTokenFetcher } from '../src/watsonx/cp4d.ts';
import { TokenManager } from '../src/watsonx/token-manager.ts';
import type { FetchIamToken } from '../src/watsonx/iam.ts';

const HOUR_MS = 3600_000;
let clock = Date.UTC(2026, 11, 6, 8, 0, 0);
const now = () => clock;
const simulator = await startSimulator({
  now,
  tokenTtlSeconds: 12 * 3600,
  cp4dUsers: [{ username: 'alice', password: 'alice-password-1' }],
  acceptedApiKeys: ['aws-saas-key'],
});
const dispatcher = new Agent();
after(async () => {
  await dispatcher.close();
  await simulator.close();
});

async function settle(): Promise<void> {
  for (let index = 0; index < 20; index++) await new Promise((resolve) => setImmediate(resolve));
}

for (const [mode, path, fetcher, secret] of [
  [
    'cp4d',
    '/icp4d-api/v1/authorize',
    createCp4dTokenFetcher({
      url: simulator.url,
      credentials: { username: 'alice', password: 'alice-password-1' },
      dispatcher,
    }),
    'cp4d:alice',
  ],
  [
    'aws',
    '/api/2.0/apikeys/token',
    createAwsTokenFetcher({ tokenUrl: simulator.url, dispatcher }),
    'aws-saas-key',
  ],
] as Array<[string, string, FetchIamToken, string]>) {
  test(`${mode}: a 12-hour JWT is reused, refreshed in the background once 80 % of it has passed`, async () => {
    const calls = () => simulator.requests.filter((request) => request.path === path).length;
    const before = calls();
    const tokens = new TokenManager({ fetchToken: fetcher, now });
    const state = () => tokens.state(secret);

    const first = await tokens.getToken(secret);
    assert.equal(calls() - before, 1);
    assert.equal(state().expiresAt, clock + 12 * HOUR_MS, 'expiry read from the JWT');

    clock += 9 * HOUR_MS; // 75 %: still the same token, no call
    assert.equal(await tokens.getToken(secret), first);
    await settle();
    assert.equal(calls() - before, 1);

    clock += 1 * HOUR_MS; // 83 %: the cached token now, a fresh one fetched behind it
    assert.equal(await tokens.getToken(secret), first);
    const firstExpiry = state().expiresAt;
    for (let waited = 0; state().expiresAt === firstExpiry && waited < 5000; waited += 10) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(calls() - before, 2);
    const second = await tokens.getToken(secret);
    assert.notEqual(second, first);
    assert.equal(state().expiresAt, clock + 12 * HOUR_MS);
  });
}
