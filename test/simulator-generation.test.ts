// The simulator's /ml/v1/text/generation and /generation_stream (docs/watsonx-api.md §4, sample #11).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startSimulator, type Simulator } from '../src/simulator/index.ts';
import { estimateTokens, splitIntoPieces } from '../src/simulator/tokens.ts';
import { accessToken } from './helpers/simulator.ts';

const VERSION = '2025-10-15';
const NOW = 1_767_225_600_123;
const PROJECT = '0b6d9c1e-1111-2222-3333-444455556666';
const MODEL = 'ibm/granite-3-3-8b-instruct';
const API_LEGACY = {
  message: "This API is legacy. Please consider using '/ml/v1/text/chat_stream' instead.",
  id: 'api_legacy',
};
const PROMPT = 'The capital of France is';
const ANSWER = ' Simulated continuation of "The capital of France is".';
/** Words of five tokens each, so the answer is longer than the default 20 new tokens. */
const LONG_PROMPT = 'a-b-c d-e-f g-h-i j-k-l m-n-o';
const LONG_ANSWER = ' Simulated continuation of "a-b-c d-e-f g-h-i j-k-l m-n-o".';

interface SseEvent {
  id: string | undefined;
  event: string | undefined;
  data: string;
}

/** A deliberately small SSE parser: the simulator writes one `data:` line per event. */
function parseSse(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const fields = new Map<string, string>();
      for (const line of block.split('\n')) {
        const colon = line.indexOf(': ');
        fields.set(line.slice(0, colon), line.slice(colon + 2));
      }
      return { id: fields.get('id'), event: fields.get('event'), data: fields.get('data') ?? '' };
    });
}

function generationBody(
  input: string,
  parameters?: Record<string, unknown>,
  extra: Record<string, unknown> = {},
) {
  return { model_id: MODEL, project_id: PROJECT, input, ...(parameters ? { parameters } : {}), ...extra };
}

interface CallOptions {
  token?: string | null;
  version?: string | null;
  stream?: boolean;
}

