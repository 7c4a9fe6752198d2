// End to end: the gateway on a real port against the simulator, driven by the official `openai`
// package and by raw fetch for wire details. Loopback only.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { parseOpenAIStream } from './helpers/sse.ts';

const KEY = 'e2e-gateway-key';
const MODEL = 'ibm/granite-4-h-small';
let gateway: TestGateway;
let client: OpenAI;

const weatherTools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: 'Weather for a city',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string' }, days: { type: 'integer' } },
        required: ['city'],
      },
    },
  },
  {
    type: 'function',
    function: { name: 'get_time', parameters: { type: 'object', properties: { zone: { type: 'string' } } } },
  },
];

before(async () => {
  gateway = await startTestGateway({
    listen: true,
    keepAliveMs: 100,
    env: { API_KEY: KEY },
    simulator: { chunkDelayMs: 0 },
  });
  client = new OpenAI({ apiKey: KEY, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
});
after(() => gateway.close());

describe('openai SDK', () => {
  test('chat.completions.create returns a typed completion', async () => {
    const completion = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Say hi' }],
    });
    assert.equal(completion.object, 'chat.completion');
    assert.match(completion.choices[0]!.message.content ?? '', /Say hi/);
    assert.equal(completion.choices[0]!.finish_reason, 'stop');
    assert.ok(completion.usage!.total_tokens > 0);
    assert.match(completion._request_id ?? '', /^req_/);
  });

  test('streaming with include_usage: text assembles and usage arrives last', async () => {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Stream please' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.match(text, /Stream please/);
    assert.equal(finish, 'stop');
    assert.ok(usage && usage.completion_tokens > 0);
  });

  test('35: chat.completions.stream(...).finalChatCompletion() with one tool call', async () => {
    const runner = client.chat.completions.stream({
      model: MODEL,
      messages: [{ role: 'user', content: 'Call get_weather for Rome for 3 days' }],
      tools: weatherTools,
    });
    const final = await runner.finalChatCompletion();
    const message = final.choices[0]!.message;
    assert.equal(final.choices[0]!.finish_reason, 'tool_calls');
    assert.equal(message.tool_calls?.length, 1);
    const call = message.tool_calls![0]!;
    assert.equal(call.type, 'function');
    if (call.type !== 'function') return;
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'example', days: 3 });
  });

  test('35: finalChatCompletion() with two parallel tool calls (and n=2)', async () => {
    const runner = client.chat.completions.stream({
      model: MODEL,
      messages: [{ role: 'user', content: 'Call get_weather and get_time' }],
      tools: weatherTools,
      n: 2,
    });
    const final = await runner.finalChatCompletion();
    assert.equal(final.choices.length, 2);
    for (const choice of final.choices) {
      const names = choice.message.tool_calls!.map((call) =>
        call.type === 'function' ? call.function.name : '',
      );
      assert.deepEqual(names, ['get_weather', 'get_time']);
      const ids = new Set(choice.message.tool_calls!.map((call) => call.id));
      assert.equal(ids.size, 2);
    }
  });

  test('a tool round trip: the tool result comes back as the answer', async () => {
    const completion = await client.chat.completions.create({
      model: MODEL,
      messages: [
        { role: 'user', content: 'weather in Rome?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [
            {
              id: 'call_1',
              type: 'function',
              function: { name: 'get_weather', arguments: '{"city":"Rome"}' },
            },
          ],
        },
        { role: 'tool', tool_call_id: 'call_1', content: 'sunny, 24 C' },
      ],
      tools: weatherTools,
    });
    assert.match(completion.choices[0]!.message.content ?? '', /sunny, 24 C/);
  });

  test('errors surface as the SDK error classes', async () => {
    await assert.rejects(
      client.chat.completions.create({ model: 'acme/unknown', messages: [{ role: 'user', content: 'x' }] }),
      (error) => {
        assert.ok(error instanceof OpenAI.NotFoundError);
        assert.equal(error.code, 'model_not_found');
        return true;
      },
    );
    const wrongKey = new OpenAI({ apiKey: 'wrong', baseURL: `${gateway.url}/v1`, maxRetries: 0 });
    await assert.rejects(
      wrongKey.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }] }),
      OpenAI.AuthenticationError,
    );
    await assert.rejects(
      client.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'x [[sim:error=429]]' }],
      }),
      OpenAI.RateLimitError,
    );
    await assert.rejects(
      client.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'x' }],
        temperature: 9,
      }),
      OpenAI.BadRequestError,
    );
  });

  test('39: a mid-stream failure raises APIError in the SDK', async () => {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'one two three four [[sim:stream-error-after=3]]' }],
      stream: true,
    });
    await assert.rejects(async () => {
      for await (const _chunk of stream) {
        // drain
      }
    }, OpenAI.APIError);
  });
});

describe('wire details (raw fetch)', () => {
  const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };

  test('30: the stream has data: frames only, and [DONE] last', async () => {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: 'frames' }] }),
    });
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
    assert.equal(response.headers.get('cache-control'), 'no-cache');
    assert.equal(response.headers.get('content-encoding'), null);
    assert.ok(response.headers.get('x-request-id'));
    const parsed = parseOpenAIStream(await response.text());
    assert.ok(parsed.done);
    assert.ok(parsed.chunks.length > 3);
  });

  test('40: a silent upstream gets comment keep-alives; headers and the role chunk come at once', async () => {
    const started = Date.now();
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        model: MODEL,
        stream: true,
        messages: [{ role: 'user', content: 'slow [[sim:stall=700]]' }],
      }),
    });
    const reader = response.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.ok(Date.now() - started < 600, 'headers and the first frame do not wait for the first token');
    assert.match(first, /"role":"assistant"/);
    let rest = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += new TextDecoder().decode(value);
    }
    const parsed = parseOpenAIStream(first + rest);
    assert.ok(parsed.comments.length >= 3, `expected keep-alives, got ${parsed.comments.length}`);
    assert.ok(parsed.done);
  });

  test('42: a client disconnect mid-stream aborts the upstream request', async () => {
    const slow = await startTestGateway({ listen: true, simulator: { chunkDelayMs: 40 } });
    try {
      const controller = new AbortController();
      const response = await fetch(`${slow.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: MODEL,
          stream: true,
          messages: [{ role: 'user', content: 'a long answer please with many words in it' }],
        }),
        signal: controller.signal,
      });
      const reader = response.body!.getReader();
      await reader.read();
      await reader.read();
      controller.abort();
      const upstream = slow.inferenceRequests().at(-1)!;
      for (let attempt = 0; attempt < 50 && !upstream.aborted; attempt++)
        await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(upstream.aborted, true, 'the simulator saw the upstream request go away');
      assert.equal(upstream.finished, false);
    } finally {
      await slow.close();
    }
  });

  test('42: a disconnect while watsonx is still silent (no token yet) aborts the upstream request too', async () => {
    const controller = new AbortController();
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers,
      body: JSON.stringify({
        model: MODEL,
        stream: true,
        messages: [{ role: 'user', content: 'think long [[sim:stall=3000]]' }],
      }),
      signal: controller.signal,
    });
    await response.body!.getReader().read();
    controller.abort();
    const upstream = gateway.inferenceRequests().at(-1)!;
    for (let attempt = 0; attempt < 50 && !upstream.aborted; attempt++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(upstream.aborted, true);
  });
});
