// A stream client that stops reading: once its socket buffers are full, the gateway waits for
// 'drain' at most STREAM_IDLE_TIMEOUT, then drops the client, so its request is accounted and its
// concurrency slot given back (before, it held the slot until the gateway stopped).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import { type AddressInfo, connect } from 'node:net';
import { test } from 'node:test';
import { buildApp } from '../src/server/app.ts';
import { parseConfig } from '../src/process/config.ts';
import { createUpstream, upstreamTuning } from '../src/process/upstream.ts';
import { Metrics } from '../src/server/metrics.ts';

test('a client that reads nothing is dropped after STREAM_IDLE_TIMEOUT and gives its slot back', async () => {
  // A watsonx stand-in that streams 16 KB events every 5 ms, forever.
  const watsonx = createServer((request, response) => {
    request.resume();
    if (request.url?.startsWith('/identity/token')) {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ access_token: 't', expires_in: 3600, token_type: 'Bearer' }));
      return;
    }
    response.writeHead(200, { 'content-type': 'text/event-stream' });
    const text = 'x'.repeat(16 * 1024);
    const timer = setInterval(() => {
      response.write(`data: ${JSON.stringify({ choices: [{ index: 0, delta: { content: text } }] })}\n\n`);
    }, 5);
    response.on('close', () => clearInterval(timer));
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
    STREAM_IDLE_TIMEOUT: '1',
    MAX_CONCURRENT_REQUESTS: '1',
  });
  if (config.upstream.mode !== 'ibm') throw new Error('ibm mode expected');
  const metrics = new Metrics({ defaultMetrics: false });
  const upstream = createUpstream({ ...config.upstream, ...upstreamTuning(config), metrics });
  const app = await buildApp({ config, upstream, logger: false, metrics });
  try {
    const url = new URL(await app.listen({ host: '127.0.0.1', port: 0 }));
    const socket = connect(Number(url.port), '127.0.0.1');
    await once(socket, 'connect');
    const body = JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true });
    socket.write(
      `POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n` +
        `content-length: ${body.length}\r\n\r\n${body}`,
    );
    socket.pause(); // never reads (a paused socket does not see the close either: check the gateway)
    const inFlight = async () =>
      (await metrics.registry.getSingleMetricAsString('gateway_streams_in_flight')).split('\n').pop();
    let gauge = '';
    for (let waited = 0; waited < 10_000; waited += 100) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      gauge = (await inFlight()) ?? '';
      if (waited > 300 && gauge.endsWith(' 0')) break;
    }
    assert.match(gauge, / 0$/, 'the stalled stream was dropped and accounted');
    // The slot is free again: a second request is served, not refused with 503.
    const second = await fetch(new URL('/v1/chat/completions', url), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }),
      signal: AbortSignal.timeout(2000),
    }).catch((error: unknown) => error);
    const status = second instanceof Response ? second.status : 0;
    assert.notEqual(status, 503);
    await (second instanceof Response ? second.body?.cancel() : undefined);
    socket.destroy();
  } finally {
    await app.close();
    await upstream.close();
    watsonx.closeAllConnections();
    watsonx.close();
  }
});
