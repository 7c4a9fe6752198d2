// /docs with a gateway key: open by default (the document holds no secret), behind the key with
// DOCS_REQUIRE_KEY=true: the UI page, /docs/json and the UI's static files, in the OpenAI error shape.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const KEY = 'gateway-key-for-docs';
const closers: Array<() => Promise<void>> = [];
after(async () => {
  for (const close of closers) await close();
});

async function gateway(env: Record<string, string>): Promise<TestGateway> {
  const started = await startTestGateway({ env });
  closers.push(() => started.close());
  return started;
}

const DOCS_URLS = ['/docs', '/docs/json', '/docs/static/index.html'];

test('DOCS_REQUIRE_KEY=true: every /docs URL needs the gateway key', async () => {
  const target = await gateway({ API_KEY: KEY, DOCS_REQUIRE_KEY: 'true' });
  for (const url of DOCS_URLS) {
    const anonymous = await target.inject({ method: 'GET', url });
    assert.equal(anonymous.statusCode, 401, `${url}: ${anonymous.body}`);
    assert.equal(anonymous.json().error.code, 'invalid_api_key');
    const wrong = await target.inject({ method: 'GET', url, headers: { authorization: 'Bearer nope' } });
    assert.equal(wrong.statusCode, 401, url);
    const keyed = await target.inject({ method: 'GET', url, headers: { authorization: `Bearer ${KEY}` } });
    assert.ok(keyed.statusCode === 200 || keyed.statusCode === 302, `${url}: ${keyed.statusCode}`);
  }
  const document = await target.inject({
    method: 'GET',
    url: '/docs/json',
    headers: { authorization: `Bearer ${KEY}` },
  });
  assert.equal(document.json().info.title, 'watsonx-openai-proxy');
});

test('by default, and without API_KEY, /docs stays open', async () => {
  for (const env of [{ API_KEY: KEY }, { DOCS_REQUIRE_KEY: 'true' }] as Array<Record<string, string>>) {
    const target = await gateway(env);
    for (const url of DOCS_URLS) {
      const response = await target.inject({ method: 'GET', url });
      assert.ok(response.statusCode === 200 || response.statusCode === 302, `${url}: ${response.statusCode}`);
    }
  }
});
