// Operability through HTTP: retries, timeouts, IAM outage, /metrics, /ready, concurrency cap and
// per-key rate limits. The simulator stands in for watsonx and IAM.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { parseOpenAIStream } from './helpers/sse.ts';

const MODEL = 'ibm/granite-4-h-small';
const hello = { model: MODEL, messages: [{ role: 'user', content: 'hello there' }] };

async function withGateway(
  options: Parameters<typeof startTestGateway>[0],
  run: (gateway: TestGateway) => Promise<void>,
) {
  const gateway = await startTestGateway(options);
  try {
    await run(gateway);
  } finally {
    await gateway.close();
  }
}

function chat(gateway: TestGateway, body: object, headers: Record<string, string> = {}) {
  return gateway.inject({ method: 'POST', url: '/v1/chat/completions', headers, payload: body });
}

async function metricsText(gateway: TestGateway): Promise<string> {
  return (await gateway.inject({ url: '/metrics' })).body;
}

describe('retries before the first byte', () => {
  test('503 twice then 200: the client sees 200, two retries are counted', async () => {
    await withGateway({ env: { UPSTREAM_MAX_RETRIES: '2' } }, async (gateway) => {
      gateway.simulator.enqueueFault({
        kind: 'http-error',
        status: 503,
        code: 'service_unavailable',
        message: 'busy',
        headers: { 'retry-after': '0' },
        times: 2,
      });
      const response = await chat(gateway, hello);
      assert.equal(response.statusCode, 200);
      assert.equal(gateway.inferenceRequests().length, 3);
      assert.match(
        await metricsText(gateway),
        /gateway_upstream_retries_total\{operation="text\/chat",reason="503"\} 2/,
      );
    });
  });

  test('429 more often than the retry budget: the last 429 and its Retry-After reach the client', async () => {
    await withGateway({ env: { UPSTREAM_MAX_RETRIES: '1' } }, async (gateway) => {
      gateway.simulator.enqueueFault({
        kind: 'http-error',
        status: 429,
        code: 'rate_limit_reached_requests',
        message: 'Rate limit',
        headers: { 'retry-after': '0' },
        times: 3,
      });
      const response = await chat(gateway, hello);
      assert.equal(response.statusCode, 429);
      assert.equal(response.headers['retry-after'], '0');
      assert.equal(gateway.inferenceRequests().length, 2);
      assert.match(
        await metricsText(gateway),
        /gateway_upstream_errors_total\{status="429",code="rate_limit_reached_requests"\} 1/,
      );
    });
  });

  test('a Retry-After longer than the request timeout is not waited for', async () => {
    await withGateway({ env: { UPSTREAM_MAX_RETRIES: '2', REQUEST_TIMEOUT: '2' } }, async (gateway) => {
      gateway.simulator.enqueueFault({
        kind: 'http-error',
        status: 429,
        code: 'rate_limit_reached_requests',
        message: 'Rate limit',
        headers: { 'retry-after': '30' },
      });
      const started = Date.now();
      const response = await chat(gateway, hello);
      assert.equal(response.statusCode, 429);
      assert.ok(Date.now() - started < 1500);
      assert.equal(gateway.inferenceRequests().length, 1);
    });
  });

  test('other 4xx are never retried; streams are retried only before they start', async () => {
    await withGateway({ env: { UPSTREAM_MAX_RETRIES: '2' } }, async (gateway) => {
      gateway.simulator.enqueueFault({
        kind: 'http-error',
        status: 400,
        code: 'json_validation_error',
        message: 'bad',
      });
      assert.equal((await chat(gateway, hello)).statusCode, 400);
      assert.equal(gateway.inferenceRequests().length, 1);

      gateway.simulator.enqueueFault({
        kind: 'http-error',
        status: 503,
        code: 'service_unavailable',
        message: 'busy',
        headers: { 'retry-after': '0' },
      });
      const retried = await chat(gateway, { ...hello, stream: true });
      assert.ok(parseOpenAIStream(retried.body).chunks.at(-1).choices[0].finish_reason);
      assert.equal(gateway.inferenceRequests().length, 3);

      const broken = await chat(gateway, {
        ...hello,
        stream: true,
        messages: [{ role: 'user', content: 'one two three [[sim:stream-error-after=2]]' }],
      });
      assert.ok(parseOpenAIStream(broken.body).chunks.at(-1).error);
      assert.equal(gateway.inferenceRequests().length, 4, 'no retry after streaming began');
    });
  });

  test('connection errors are retried, then 502 upstream_unreachable', async () => {
    await withGateway(
      { env: { UPSTREAM_MAX_RETRIES: '2', WATSONX_URL: 'http://127.0.0.1:9', MODEL_VALIDATION: 'false' } },
      async (gateway) => {
        const response = await chat(gateway, hello);
        assert.equal(response.statusCode, 502);
        assert.equal(response.json().error.code, 'upstream_unreachable');
        assert.match(
          await metricsText(gateway),
          /gateway_upstream_retries_total\{operation="text\/chat",reason="connection"\} 2/,
        );
      },
    );
  });
});

