// HTTP tests through inject: /v1/completions against the built-in simulator.
// Items refer to the conformance checklist in openai-surface.md §11.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startTestGateway, type TestGateway, PROJECT_ID } from './helpers/gateway.ts';
import { parseOpenAIStream } from './helpers/sse.ts';

const KEY = 'gateway-key-1';
const MODEL = 'ibm/granite-3-8b-instruct';
const PROMPT = 'def add(a, b):';
/** What the simulator continues PROMPT with (14 tokens, under its default of 20). */
const CONTINUATION = ' Simulated continuation of "def add(a, b):".';
let gateway: TestGateway;

before(async () => {
  gateway = await startTestGateway({
    env: { API_KEY: KEY, MODEL_MAP_GPT_3_5_TURBO_INSTRUCT: MODEL },
  });
});
after(() => gateway.close());

function complete(body: object, url = '/v1/completions', target: TestGateway = gateway) {
  return target.inject({
    method: 'POST',
    url,
    headers: { authorization: `Bearer ${KEY}` },
    payload: body,
  });
}

function upstreamCount(): number {
  return gateway.inferenceRequests().length;
}

/** The inference requests the simulator received since `from` (a count taken before the call). */
function upstreamSince(from: number) {
  return gateway.inferenceRequests().slice(from);
}

async function stream(body: object) {
  const response = await complete({ ...body, stream: true });
  return { response, parsed: parseOpenAIStream(response.body) };
}

/** Concatenated text per choice index of a parsed stream. */
function streamedTexts(chunks: any[]): Map<number, string> {
  const texts = new Map<number, string>();
  for (const chunk of chunks) {
    for (const choice of chunk.choices ?? []) {
      texts.set(choice.index, (texts.get(choice.index) ?? '') + choice.text);
    }
  }
  return texts;
}

function assertError(
  response: { statusCode: number; json: () => any },
  status: number,
  param: string | null,
) {
  assert.equal(response.statusCode, status);
  const { error } = response.json();
  assert.equal(error.type, status < 500 ? 'invalid_request_error' : 'server_error');
  assert.equal(error.param, param);
  assert.equal(typeof error.message, 'string');
}

