// End to end: /v1/completions on a listening gateway against the simulator, driven by the official
// `openai` package (and raw fetch for the disconnect). Loopback only.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const KEY = 'e2e-gateway-key';
const MODEL = 'ibm/granite-3-8b-instruct';
let gateway: TestGateway;
let client: OpenAI;

before(async () => {
  gateway = await startTestGateway({
    listen: true,
    env: { API_KEY: KEY },
    simulator: { chunkDelayMs: 0 },
  });
  client = new OpenAI({ apiKey: KEY, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
});
after(() => gateway.close());

describe('openai SDK: completions', () => {
  test('completions.create returns a typed text_completion', async () => {
    const completion = await client.completions.create({
      model: MODEL,
      prompt: 'def add(a, b):',
      max_tokens: 32,
      echo: true,
    });
    assert.equal(completion.object, 'text_completion');
    assert.match(completion.id, /^cmpl-/);
    assert.equal(completion.choices.length, 1);
    assert.equal(completion.choices[0]!.text, 'def add(a, b): Simulated continuation of "def add(a, b):".');
    assert.equal(completion.choices[0]!.finish_reason, 'stop');
    assert.equal(
      completion.usage!.total_tokens,
      completion.usage!.prompt_tokens + completion.usage!.completion_tokens,
    );
    assert.ok(completion.usage!.completion_tokens > 0);
    assert.match(completion._request_id ?? '', /^req_/);
  });

  test('completions.create with a prompt array returns the choices in order', async () => {
    const completion = await client.completions.create({
      model: MODEL,
      prompt: ['one', 'two'],
      max_tokens: 32,
    });
    assert.deepEqual(
      completion.choices.map((choice) => [choice.index, choice.text]),
      [
        [0, ' Simulated continuation of "one".'],
        [1, ' Simulated continuation of "two".'],
      ],
    );
  });

  test('completions.create with stream: fragments assemble, finish_reason, usage last', async () => {
    const nonStream = await client.completions.create({
      model: MODEL,
      prompt: 'Stream please',
      max_tokens: 32,
    });
    const stream = await client.completions.create({
      model: MODEL,
      prompt: 'Stream please',
      max_tokens: 32,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = '';
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | null | undefined;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      assert.equal(chunk.object, 'text_completion');
      text += chunk.choices[0]?.text ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.ok(chunks > 3);
    assert.equal(text, nonStream.choices[0]!.text);
    assert.equal(finish, 'stop');
    assert.equal(usage?.total_tokens, nonStream.usage!.total_tokens);
  });

  test('refusals reach the SDK as BadRequestError with the param', async () => {
    await assert.rejects(
      client.completions.create({ model: MODEL, prompt: 'x', suffix: 'y' }),
      (error: unknown) => {
        assert.ok(error instanceof OpenAI.BadRequestError);
        assert.equal(error.param, 'suffix');
        return true;
      },
    );
  });

  test('a client disconnect mid-stream aborts the upstream request', async () => {
    const slow = await startTestGateway({ listen: true, simulator: { chunkDelayMs: 40 } });
    try {
      const controller = new AbortController();
      const response = await fetch(`${slow.url}/v1/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: MODEL,
          stream: true,
          prompt: 'a long continuation please with many words in it',
        }),
        signal: controller.signal,
      });
      assert.equal(response.status, 200);
      const reader = response.body!.getReader();
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

  test('a disconnect while watsonx is still silent (no token yet) aborts the upstream request too', async () => {
    const controller = new AbortController();
    const response = await fetch(`${gateway.url}/v1/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, stream: true, prompt: 'think long [[sim:stall=3000]]' }),
      signal: controller.signal,
    });
    assert.equal(response.status, 200, 'headers arrive before the first token');
    await response.body!.getReader().read();
    controller.abort();
    const upstream = gateway.inferenceRequests().at(-1)!;
    for (let attempt = 0; attempt < 50 && !upstream.aborted; attempt++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(upstream.aborted, true);
  });
});