describe('timeouts', () => {
  test('no answer within REQUEST_TIMEOUT → 504 upstream_timeout', async () => {
    await withGateway({ env: { REQUEST_TIMEOUT: '0.3' } }, async (gateway) => {
      const response = await chat(gateway, {
        ...hello,
        messages: [{ role: 'user', content: 'x [[sim:stall=2000]]' }],
      });
      assert.equal(response.statusCode, 504);
      assert.equal(response.json().error.code, 'upstream_timeout');
    });
  });

  test('a stream whose first token does not come in time → error frame, then [DONE]', async () => {
    await withGateway({ env: { REQUEST_TIMEOUT: '0.3' } }, async (gateway) => {
      const response = await chat(gateway, {
        ...hello,
        stream: true,
        messages: [{ role: 'user', content: 'x [[sim:stall=2000]]' }],
      });
      const parsed = parseOpenAIStream(response.body);
      assert.equal(parsed.chunks.at(-1).error.code, 'upstream_timeout');
      assert.ok(parsed.done);
    });
  });

  test('silence between chunks over STREAM_IDLE_TIMEOUT → error frame', async () => {
    await withGateway(
      { env: { STREAM_IDLE_TIMEOUT: '0.2' }, simulator: { chunkDelayMs: 500 } },
      async (gateway) => {
        const response = await chat(gateway, { ...hello, stream: true });
        const parsed = parseOpenAIStream(response.body);
        assert.equal(parsed.chunks.at(-1).error.code, 'upstream_timeout');
        assert.match(parsed.chunks.at(-1).error.message, /sent nothing/);
      },
    );
  });

  test('a stream longer than REQUEST_TOTAL_TIMEOUT → error frame', async () => {
    await withGateway(
      { env: { REQUEST_TOTAL_TIMEOUT: '0.4' }, simulator: { chunkDelayMs: 100 } },
      async (gateway) => {
        const response = await chat(gateway, {
          ...hello,
          stream: true,
          messages: [{ role: 'user', content: 'a b c d e f g h i j k l m n o p' }],
        });
        const parsed = parseOpenAIStream(response.body);
        assert.equal(parsed.chunks.at(-1).error.code, 'upstream_timeout');
      },
    );
  });
});

describe('IAM outage', () => {
  test('a cached token keeps serving while IAM fails; after it is gone: 503, and IAM is not hammered', async () => {
    await withGateway({}, async (gateway) => {
      assert.equal((await chat(gateway, hello)).statusCode, 200);
      gateway.simulator.enqueueFault({ kind: 'iam-error', status: 503, times: 100 });
      assert.equal((await chat(gateway, hello)).statusCode, 200, 'the cached token still works');
      gateway.simulator.expireTokens();
      const iamCalls = () =>
        gateway.simulator.requests.filter((request) => request.path === '/identity/token').length;
      const before = iamCalls();
      const failed = await chat(gateway, hello);
      assert.equal(failed.statusCode, 503);
      assert.equal(failed.json().error.code, 'iam_unavailable');
      assert.equal(iamCalls(), before + 1);
      for (let index = 0; index < 5; index++) assert.equal((await chat(gateway, hello)).statusCode, 503);
      assert.equal(iamCalls(), before + 1, 'within the backoff no new IAM call');
      assert.equal((await gateway.inject({ url: '/ready' })).statusCode, 503);
      assert.match(await metricsText(gateway), /gateway_iam_token_fetches_total\{outcome="failure"\} 1/);
    });
  });
});

