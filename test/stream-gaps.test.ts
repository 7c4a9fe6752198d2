// Stream timeouts are two limits: the first chunk within REQUEST_TIMEOUT, then at most
// STREAM_IDLE_TIMEOUT between chunks. A gap longer than REQUEST_TIMEOUT but within
// STREAM_IDLE_TIMEOUT must not cut the stream (undici's one bodyTimeout for every gap once did).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { buildApp } from '../src/server/app.ts';
import { parseConfig } from '../src/process/config.ts';
import { createUpstream, upstreamTuning } from '../src/process/upstream.ts';

test('a mid-stream gap longer than REQUEST_TIMEOUT but within STREAM_IDLE_TIMEOUT is relayed whole', async () => {
  const chunk = (delta: object, finish: string | null = null) =>
    `data: ${JSON.stringify({ choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  const watsonx = createServer((request, response) => {
    request.resume();
    if (request.url?.startsWith('/identity/token')) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ access_token: 't', expires_in: 3600, token_type: 'Bearer' }));
      return;
    }
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    response.write(chunk({ role: 'assistant', content: 'before' }));
    setTimeout(() => {
      response.write(chunk({ content: ' after' }, 'stop'));
      response.end(
        `data: ${JSON.stringify({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } })}\n\n`,
      );
    }, 1500);
  });
  watsonx.listen(0, '127.0.0.1');
  await once(watsonx, 'listening');
  const base = `http://127.0.0.1:${(watsonx.address() as AddressInfo).port}`;
  const config = parseConfig({
    IBM_CLOUD_API_KEY: 'k',
    WATSONX_PROJECT_ID: 'p',
    WATSONX_URL: base,
    IBM_IAM_URL: base,
    LOG_LEVEL: 'silent',
    MODEL_VALIDATION: 'false',
    REQUEST_TIMEOUT: '1',
    STREAM_IDLE_TIMEOUT: '3',
  });
  if (config.upstream.mode !== 'ibm') throw new Error('ibm mode expected');
  const upstream = createUpstream({ ...config.upstream, ...upstreamTuning(config) });
  const app = await buildApp({ config, upstream, logger: false });
  try {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      payload: { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true },
    });
    assert.equal(response.statusCode, 200);
    assert.doesNotMatch(response.body, /"error"/);
    assert.match(response.body, /before/);
    assert.match(response.body, / after/);
    assert.match(response.body, /"finish_reason":"stop"/);
  } finally {
    await app.close();
    await upstream.close();
    watsonx.closeAllConnections();
    watsonx.close();
  }
});
