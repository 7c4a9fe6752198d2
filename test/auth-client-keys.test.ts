// UPSTREAM_CREDENTIALS=client: each client's own IBM API key (its Bearer, or x-api-key for Anthropic
// clients) is exchanged at IAM, cached per key hash (bounded), one exchange per key at a time; a
// wrong key is that client's 401 in its protocol; rate limits, stored Responses, logs and metrics
// go by the key's hash, never the key.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { ClientCredentials, credentialId } from '../src/watsonx/auth.ts';
import { TokenManager } from '../src/watsonx/token-manager.ts';
import { chat, jwtClaims, message, MODEL, startAuthGateway, subjectOf } from './helpers/auth-gateway.ts';

const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers) await close();
});

const ALICE = 'alice-ibm-cloud-api-key';
const BOB = 'bob-ibm-cloud-api-key';
const CAROL = 'carol-ibm-cloud-api-key';
const accepted = { acceptedApiKeys: [ALICE, BOB, CAROL] };
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });
const hash16 = (key: string) => createHash('sha256').update(key).digest('hex').slice(0, 16);

async function gateway(extra: Record<string, string> = {}) {
  const started = await startAuthGateway(
    (url) => ({ UPSTREAM_CREDENTIALS: 'client', IBM_IAM_URL: url, ...extra }),
    accepted,
  );
  closers.push(() => started.close());
  return started;
}