async function call(simulator: Simulator, body: unknown, options: CallOptions = {}): Promise<Response> {
  const token = options.token === undefined ? await accessToken(simulator) : options.token;
  const path = options.stream ? '/ml/v1/text/generation_stream' : '/ml/v1/text/generation';
  const version = options.version === undefined ? VERSION : options.version;
  return fetch(`${simulator.url}${path}${version === null ? '' : `?version=${version}`}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify(body),
  });
}

async function generate(simulator: Simulator, body: unknown): Promise<any> {
  const response = await call(simulator, body);
  assert.equal(response.status, 200);
  return response.json();
}

async function result(simulator: Simulator, body: unknown): Promise<any> {
  return (await generate(simulator, body)).results[0];
}

async function stream(simulator: Simulator, body: unknown): Promise<{ text: string; events: SseEvent[] }> {
  const response = await call(simulator, body, { stream: true });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  const text = await response.text();
  return { text, events: parseSse(text) };
}

function resultsOf(events: SseEvent[]): any[] {
  return events
    .filter((event) => event.event === 'message')
    .map((event) => JSON.parse(event.data).results[0]);
}

async function expectError(response: Response, status: number, code: string): Promise<any> {
  assert.equal(response.status, status);
  const body = (await response.json()) as any;
  assert.equal(body.status_code, status);
  assert.match(body.trace, /^[0-9a-f]{32}$/);
  assert.equal(body.errors[0].code, code);
  assert.equal(body.errors[0].more_info, 'https://cloud.ibm.com/apidocs/watsonx-ai#text-generation');
  return body;
}

describe('simulator: text generation', () => {
  let simulator: Simulator;
  before(async () => {
    simulator = await startSimulator({ now: () => NOW });
  });
  after(() => simulator.close());

  it('answers the §4.2 shape: deterministic text, token counts, eos_token, api_legacy warning', async () => {
    const body = await generate(simulator, generationBody(PROMPT, { max_new_tokens: 100 }));
    assert.deepEqual(Object.keys(body), ['model_id', 'model_version', 'created_at', 'results', 'system']);
    assert.equal(body.model_id, MODEL);
    assert.equal(body.model_version, '3.3.0');
    assert.equal(body.created_at, '2026-01-01T00:00:00.123Z');
    assert.deepEqual(body.results, [
      {
        generated_text: ANSWER,
        generated_token_count: estimateTokens(ANSWER),
        input_token_count: estimateTokens(PROMPT),
        stop_reason: 'eos_token',
      },
    ]);
    assert.deepEqual(body.system, { warnings: [API_LEGACY] });
    const again = await generate(simulator, generationBody(PROMPT, { max_new_tokens: 100 }));
    assert.deepEqual(again.results, body.results);
    const recorded = simulator.requests.at(-1)!;
    assert.equal(recorded.path, '/ml/v1/text/generation');
    assert.equal((recorded.body as any).input, PROMPT);
    assert.equal(recorded.finished, true);
  });

  it('generates 20 tokens when max_new_tokens is absent, and cuts at max_new_tokens → max_tokens', async () => {
    const pieces = splitIntoPieces(LONG_ANSWER);
    assert.ok(pieces.length > 20);
    assert.deepEqual(await result(simulator, generationBody(LONG_PROMPT)), {
      generated_text: pieces.slice(0, 20).join(''),
      generated_token_count: 20,
      input_token_count: estimateTokens(LONG_PROMPT),
      stop_reason: 'max_tokens',
    });
    const three = await result(simulator, generationBody(PROMPT, { max_new_tokens: 3 }));
    assert.equal(three.generated_text, ' Simulated continuation of');
    assert.equal(three.generated_token_count, 3);
    assert.equal(three.stop_reason, 'max_tokens');
    const none = await result(simulator, generationBody(PROMPT, { max_new_tokens: 0 }));
    assert.deepEqual(
      [none.generated_text, none.generated_token_count, none.stop_reason],
      ['', 0, 'max_tokens'],
    );
    const exact = await result(simulator, generationBody(PROMPT, { max_new_tokens: estimateTokens(ANSWER) }));
    assert.equal(exact.stop_reason, 'eos_token');
  });

  it('stops at the first stop sequence, with or without it (include_stop_sequence)', async () => {
    const parameters = { max_new_tokens: 100, stop_sequences: ['France', 'capital'] };
    const included = await result(simulator, generationBody(PROMPT, parameters));
    assert.equal(included.generated_text, ' Simulated continuation of "The capital');
    assert.equal(included.stop_reason, 'stop_sequence');
    assert.equal(included.generated_token_count, estimateTokens(included.generated_text));
    const excluded = await result(
      simulator,
      generationBody(PROMPT, { ...parameters, include_stop_sequence: false }),
    );
    assert.equal(excluded.generated_text, ' Simulated continuation of "The ');
    assert.equal(excluded.stop_reason, 'stop_sequence');
    assert.equal(excluded.generated_token_count, included.generated_token_count);
    // a stop sequence inside a token: the whole token was generated, the text stops after the sequence
    const inside = await result(simulator, generationBody(PROMPT, { stop_sequences: ['tinu'] }));
    assert.equal(inside.generated_text, ' Simulated continu');
    assert.equal(inside.generated_token_count, 2);
    const absent = await result(
      simulator,
      generationBody(PROMPT, { max_new_tokens: 100, stop_sequences: ['\n'] }),
    );
    assert.equal(absent.stop_reason, 'eos_token');
    // reached only after max_new_tokens: the token budget wins
    const late = await result(
      simulator,
      generationBody(PROMPT, { max_new_tokens: 4, stop_sequences: ['France'] }),
    );
    assert.equal(late.stop_reason, 'max_tokens');
    assert.equal(late.generated_token_count, 4);
  });

  it('stops with time_limit for time_limit <= 1 and accepts longer limits', async () => {
    const limited = await result(simulator, generationBody(PROMPT, { time_limit: 1 }));
    assert.deepEqual(
      [limited.generated_text, limited.generated_token_count, limited.stop_reason],
      [' Simulated', 1, 'time_limit'],
    );
    const relaxed = await result(
      simulator,
      generationBody(PROMPT, { time_limit: 60_000, max_new_tokens: 100 }),
    );
    assert.equal(relaxed.stop_reason, 'eos_token');
  });

  it('echoes random_seed when sampling; derives a stable seed when none is given; none when greedy', async () => {
    const seeded = await result(
      simulator,
      generationBody(PROMPT, {
        decoding_method: 'sample',
        random_seed: 42,
        temperature: 0.7,
        top_p: 0.9,
        top_k: 50,
      }),
    );
    assert.equal(seeded.seed, 42);
    const derived = await result(simulator, generationBody(PROMPT, { decoding_method: 'sample' }));
    assert.ok(Number.isInteger(derived.seed));
    assert.equal(
      (await result(simulator, generationBody(PROMPT, { decoding_method: 'sample' }))).seed,
      derived.seed,
    );
    const greedy = await result(
      simulator,
      generationBody(PROMPT, { decoding_method: 'greedy', random_seed: 42 }),
    );
    assert.equal('seed' in greedy, false);
  });

  it('returns generated_tokens with deterministic negative logprobs and top tokens', async () => {
    const parameters = {
      max_new_tokens: 100,
      return_options: { generated_tokens: true, token_logprobs: true, top_n_tokens: 3, token_ranks: true },
    };
    const answer = await result(simulator, generationBody(PROMPT, parameters));
    const tokens = answer.generated_tokens as any[];
    assert.equal(tokens.length, answer.generated_token_count);
    assert.equal(tokens.map((token) => token.text).join(''), answer.generated_text);
    for (const token of tokens) {
      assert.deepEqual(Object.keys(token), ['text', 'logprob', 'rank', 'top_tokens']);
      assert.ok(token.logprob < 0 && token.logprob > -5, `logprob ${token.logprob}`);
      assert.equal(token.rank, 1);
      assert.equal(token.top_tokens.length, 3);
      assert.deepEqual(token.top_tokens[0], { text: token.text, logprob: token.logprob });
      const logprobs = token.top_tokens.map((top: any) => top.logprob);
      assert.deepEqual(
        logprobs,
        [...logprobs].sort((left, right) => right - left),
      );
      assert.equal(new Set(token.top_tokens.map((top: any) => top.text)).size, 3);
    }
    assert.ok(new Set(tokens.map((token) => token.logprob)).size > 1);
    assert.deepEqual((await result(simulator, generationBody(PROMPT, parameters))).generated_tokens, tokens);
    const plain = await result(
      simulator,
      generationBody(PROMPT, { return_options: { generated_tokens: true }, max_new_tokens: 2 }),
    );
    assert.deepEqual(plain.generated_tokens, [{ text: ' Simulated' }, { text: ' continuation' }]);
    assert.equal('generated_tokens' in (await result(simulator, generationBody(PROMPT))), false);
    const echoed = await result(simulator, generationBody(PROMPT, { return_options: { input_text: true } }));
    assert.equal(echoed.input_text, PROMPT);
  });

  it('rejects an input longer than the model context, unless truncate_input_tokens cuts it', async () => {
    const input = 'word '.repeat(9000);
    const body = generationBody(input, undefined, { model_id: 'ibm/granite-13b-instruct-v2' });
    const error = await expectError(await call(simulator, body), 400, 'invalid_input_argument');
    assert.match(error.errors[0].message, /9000/);
    assert.match(error.errors[0].message, /8192/);
    const truncated = await result(simulator, { ...body, parameters: { truncate_input_tokens: 100 } });
    assert.equal(truncated.input_token_count, 100);
    assert.equal(truncated.generated_text, ' Simulated continuation of "word word word word word".');
  });

  it('checks version, token, container, input, parameters and the model like chat', async () => {
    await expectError(
      await call(simulator, generationBody(PROMPT), { version: null }),
      400,
      'invalid_input_argument',
    );
    await expectError(
      await call(simulator, generationBody(PROMPT), { token: null }),
      401,
      'authentication_token_not_valid',
    );
    const { project_id: _project, ...noContainer } = generationBody(PROMPT);
    await expectError(await call(simulator, noContainer), 400, 'json_validation_error');
    const { input: _input, ...noInput } = generationBody(PROMPT);
    const inputError = await expectError(await call(simulator, noInput), 400, 'json_validation_error');
    assert.match(inputError.errors[0].message, /input/);
    for (const parameters of [
      { decoding_method: 'beam' },
      { max_new_tokens: -1 },
      { stop_sequences: 'stop' },
      { return_options: { top_n_tokens: 6 } },
    ]) {
      await expectError(
        await call(simulator, generationBody(PROMPT, parameters)),
        400,
        'json_validation_error',
      );
    }
    const unknown = await expectError(
      await call(simulator, generationBody(PROMPT, undefined, { model_id: 'acme/nope' })),
      404,
      'model_not_supported',
    );
    assert.equal(unknown.errors[0].message, "Model 'acme/nope' is not supported");
    const embedding = await expectError(
      await call(
        simulator,
        generationBody(PROMPT, undefined, { model_id: 'ibm/slate-30m-english-rtrvr-v2' }),
      ),
      400,
      'model_no_support_for_function',
    );
    assert.match(embedding.errors[0].message, /text_generation/);
    await expectError(
      await call(simulator, generationBody(PROMPT, undefined, { model_id: 'ibm/granite-20b-multilingual' })),
      404,
      'model_not_supported',
    );
  });

  it('warns about deprecated and non-IBM models before api_legacy', async () => {
    const deprecated = await generate(
      simulator,
      generationBody(PROMPT, undefined, { model_id: 'ibm/granite-13b-instruct-v2' }),
    );
    const [deprecation, legacy] = deprecated.system.warnings;
    assert.equal(deprecation.id, 'deprecation_warning');
    assert.equal(
      deprecation.message,
      "Model 'ibm/granite-13b-instruct-v2' is in deprecated state from 2025-06-18. IDs of alternative models: ibm/granite-3-3-8b-instruct.",
    );
    assert.deepEqual(legacy, API_LEGACY);
    const meta = await generate(
      simulator,
      generationBody(PROMPT, undefined, { model_id: 'meta-llama/llama-3-3-70b-instruct' }),
    );
    assert.deepEqual(
      meta.system.warnings.map((warning: any) => warning.id),
      ['disclaimer_warning', 'api_legacy'],
    );
  });

  it('answers a fault or an error directive with a watsonx error', async () => {
    simulator.enqueueFault({ kind: 'http-error', status: 503, code: 'service_unavailable', message: 'x' });
    await expectError(await call(simulator, generationBody(PROMPT)), 503, 'service_unavailable');
    const response = await call(simulator, generationBody(`${PROMPT} [[sim:error=429]]`));
    await expectError(response, 429, 'rate_limit_reached_requests');
    assert.equal(response.headers.get('retry-after'), '1');
    assert.equal((await call(simulator, generationBody(PROMPT))).status, 200);
  });

  it('maps [[sim:finish=…]] to the stop_reason and leaves the marker out of the text', async () => {
    for (const finish of ['token_limit', 'cancelled', 'error', 'time_limit']) {
      const answer = await result(
        simulator,
        generationBody(`${PROMPT} [[sim:finish=${finish}]]`, { max_new_tokens: 100 }),
      );
      assert.equal(answer.stop_reason, finish);
      assert.equal(answer.generated_text, ANSWER);
    }
  });

  it('stalls with [[sim:stall=MS]]', async () => {
    const started = performance.now();
    await result(simulator, generationBody(`${PROMPT} [[sim:stall=200]]`));
    assert.ok(performance.now() - started >= 180);
  });
});

describe('simulator: text generation stream', () => {
  let simulator: Simulator;
  before(async () => {
    simulator = await startSimulator({ now: () => NOW });
  });
  after(() => simulator.close());

  it('frames sample #11: empty first event with input tokens and warnings, cumulative deltas, final stop_reason', async () => {
    const { text, events } = await stream(simulator, generationBody(PROMPT, { max_new_tokens: 100 }));
    assert.ok(text.startsWith('id: 1\nevent: message\ndata: {'));
    assert.deepEqual(
      events.map((event) => event.id),
      events.map((_, index) => String(index + 1)),
    );
    assert.ok(events.every((event) => event.event === 'message'));
    const chunks = events.map((event) => JSON.parse(event.data));
    assert.deepEqual(chunks[0], {
      model_id: MODEL,
      model_version: '3.3.0',
      created_at: '2026-01-01T00:00:00.123Z',
      results: [
        {
          generated_text: '',
          generated_token_count: 0,
          input_token_count: estimateTokens(PROMPT),
          stop_reason: 'not_finished',
        },
      ],
      system: { warnings: [API_LEGACY] },
    });
    const deltas = resultsOf(events).slice(1);
    assert.deepEqual(
      deltas.map((delta) => delta.generated_text),
      splitIntoPieces(ANSWER),
    );
    deltas.forEach((delta, index) => {
      assert.equal(delta.generated_token_count, index + 1);
      assert.equal(delta.input_token_count, 0);
      assert.equal(delta.stop_reason, index === deltas.length - 1 ? 'eos_token' : 'not_finished');
    });
    assert.ok(chunks.slice(1).every((chunk) => !('system' in chunk)));
  });

  it('streams the same text and stop_reason as the non-stream answer', async () => {
    for (const parameters of [
      {},
      { max_new_tokens: 4 },
      { stop_sequences: ['France'], include_stop_sequence: false },
      { stop_sequences: ['capital'] },
      { time_limit: 1 },
      { decoding_method: 'sample', random_seed: 7 },
    ]) {
      const body = generationBody(LONG_PROMPT.concat(' ', PROMPT), parameters);
      const whole = await result(simulator, body);
      const results = resultsOf((await stream(simulator, body)).events);
      const last = results.at(-1);
      assert.equal(results.map((item) => item.generated_text).join(''), whole.generated_text);
      assert.equal(last.stop_reason, whole.stop_reason, JSON.stringify(parameters));
      assert.equal(last.generated_token_count, whole.generated_token_count);
      assert.equal(last.seed, whole.seed);
    }
  });

  it('sends a final empty event with the stop_reason when nothing is generated', async () => {
    const results = resultsOf(
      (await stream(simulator, generationBody(PROMPT, { max_new_tokens: 0 }))).events,
    );
    assert.equal(results.length, 2);
    assert.deepEqual(results[1], {
      generated_text: '',
      generated_token_count: 0,
      input_token_count: 0,
      stop_reason: 'max_tokens',
    });
  });

  it('carries each token’s details on its own event', async () => {
    const parameters = {
      max_new_tokens: 3,
      return_options: { generated_tokens: true, token_logprobs: true },
    };
    const whole = await result(simulator, generationBody(PROMPT, parameters));
    const results = resultsOf((await stream(simulator, generationBody(PROMPT, parameters))).events);
    assert.equal('generated_tokens' in results[0], false);
    assert.deepEqual(
      results.slice(1).flatMap((item) => item.generated_tokens),
      whole.generated_tokens,
    );
  });

  it('marks the deprecation on the first event only', async () => {
    const { events } = await stream(
      simulator,
      generationBody(PROMPT, undefined, { model_id: 'ibm/granite-13b-instruct-v2' }),
    );
    const chunks = events.map((event) => JSON.parse(event.data));
    assert.deepEqual(
      chunks[0].system.warnings.map((warning: any) => warning.id),
      ['deprecation_warning', 'api_legacy'],
    );
    assert.ok(chunks.slice(1).every((chunk) => chunk.system === undefined));
  });

  for (const trigger of ['fault', 'directive'] as const) {
    it(`sends event: error after N events (${trigger})`, async () => {
      if (trigger === 'fault') simulator.enqueueFault({ kind: 'stream-error', afterEvents: 2 });
      const input = trigger === 'fault' ? PROMPT : `${PROMPT} [[sim:stream-error-after=2]]`;
      const { events } = await stream(simulator, generationBody(input));
      assert.deepEqual(
        events.map((event) => event.event),
        ['message', 'message', 'error'],
      );
      const error = JSON.parse(events[2]!.data);
      assert.equal(error.status_code, 500);
      assert.equal(error.errors[0].more_info, 'https://cloud.ibm.com/apidocs/watsonx-ai#text-generation');
      assert.ok(resultsOf(events).every((item) => item.stop_reason === 'not_finished'));
    });

    it(`ends after N events without a stop_reason (${trigger})`, async () => {
      if (trigger === 'fault') simulator.enqueueFault({ kind: 'stream-truncate', afterEvents: 3 });
      const input = trigger === 'fault' ? PROMPT : `${PROMPT} [[sim:truncate-after=3]]`;
      const { events } = await stream(simulator, generationBody(input));
      assert.equal(events.length, 3);
      assert.ok(resultsOf(events).every((item) => item.stop_reason === 'not_finished'));
    });
  }

  it('never cuts at the final event: truncate-after beyond the end leaves the stream unfinished', async () => {
    const { events } = await stream(simulator, generationBody(`${PROMPT} [[sim:truncate-after=999]]`));
    const results = resultsOf(events);
    assert.equal(results.length, estimateTokens(ANSWER));
    assert.equal(results.at(-1).stop_reason, 'not_finished');
  });

  it('ends with the directive’s stop_reason and a close event when asked', async () => {
    const { events } = await stream(
      simulator,
      generationBody(`${PROMPT} [[sim:finish=cancelled]] [[sim:close-event]]`, { max_new_tokens: 100 }),
    );
    assert.equal(events.at(-1)!.event, 'close');
    assert.equal(resultsOf(events).at(-1).stop_reason, 'cancelled');
    assert.equal(
      resultsOf(events)
        .map((item) => item.generated_text)
        .join(''),
      ANSWER,
    );
  });
});