describe('metrics and readiness', () => {
  test('/metrics reports requests, tokens, stream timing, IAM fetches; /ready is 200', async () => {
    await withGateway({}, async (gateway) => {
      assert.equal((await gateway.inject({ url: '/ready' })).json().status, 'ready');
      await chat(gateway, hello);
      await chat(gateway, { ...hello, stream: true });
      await chat(gateway, { ...hello, model: 'acme/none' });
      const response = await gateway.inject({ url: '/metrics' });
      assert.match(String(response.headers['content-type']), /^text\/plain/);
      const text = response.body;
      assert.match(
        text,
        /gateway_requests_total\{route="\/v1\/chat\/completions",status="200",model="ibm\/granite-4-h-small"\} 2/,
      );
      assert.match(text, /gateway_requests_total\{route="\/v1\/chat\/completions",status="404",model=""\} 1/);
      assert.match(text, /gateway_tokens_total\{model="ibm\/granite-4-h-small",kind="completion"\} [1-9]/);
      assert.match(
        text,
        /gateway_stream_time_to_first_token_seconds_count\{route="\/v1\/chat\/completions"\} 1/,
      );
      assert.match(text, /gateway_request_duration_seconds_count\{route="\/v1\/chat\/completions"\} 3/);
      assert.match(text, /gateway_iam_token_fetches_total\{outcome="success"\} 1/);
      assert.match(text, /gateway_streams_in_flight 0/);
    });
  });

  test('METRICS_REQUIRE_KEY=true protects /metrics with the gateway key', async () => {
    await withGateway({ env: { API_KEY: 'k1', METRICS_REQUIRE_KEY: 'true' } }, async (gateway) => {
      assert.equal((await gateway.inject({ url: '/metrics' })).statusCode, 401);
      assert.equal(
        (await gateway.inject({ url: '/metrics', headers: { authorization: 'Bearer k1' } })).statusCode,
        200,
      );
      assert.equal((await gateway.inject({ url: '/ready' })).statusCode, 200);
    });
  });
});