describe('per-user keys', () => {
  test("two users at once: one IAM call each, each request carries its own user's token", async () => {
    const target = await gateway();
    const requests = [ALICE, BOB, ALICE, BOB, ALICE, BOB].map((key) =>
      target.inject(chat(bearer(key), `from ${key === ALICE ? 'alice' : 'bob'}`)),
    );
    for (const response of await Promise.all(requests)) assert.equal(response.statusCode, 200, response.body);

    const exchanges = target.calls('/identity/token').map((call) => (call.body as { apikey: string }).apikey);
    assert.deepEqual(
      exchanges.sort(),
      [ALICE, BOB].sort(),
      'one exchange per key, concurrent requests share it',
    );
    const inference = target.simulator.requests.filter((request) => request.path === '/ml/v1/text/chat');
    assert.equal(inference.length, 6);
    for (const request of inference) {
      const said = JSON.stringify(request.body);
      const key = said.includes('from alice') ? ALICE : BOB;
      assert.equal(jwtClaims(String(request.headers.authorization)).sub, subjectOf(key), said);
    }
    assert.equal((await target.inject({ method: 'GET', url: '/ready' })).statusCode, 200);
  });

  test("Anthropic clients' x-api-key works the same", async () => {
    const target = await gateway();
    const response = await target.inject(message({ 'x-api-key': BOB }));
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(jwtClaims(target.inferenceAuthorizations()[0]!).sub, subjectOf(BOB));
  });

  test("a wrong key: the client's 401 in its protocol (not a 502), no key echoed, IAM not hammered", async () => {
    const target = await gateway();
    const openai = await target.inject(chat(bearer('wrong-key-of-mallory')));
    assert.equal(openai.statusCode, 401, openai.body);
    assert.deepEqual(
      { type: openai.json().error.type, code: openai.json().error.code },
      { type: 'invalid_request_error', code: 'invalid_api_key' },
    );
    assert.match(openai.json().error.message, /IBM Cloud IAM rejected the API key \(BXNIM0415E/);

    const anthropic = await target.inject(message({ 'x-api-key': 'wrong-key-of-mallory' }));
    assert.equal(anthropic.statusCode, 401);
    assert.equal(anthropic.json().type, 'error');
    assert.equal(anthropic.json().error.type, 'authentication_error');

    const responses = await target.inject({
      method: 'POST',
      url: '/v1/responses',
      headers: bearer('wrong-key-of-mallory'),
      payload: { model: MODEL, input: 'hi' },
    });
    assert.equal(responses.statusCode, 401);

    // The failure is remembered for a moment: three refusals, one IAM exchange.
    assert.equal(target.calls('/identity/token').length, 1);
    assert.equal(target.inferenceAuthorizations().length, 0);
    for (const text of [openai.body, anthropic.body, responses.body, target.log.join('')]) {
      assert.doesNotMatch(text, /wrong-key-of-mallory/);
    }
    // A good key is unaffected.
    assert.equal((await target.inject(chat(bearer(ALICE)))).statusCode, 200);
  });

  test('/v1/models checks the key too: a wrong one is a 401 there (tools test their key on it)', async () => {
    const target = await gateway();
    const wrong = bearer('wrong-key-of-mallory');
    for (const url of ['/v1/models', '/v1/models/ibm/granite-4-h-small']) {
      const openai = await target.inject({ method: 'GET', url, headers: wrong });
      assert.equal(openai.statusCode, 401, `${url}: ${openai.body}`);
      assert.equal(openai.json().error.code, 'invalid_api_key');
      const anthropic = await target.inject({
        method: 'GET',
        url,
        headers: { 'x-api-key': 'wrong-key-of-mallory', 'anthropic-version': '2023-06-01' },
      });
      assert.equal(anthropic.statusCode, 401, `${url}: ${anthropic.body}`);
      assert.equal(anthropic.json().error.type, 'authentication_error');
    }
    const good = await target.inject({ method: 'GET', url: '/v1/models', headers: bearer(ALICE) });
    assert.equal(good.statusCode, 200, good.body);
    assert.equal(target.calls('/identity/token').length, 2, 'one exchange per key');
  });

  test('no key at all: 401 saying which header to send', async () => {
    const target = await gateway();
    const response = await target.inject(chat());
    assert.equal(response.statusCode, 401);
    assert.match(response.json().error.message, /your IBM API key/);
  });

  test('the cache is bounded (CLIENT_KEY_CACHE_SIZE): the least recently used key is exchanged again', async () => {
    const target = await gateway({ CLIENT_KEY_CACHE_SIZE: '2' });
    for (const key of [ALICE, BOB, ALICE, CAROL]) {
      assert.equal((await target.inject(chat(bearer(key)))).statusCode, 200);
    }
    // alice, bob, (alice cached), carol → bob evicted; alice still cached; bob again → exchanged again.
    assert.equal(target.calls('/identity/token').length, 3);
    assert.equal((await target.inject(chat(bearer(ALICE)))).statusCode, 200);
    assert.equal(target.calls('/identity/token').length, 3);
    assert.equal((await target.inject(chat(bearer(BOB)))).statusCode, 200);
    assert.equal(target.calls('/identity/token').length, 4);
  });

  test('an expired token: invalidated for that user only and exchanged again once', async () => {
    const target = await gateway();
    assert.equal((await target.inject(chat(bearer(ALICE)))).statusCode, 200);
    target.simulator.expireTokens();
    assert.equal((await target.inject(chat(bearer(ALICE)))).statusCode, 200);
    assert.equal(target.calls('/identity/token').length, 2);
  });
});

describe('per-user keys elsewhere', () => {
  test('watsonx on AWS: each key exchanged at the AWS token server', async () => {
    const target = await startAuthGateway(
      (url) => ({ UPSTREAM_CREDENTIALS: 'client', WATSONX_AUTH_TYPE: 'aws', WATSONX_AUTH_URL: url }),
      accepted,
    );
    closers.push(() => target.close());
    assert.equal((await target.inject(chat(bearer(ALICE)))).statusCode, 200);
    assert.equal((await target.inject(chat(bearer(BOB)))).statusCode, 200);
    const keys = target
      .calls('/api/2.0/apikeys/token')
      .map((call) => (call.body as { apikey: string }).apikey);
    assert.deepEqual(keys, [ALICE, BOB]);
    assert.deepEqual(
      target.inferenceAuthorizations().map((header) => jwtClaims(header).sub),
      [subjectOf(`aws:${ALICE}`), subjectOf(`aws:${BOB}`)],
    );
    const refused = await target.inject(chat(bearer('not-an-aws-key')));
    assert.equal(refused.statusCode, 401);
    assert.match(refused.json().error.message, /IBM SaaS IAM \(watsonx on AWS\) rejected the API key/);
  });

  test('the cache holds tokens under the SHA-256 of each key, never the key', async () => {
    const tokens = new TokenManager({
      fetchToken: async () => ({ access_token: 'token-for-alice', expires_in: 3600 }),
    });
    const credentials = new ClientCredentials(tokens);
    assert.equal(await credentials.forKey(ALICE).authorization(), 'Bearer token-for-alice');
    assert.equal(tokens.state(credentialId(ALICE)).status, 'valid');
    assert.equal(tokens.state(ALICE).status, 'empty');
    assert.equal(credentialId(ALICE), createHash('sha256').update(ALICE).digest('hex'));
  });
});

describe('with gateway keys, limits and metrics', () => {
  test('API_KEY set: the gateway key travels in X-Gateway-Key, the IBM key in Authorization', async () => {
    const target = await gateway({ API_KEY: 'the-gateway-key' });
    const missing = await target.inject(chat(bearer(ALICE)));
    assert.equal(missing.statusCode, 401);
    assert.match(missing.json().error.message, /x-gateway-key/);
    const wrong = await target.inject(chat({ ...bearer(ALICE), 'x-gateway-key': 'nope' }));
    assert.equal(wrong.statusCode, 401);
    const right = await target.inject(chat({ ...bearer(ALICE), 'x-gateway-key': 'the-gateway-key' }));
    assert.equal(right.statusCode, 200, right.body);
    assert.equal(target.calls('/identity/token').length, 1, 'the wrong gateway key never reached IAM');
  });

  test('/metrics behind the gateway key needs only X-Gateway-Key (a scraper has no IBM key)', async () => {
    const target = await gateway({ API_KEY: 'the-gateway-key', METRICS_REQUIRE_KEY: 'true' });
    assert.equal((await target.inject({ method: 'GET', url: '/metrics' })).statusCode, 401);
    const scraped = await target.inject({
      method: 'GET',
      url: '/metrics',
      headers: { 'x-gateway-key': 'the-gateway-key' },
    });
    assert.equal(scraped.statusCode, 200, scraped.body);
    assert.equal(target.calls('/identity/token').length, 0);
  });

  test('rate limits apply per user key; metrics and the log name users by hash only', async () => {
    const target = await gateway({ RATE_LIMIT_RPM: '1' });
    assert.equal((await target.inject(chat(bearer(ALICE)))).statusCode, 200);
    assert.equal((await target.inject(chat(bearer(ALICE)))).statusCode, 429);
    assert.equal((await target.inject(chat(bearer(BOB)))).statusCode, 200);

    const metrics = await target.metrics.registry.metrics();
    assert.match(
      metrics,
      new RegExp(`gateway_user_requests_total\\{user="${hash16(ALICE)}",status="200"\\} 1`),
    );
    assert.match(
      metrics,
      new RegExp(`gateway_user_requests_total\\{user="${hash16(ALICE)}",status="429"\\} 1`),
    );
    assert.match(
      metrics,
      new RegExp(`gateway_user_tokens_total\\{user="${hash16(BOB)}",kind="prompt"\\} [1-9]`),
    );
    const log = target.log.join('');
    assert.match(log, new RegExp(`"user":"${hash16(BOB)}"`));
    for (const key of [ALICE, BOB]) assert.ok(!log.includes(key) && !metrics.includes(key));
  });

  test('credentials never accepted add no metric series: random keys cannot grow /metrics', async () => {
    const target = await gateway();
    assert.equal((await target.inject(chat(bearer(ALICE)))).statusCode, 200);
    for (let index = 0; index < 20; index++) {
      const key = `random-key-${index}-of-mallory`;
      // Refused by IAM (401), or refused before any IBM call (400: a bad body).
      assert.equal((await target.inject(chat(bearer(key)))).statusCode, 401);
      const bad = await target.inject({ ...chat(bearer(`${key}-b`)), payload: { messages: [] } });
      assert.equal(bad.statusCode, 400);
    }
    const metrics = await target.metrics.registry.metrics();
    const users = new Set(
      [...metrics.matchAll(/gateway_user_requests_total\{user="([^"]+)"/g)].map((match) => match[1]),
    );
    assert.deepEqual([...users].sort(), [hash16(ALICE), 'other'].sort());
    assert.match(metrics, /gateway_user_requests_total\{user="other",status="401"\} 20/);
  });

  test('stored Responses belong to the user whose key made them', async () => {
    const target = await gateway();
    const created = await target.inject({
      method: 'POST',
      url: '/v1/responses',
      headers: bearer(ALICE),
      payload: { model: MODEL, input: 'remember me', store: true },
    });
    assert.equal(created.statusCode, 200, created.body);
    const id = created.json().id as string;
    assert.equal(
      (await target.inject({ method: 'GET', url: `/v1/responses/${id}`, headers: bearer(ALICE) })).statusCode,
      200,
    );
    assert.equal(
      (await target.inject({ method: 'GET', url: `/v1/responses/${id}`, headers: bearer(BOB) })).statusCode,
      404,
    );
  });
});