describe('non-streaming', () => {
  test('43: a string prompt → text_completion with text, finish_reason and usage', async () => {
    const before = upstreamCount();
    const response = await complete({ model: MODEL, prompt: PROMPT });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    const body = response.json();
    assert.match(body.id, /^cmpl-[0-9a-f]{32}$/);
    assert.equal(body.object, 'text_completion');
    assert.equal(typeof body.created, 'number');
    assert.equal(body.model, MODEL);
    assert.deepEqual(body.choices, [{ text: CONTINUATION, index: 0, logprobs: null, finish_reason: 'stop' }]);
    assert.equal(body.usage.prompt_tokens, 8);
    assert.equal(body.usage.completion_tokens, 14);
    assert.equal(body.usage.total_tokens, 22);
    const calls = upstreamSince(before);
    assert.equal(calls.length, 1);
    assert.equal(calls[0]!.path, '/ml/v1/text/generation');
  });

  test('served without /v1 too', async () => {
    const response = await complete({ model: MODEL, prompt: PROMPT }, '/completions');
    assert.equal(response.statusCode, 200);
    assert.equal(response.json().object, 'text_completion');
  });

  test('exactly what is sent upstream for a request using every parameter', async () => {
    const before = upstreamCount();
    const response = await complete({
      model: MODEL,
      prompt: PROMPT,
      max_tokens: 30,
      temperature: 0.5,
      top_p: 0.9,
      seed: 7,
      stop: ['\n\n', 'END'],
      presence_penalty: 0.4,
      frequency_penalty: 1,
      logprobs: 2,
      echo: true,
      n: 1,
      best_of: 1,
      user: 'someone',
      suffix: '',
      logit_bias: {},
      stream_options: { include_usage: true },
      unknown_vendor_field: true,
    });
    assert.equal(response.statusCode, 200);
    const [call] = upstreamSince(before);
    assert.deepEqual(call!.body, {
      model_id: MODEL,
      input: PROMPT,
      parameters: {
        max_new_tokens: 30,
        decoding_method: 'sample',
        temperature: 0.5,
        top_p: 0.9,
        random_seed: 7,
        repetition_penalty: 1.5,
        stop_sequences: ['\n\n', 'END'],
        include_stop_sequence: false,
        return_options: { generated_tokens: true, token_logprobs: true, top_n_tokens: 2 },
      },
      project_id: PROJECT_ID,
    });
    assert.match(String(call!.query.version), /^\d{4}-\d{2}-\d{2}$/);
  });

  test('defaults upstream: sample, the gateway default cap, no other parameter; temperature 0 → greedy', async () => {
    const before = upstreamCount();
    await complete({ model: MODEL, prompt: PROMPT });
    await complete({ model: MODEL, prompt: PROMPT, temperature: 0, top_p: 0.5, seed: 3 });
    const [plain, greedy] = upstreamSince(before);
    assert.deepEqual((plain!.body as any).parameters, { max_new_tokens: 4096, decoding_method: 'sample' });
    assert.deepEqual((greedy!.body as any).parameters, { max_new_tokens: 4096, decoding_method: 'greedy' });
  });

  test('the default cap is clamped to the model`s max output tokens', async () => {
    const big = await startTestGateway({ env: { API_KEY: KEY, DEFAULT_MAX_TOKENS: '10000' } });
    try {
      await complete({ model: MODEL, prompt: PROMPT }, '/v1/completions', big);
      await complete({ model: 'ibm/granite-4-h-small', prompt: PROMPT }, '/v1/completions', big);
      const [small, large] = big.inferenceRequests();
      assert.equal((small!.body as any).parameters.max_new_tokens, 8192);
      assert.equal((large!.body as any).parameters.max_new_tokens, 10000);
    } finally {
      await big.close();
    }
  });

  test('44: prompt array of 2 → 2 choices, index 0 and 1, in order, usage summed', async () => {
    const before = upstreamCount();
    const single = (await complete({ model: MODEL, prompt: 'first prompt' })).json();
    const response = await complete({ model: MODEL, prompt: ['first prompt', 'second one here'] });
    assert.equal(response.statusCode, 200);
    const body = response.json();
    assert.deepEqual(
      body.choices.map((choice: any) => [choice.index, choice.text]),
      [
        [0, ' Simulated continuation of "first prompt".'],
        [1, ' Simulated continuation of "second one here".'],
      ],
    );
    assert.equal(body.usage.prompt_tokens, single.usage.prompt_tokens + 3);
    assert.equal(body.usage.total_tokens, body.usage.prompt_tokens + body.usage.completion_tokens);
    assert.equal(upstreamSince(before).length, 3);
  });

  test('prompt array of 2 with n=2 → 4 choices in order (index = promptIndex * n + k), 4 upstream calls', async () => {
    const before = upstreamCount();
    const response = await complete({ model: MODEL, prompt: ['alpha', 'beta'], n: 2, best_of: 2 });
    assert.equal(response.statusCode, 200);
    const choices = response.json().choices;
    assert.deepEqual(
      choices.map((choice: any) => choice.index),
      [0, 1, 2, 3],
    );
    assert.deepEqual(
      choices.map((choice: any) => /"(\w+)"/.exec(choice.text)![1]),
      ['alpha', 'alpha', 'beta', 'beta'],
    );
    assert.deepEqual(
      upstreamSince(before).map((call) => (call.body as any).input),
      ['alpha', 'alpha', 'beta', 'beta'],
    );
  });

  test('one failed call fails the whole request with its status', async () => {
    const response = await complete({
      model: MODEL,
      prompt: ['fine', 'busy [[sim:error=429]]', 'also fine'],
    });
    assert.equal(response.statusCode, 429);
    assert.equal(response.json().error.code, 'rate_limit_exceeded');
    assert.ok(response.headers['retry-after']);
  });

  test('a failure aborts the calls still running', async () => {
    const before = upstreamCount();
    const started = Date.now();
    const response = await complete({
      model: MODEL,
      prompt: ['slow [[sim:stall=3000]]', 'x [[sim:error=503]]'],
    });
    assert.equal(response.statusCode, 503);
    assert.ok(Date.now() - started < 2000, 'the request did not wait for the stalled call');
    const slow = upstreamSince(before).find((call) => (call.body as any).input.startsWith('slow'))!;
    for (let attempt = 0; attempt < 50 && !slow.aborted; attempt++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(slow.aborted, true, 'the simulator saw the stalled call go away');
  });

  test('45: echo → the text starts with the prompt', async () => {
    const body = (await complete({ model: MODEL, prompt: PROMPT, echo: true })).json();
    assert.equal(body.choices[0].text, PROMPT + CONTINUATION);
  });

  test('max_tokens → max_new_tokens and finish_reason length', async () => {
    const before = upstreamCount();
    const body = (await complete({ model: MODEL, prompt: PROMPT, max_tokens: 3 })).json();
    assert.equal(body.choices[0].finish_reason, 'length');
    assert.equal(body.choices[0].text, ' Simulated continuation of');
    assert.equal(body.usage.completion_tokens, 3);
    assert.equal((upstreamSince(before)[0]!.body as any).parameters.max_new_tokens, 3);
  });

  test('stop → finish_reason stop, and the stop sequence is not in the text', async () => {
    const body = (await complete({ model: MODEL, prompt: PROMPT, stop: ' of' })).json();
    assert.equal(body.choices[0].finish_reason, 'stop');
    assert.equal(body.choices[0].text, ' Simulated continuation');
  });

  test('logprobs: k → tokens, token_logprobs, top_logprobs (k entries), text_offset', async () => {
    const body = (await complete({ model: MODEL, prompt: PROMPT, logprobs: 2, max_tokens: 4 })).json();
    const { text, logprobs } = body.choices[0];
    assert.deepEqual(logprobs.tokens, [' Simulated', ' continuation', ' of', ' "']);
    assert.equal(logprobs.tokens.join(''), text);
    assert.equal(logprobs.token_logprobs.length, 4);
    for (const value of logprobs.token_logprobs) assert.ok(typeof value === 'number' && value < 0);
    assert.equal(logprobs.top_logprobs.length, 4);
    logprobs.top_logprobs.forEach((top: Record<string, number>, position: number) => {
      assert.equal(Object.keys(top).length, 2);
      assert.equal(top[logprobs.tokens[position]], logprobs.token_logprobs[position]);
    });
    assert.deepEqual(logprobs.text_offset, [0, 10, 23, 26]);
    for (const [position, offset] of logprobs.text_offset.entries()) {
      assert.ok(text.startsWith(logprobs.tokens[position], offset));
    }
  });

  test('logprobs with echo: text_offset counts from the start of the returned text', async () => {
    const body = (
      await complete({ model: MODEL, prompt: PROMPT, logprobs: 1, max_tokens: 2, echo: true })
    ).json();
    const { text, logprobs } = body.choices[0];
    assert.equal(text, `${PROMPT} Simulated continuation`);
    assert.deepEqual(logprobs.text_offset, [PROMPT.length, PROMPT.length + 10]);
  });

  test('MODEL_MAP: the alias goes upstream as the mapped id and is echoed back as asked', async () => {
    const before = upstreamCount();
    const body = (await complete({ model: 'gpt-3.5-turbo-instruct', prompt: PROMPT })).json();
    assert.equal(body.model, 'gpt-3.5-turbo-instruct');
    assert.equal((upstreamSince(before)[0]!.body as any).model_id, MODEL);
  });

  test('time_limit → length; a cancelled generation → 502 upstream_generation_failed', async () => {
    const timed = (await complete({ model: MODEL, prompt: 'hi [[sim:finish=time_limit]]' })).json();
    assert.equal(timed.choices[0].finish_reason, 'length');
    const cancelled = await complete({ model: MODEL, prompt: 'hi [[sim:finish=cancelled]]' });
    assertError(cancelled, 502, null);
    assert.equal(cancelled.json().error.code, 'upstream_generation_failed');
  });
});

describe('refusals (no upstream call)', () => {
  async function refused(body: object, status: number, param: string | null, code?: string) {
    const before = upstreamCount();
    const response = await complete(body);
    assertError(response, status, param);
    if (code !== undefined) assert.equal(response.json().error.code, code);
    assert.equal(upstreamCount(), before, 'nothing was sent upstream');
    return response;
  }

  test('46: suffix → 400 param suffix; token-array prompts → 400 param prompt', async () => {
    await refused({ model: MODEL, prompt: PROMPT, suffix: '    return c' }, 400, 'suffix');
    await refused({ model: MODEL, prompt: [1, 2, 3] }, 400, 'prompt');
    await refused(
      {
        model: MODEL,
        prompt: [
          [1, 2],
          [3, 4],
        ],
      },
      400,
      'prompt',
    );
  });

  test('an empty prompt array, best_of ≠ 1/n and a non-empty logit_bias are refused', async () => {
    await refused({ model: MODEL, prompt: [] }, 400, 'prompt');
    await refused({ model: MODEL, prompt: PROMPT, best_of: 3 }, 400, 'best_of');
    await refused({ model: MODEL, prompt: PROMPT, logit_bias: { '50256': -100 } }, 400, 'logit_bias');
  });

  test('schema: missing prompt, logprobs over 5, a mixed prompt array → 400', async () => {
    await refused({ model: MODEL }, 400, 'prompt');
    await refused({ model: MODEL, prompt: PROMPT, logprobs: 6 }, 400, 'logprobs');
    const mixed = await complete({ model: MODEL, prompt: ['a', 1] });
    assert.equal(mixed.statusCode, 400);
  });

  test('unknown model → 404 model_not_found', async () => {
    await refused({ model: 'nobody/no-such-model', prompt: PROMPT }, 404, 'model', 'model_not_found');
  });

  test('a model without text generation (embedding, rerank) → 400 via the catalogue', async () => {
    const response = await refused(
      { model: 'ibm/slate-30m-english-rtrvr-v2', prompt: PROMPT },
      400,
      'model',
      'model_not_supported',
    );
    assert.match(response.json().error.message, /text generation/);
    await refused({ model: 'cross-encoder/ms-marco-minilm-l-12-v2', prompt: PROMPT }, 400, 'model');
  });

  test('the gateway key is required', async () => {
    const response = await gateway.inject({
      method: 'POST',
      url: '/v1/completions',
      payload: { model: MODEL, prompt: PROMPT },
    });
    assert.equal(response.statusCode, 401);
  });
});

describe('streaming', () => {
  test('47: SSE framing: text_completion chunks, text fragments, one final finish_reason, [DONE]', async () => {
    const before = upstreamCount();
    const { response, parsed } = await stream({ model: MODEL, prompt: PROMPT });
    assert.equal(response.statusCode, 200);
    assert.match(String(response.headers['content-type']), /^text\/event-stream/);
    assert.equal(response.headers['cache-control'], 'no-cache');
    assert.ok(parsed.done);
    assert.deepEqual(parsed.comments, [': keep-alive'], 'one comment commits the headers at once');
    assert.ok(response.body.startsWith(': keep-alive\n\n'));
    const { chunks } = parsed;
    assert.ok(chunks.length > 2);
    for (const chunk of chunks) {
      assert.match(chunk.id, /^cmpl-/);
      assert.equal(chunk.id, chunks[0].id);
      assert.equal(chunk.created, chunks[0].created);
      assert.equal(chunk.object, 'text_completion');
      assert.equal(chunk.model, MODEL);
      assert.equal(chunk.choices.length, 1, 'no choices: [] chunk without include_usage');
      assert.equal(chunk.choices[0].index, 0);
      assert.equal(chunk.choices[0].logprobs, null);
      assert.equal('usage' in chunk, false);
    }
    for (const chunk of chunks.slice(0, -1)) {
      assert.notEqual(chunk.choices[0].text, '', 'no empty text chunks');
      assert.equal(chunk.choices[0].finish_reason, null);
    }
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
    assert.equal(streamedTexts(chunks).get(0), CONTINUATION);
    assert.equal(upstreamSince(before)[0]!.path, '/ml/v1/text/generation_stream');
  });

  test('47: include_usage → usage null on every chunk, then one choices: [] usage chunk last', async () => {
    const nonStream = (await complete({ model: MODEL, prompt: PROMPT })).json();
    const { parsed } = await stream({
      model: MODEL,
      prompt: PROMPT,
      stream_options: { include_usage: true },
    });
    const last = parsed.chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.prompt_tokens, nonStream.usage.prompt_tokens);
    assert.equal(last.usage.completion_tokens, nonStream.usage.completion_tokens);
    assert.equal(last.usage.total_tokens, nonStream.usage.total_tokens);
    for (const chunk of parsed.chunks.slice(0, -1)) assert.equal(chunk.usage, null);
    assert.equal(parsed.chunks.at(-2).choices[0].finish_reason, 'stop');
  });

  test('echo → the prompt is the first chunk', async () => {
    const { parsed } = await stream({ model: MODEL, prompt: PROMPT, echo: true });
    assert.equal(parsed.chunks[0].choices[0].text, PROMPT);
    assert.equal(streamedTexts(parsed.chunks).get(0), PROMPT + CONTINUATION);
  });

  test('max_tokens → length; stop → stop without the stop sequence', async () => {
    const cut = await stream({ model: MODEL, prompt: PROMPT, max_tokens: 3 });
    assert.equal(cut.parsed.chunks.at(-1).choices[0].finish_reason, 'length');
    assert.equal(streamedTexts(cut.parsed.chunks).get(0), ' Simulated continuation of');
    const stopped = await stream({ model: MODEL, prompt: PROMPT, stop: ' of' });
    assert.equal(stopped.parsed.chunks.at(-1).choices[0].finish_reason, 'stop');
    assert.equal(streamedTexts(stopped.parsed.chunks).get(0), ' Simulated continuation');
  });

  test('logprobs in a stream: per fragment, text_offset continuing after the echoed prompt', async () => {
    const { parsed } = await stream({ model: MODEL, prompt: PROMPT, echo: true, logprobs: 1, max_tokens: 3 });
    const withLogprobs = parsed.chunks.filter((chunk) => chunk.choices[0].logprobs);
    assert.deepEqual(
      withLogprobs.map((chunk) => chunk.choices[0].logprobs.text_offset[0]),
      [PROMPT.length, PROMPT.length + 10, PROMPT.length + 23],
    );
    for (const chunk of withLogprobs) {
      assert.deepEqual(chunk.choices[0].logprobs.tokens, [chunk.choices[0].text]);
    }
  });

  test('prompt array with n=2 streams choice after choice with correct indices', async () => {
    const before = upstreamCount();
    const { parsed } = await stream({
      model: MODEL,
      prompt: ['alpha', 'beta'],
      n: 2,
      stream_options: { include_usage: true },
    });
    assert.ok(parsed.done);
    const texts = streamedTexts(parsed.chunks);
    assert.deepEqual([...texts.keys()], [0, 1, 2, 3]);
    assert.equal(texts.get(1), ' Simulated continuation of "alpha".');
    assert.equal(texts.get(2), ' Simulated continuation of "beta".');
    const finishes = parsed.chunks.filter((chunk) => chunk.choices[0]?.finish_reason);
    assert.deepEqual(
      finishes.map((chunk) => chunk.choices[0].index),
      [0, 1, 2, 3],
    );
    const usage = parsed.chunks.at(-1).usage;
    assert.equal(usage.completion_tokens, 4 * 7);
    assert.equal(upstreamSince(before).length, 4);
  });

  test('upstream 429 before streaming → JSON 429 with its status', async () => {
    const response = await complete({ model: MODEL, prompt: 'hi [[sim:error=429]]', stream: true });
    assert.equal(response.statusCode, 429);
    assert.match(String(response.headers['content-type']), /^application\/json/);
    assert.equal(response.json().error.code, 'rate_limit_exceeded');
  });

  test('a later choice refused after streaming began → error frame after the first choice, then [DONE]', async () => {
    const { response, parsed } = await stream({ model: MODEL, prompt: ['fine', 'busy [[sim:error=429]]'] });
    assert.equal(response.statusCode, 200);
    assert.ok(parsed.done);
    assert.equal(parsed.chunks.at(-2).choices[0].finish_reason, 'stop');
    assert.equal(parsed.chunks.at(-1).error.code, 'rate_limit_exceeded');
  });

  test('mid-stream failure → an error frame, then [DONE], no finish_reason', async () => {
    const { response, parsed } = await stream({
      model: MODEL,
      prompt: 'hello there friend [[sim:stream-error-after=3]]',
    });
    assert.equal(response.statusCode, 200);
    assert.ok(parsed.done);
    const last = parsed.chunks.at(-1);
    assert.equal(last.error.type, 'server_error');
    assert.equal(typeof last.error.message, 'string');
    assert.ok(parsed.chunks.length > 1, 'text was streamed before the failure');
    assert.equal(parsed.chunks.filter((chunk) => chunk.choices?.[0]?.finish_reason).length, 0);
  });

  test('a truncated stream (no stop reason) → upstream_stream_incomplete error frame', async () => {
    const { parsed } = await stream({ model: MODEL, prompt: 'hello there friend [[sim:truncate-after=3]]' });
    assert.ok(parsed.done);
    assert.equal(parsed.chunks.at(-1).error.code, 'upstream_stream_incomplete');
    assert.equal(parsed.chunks.filter((chunk) => chunk.choices?.[0]?.finish_reason).length, 0);
  });

  test('finish=time_limit → length; finish=cancelled → upstream_generation_failed error frame', async () => {
    const timed = await stream({ model: MODEL, prompt: 'hi [[sim:finish=time_limit]]' });
    assert.equal(timed.parsed.chunks.at(-1).choices[0].finish_reason, 'length');
    const cancelled = await stream({ model: MODEL, prompt: 'hi [[sim:finish=cancelled]]' });
    assert.equal(cancelled.parsed.chunks.at(-1).error.code, 'upstream_generation_failed');
    assert.ok(cancelled.parsed.done);
  });

  test('refusals and unknown models stay JSON errors when streaming', async () => {
    const before = upstreamCount();
    const suffix = await complete({ model: MODEL, prompt: PROMPT, suffix: 'x', stream: true });
    assertError(suffix, 400, 'suffix');
    const unknown = await complete({ model: 'nobody/no-such-model', prompt: PROMPT, stream: true });
    assertError(unknown, 404, 'model');
    assert.equal(upstreamCount(), before);
  });
});