describe('limits', () => {
  test('past MAX_CONCURRENT_REQUESTS → 503 with Retry-After, instead of queuing', async () => {
    await withGateway({ env: { MAX_CONCURRENT_REQUESTS: '2' }, listen: true }, async (gateway) => {
      const slow = { ...hello, messages: [{ role: 'user', content: 'x [[sim:stall=600]]' }] };
      const post = (body: object) =>
        fetch(`${gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const first = post(slow);
      const second = post(slow);
      await new Promise((resolve) => setTimeout(resolve, 150));
      const third = await post(hello);
      assert.equal(third.status, 503);
      assert.equal(third.headers.get('retry-after'), '1');
      assert.equal(((await third.json()) as any).error.code, 'server_overloaded');
      assert.equal((await first).status, 200);
      assert.equal((await second).status, 200);
      await (await first).text();
      await (await second).text();
      assert.equal((await post(hello)).status, 200);
    });
  });

  test('RATE_LIMIT_RPM per gateway key: 429 with x-ratelimit headers; other keys keep their budget', async () => {
    await withGateway(
      { env: { API_KEY: 'key-a,key-b,key-c', RATE_LIMIT_RPM: '2', RATE_LIMITS: 'key-c:5:0' } },
      async (gateway) => {
        const a = { authorization: 'Bearer key-a' };
        const first = await chat(gateway, hello, a);
        assert.equal(first.headers['x-ratelimit-limit-requests'], '2');
        assert.equal(first.headers['x-ratelimit-remaining-requests'], '1');
        assert.match(String(first.headers['x-ratelimit-reset-requests']), /^\d+s$/);
        assert.equal((await chat(gateway, hello, a)).statusCode, 200);
        const limited = await chat(gateway, hello, a);
        assert.equal(limited.statusCode, 429);
        assert.equal(limited.json().error.code, 'rate_limit_exceeded');
        assert.equal(limited.json().error.type, 'requests');
        assert.match(limited.json().error.message, /try again in \d+s/);
        assert.ok(Number(limited.headers['retry-after']) >= 1);
        assert.equal((await chat(gateway, hello, { authorization: 'Bearer key-b' })).statusCode, 200);
        assert.equal(
          (await chat(gateway, hello, { authorization: 'Bearer key-c' })).headers[
            'x-ratelimit-limit-requests'
          ],
          '5',
        );
        assert.equal(limited.body.includes('key-a'), false);
      },
    );
  });

  test('RATE_LIMIT_TPM: once the tokens of a minute are spent, the next request gets 429 tokens', async () => {
    await withGateway({ env: { API_KEY: 'key-a', RATE_LIMIT_TPM: '10' } }, async (gateway) => {
      const headers = { authorization: 'Bearer key-a' };
      const first = await chat(gateway, hello, headers);
      assert.equal(first.statusCode, 200);
      assert.ok(first.json().usage.total_tokens > 10);
      const limited = await chat(gateway, hello, headers);
      assert.equal(limited.statusCode, 429);
      assert.equal(limited.json().error.type, 'tokens');
      assert.equal(limited.headers['x-ratelimit-remaining-tokens'], '0');
    });
  });
});

describe('clients that hang up', () => {
  test('an aborted stream is logged and counted as 499, its tokens count against the key, the gauge returns to 0', async () => {
    await withGateway(
      { listen: true, env: { API_KEY: 'key-a', RATE_LIMIT_TPM: '5' }, simulator: { chunkDelayMs: 30 } },
      async (gateway) => {
        const controller = new AbortController();
        const response = await fetch(`${gateway.url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer key-a' },
          body: JSON.stringify({
            ...hello,
            stream: true,
            stream_options: { include_usage: true },
            messages: [{ role: 'user', content: 'a b c d e f g h' }],
          }),
          signal: controller.signal,
        });
        const reader = response.body!.getReader();
        let text = '';
        // read until the answer is almost complete (the usage chunk arrives with the finish)
        while (!text.includes('"finish_reason":"stop"'))
          text += new TextDecoder().decode((await reader.read()).value);
        controller.abort();
        let metrics = '';
        for (let attempt = 0; attempt < 50 && !metrics.includes('status="499"'); attempt++) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          metrics = await metricsText(gateway);
        }
        assert.match(
          metrics,
          /gateway_requests_total\{route="\/v1\/chat\/completions",status="499",model="ibm\/granite-4-h-small"\} 1/,
        );
        assert.match(metrics, /gateway_streams_in_flight 0/);
        const next = await chat(gateway, hello, { authorization: 'Bearer key-a' });
        assert.equal(next.statusCode, 429, 'the aborted stream spent the token budget');
        assert.equal(next.json().error.type, 'tokens');
      },
    );
  });

  test('a completions stream abandoned after its first text is accounted with the tokens used so far', async () => {
    await withGateway(
      { listen: true, env: { API_KEY: 'key-a', RATE_LIMIT_TPM: '5' }, simulator: { chunkDelayMs: 30 } },
      async (gateway) => {
        const controller = new AbortController();
        const response = await fetch(`${gateway.url}/v1/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: 'Bearer key-a' },
          body: JSON.stringify({
            model: MODEL,
            prompt: 'a b c d e f g h i j k l m n o p',
            stream: true,
          }),
          signal: controller.signal,
        });
        const reader = response.body!.getReader();
        let text = '';
        while (!text.includes('"text":"')) text += new TextDecoder().decode((await reader.read()).value);
        controller.abort();
        let metrics = '';
        for (let attempt = 0; attempt < 50 && !metrics.includes('status="499"'); attempt++) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          metrics = await metricsText(gateway);
        }
        assert.match(metrics, /gateway_requests_total\{route="\/v1\/completions",status="499"/);
        const next = await chat(gateway, hello, { authorization: 'Bearer key-a' });
        assert.equal(next.statusCode, 429, 'the abandoned stream spent the token budget');
      },
    );
  });
});
