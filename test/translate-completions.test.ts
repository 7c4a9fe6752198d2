// Ring 1: the pure /v1/completions translators and the stream translator, on the recorded
// generation_stream fixture (#11 of the shared samples).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { GatewayError } from '../src/server/errors.ts';
import type { CompletionRequest, TextCompletionChunk } from '../src/openai/schemas/completions.ts';
import {
  completionPrompts,
  toRepetitionPenalty,
  toWatsonxGenerationRequests,
  type CompletionRequestContext,
} from '../src/openai/translate/completions-request.ts';
import {
  mapStopReason,
  toCompletionLogprobs,
  toTextCompletion,
  type CompletionResponseContext,
} from '../src/openai/translate/completions-response.ts';
import {
  CompletionStreamTranslator,
  type CompletionStreamContext,
} from '../src/openai/translate/completions-stream.ts';
import type { WatsonxGenerationRequest, WatsonxGenerationResponse } from '../src/watsonx/types.ts';

const CONTEXT: CompletionRequestContext = { modelId: 'ibm/granite-3-8b-instruct', defaultMaxTokens: 0 };

/** Translates a minimal valid request with `fields` laid over it. Fields are cast: tests send what clients send. */
function translate(
  fields: Record<string, unknown>,
  context: CompletionRequestContext = CONTEXT,
): WatsonxGenerationRequest[] {
  const request = { model: 'davinci', prompt: 'def add(a, b):', ...fields } as CompletionRequest;
  return toWatsonxGenerationRequests(request, context);
}

function parameters(fields: Record<string, unknown>, context?: CompletionRequestContext) {
  return translate(fields, context)[0]!.parameters;
}

/** Asserts a 400 invalid_request_error naming `param`. */
function assertRejected(fields: Record<string, unknown>, param: string): void {
  assert.throws(
    () => translate(fields),
    (error: unknown) => {
      assert.ok(error instanceof GatewayError, `expected a GatewayError, got ${String(error)}`);
      assert.equal(error.status, 400);
      assert.equal(error.kind, 'invalid_request');
      assert.equal(error.param, param);
      return true;
    },
  );
}

function assertUpstreamFailure(run: () => unknown, code: string): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof GatewayError, `expected a GatewayError, got ${String(error)}`);
    assert.equal(error.status, 502);
    assert.equal(error.kind, 'upstream');
    assert.equal(error.code, code);
    return true;
  });
}

// ---- request ----

test('a minimal request: model_id, input, sampling with watsonx defaults, nothing else', () => {
  assert.deepEqual(translate({}), [
    {
      model_id: 'ibm/granite-3-8b-instruct',
      input: 'def add(a, b):',
      parameters: { decoding_method: 'sample' },
    },
  ]);
});

test('max_tokens → max_new_tokens; absent → the default; default 0 → none; 0 is forwarded', () => {
  assert.equal(parameters({ max_tokens: 7 })!.max_new_tokens, 7);
  assert.equal(parameters({ max_tokens: 7 }, { ...CONTEXT, defaultMaxTokens: 100 })!.max_new_tokens, 7);
  assert.equal(parameters({}, { ...CONTEXT, defaultMaxTokens: 100 })!.max_new_tokens, 100);
  assert.equal(parameters({ max_tokens: null }, { ...CONTEXT, defaultMaxTokens: 100 })!.max_new_tokens, 100);
  assert.equal('max_new_tokens' in parameters({})!, false);
  assert.equal(parameters({ max_tokens: 0 }, { ...CONTEXT, defaultMaxTokens: 100 })!.max_new_tokens, 0);
});

test('temperature 0 → greedy, and the sampling-only top_p and seed are dropped', () => {
  assert.deepEqual(parameters({ temperature: 0, top_p: 0.5, seed: 42 }), { decoding_method: 'greedy' });
});

test('temperature > 0 → sample with temperature, top_p and seed → random_seed', () => {
  assert.deepEqual(parameters({ temperature: 0.7, top_p: 0.9, seed: 42 }), {
    decoding_method: 'sample',
    temperature: 0.7,
    top_p: 0.9,
    random_seed: 42,
  });
  assert.deepEqual(parameters({ temperature: null, top_p: 0.5 }), { decoding_method: 'sample', top_p: 0.5 });
});

test('stop (string or array) → stop_sequences with include_stop_sequence false; empty array → none', () => {
  assert.deepEqual(parameters({ stop: '\n' }), {
    decoding_method: 'sample',
    stop_sequences: ['\n'],
    include_stop_sequence: false,
  });
  assert.deepEqual(parameters({ stop: ['END', '###'] })!.stop_sequences, ['END', '###']);
  assert.deepEqual(parameters({ stop: [] }), { decoding_method: 'sample' });
  assert.deepEqual(parameters({ stop: null }), { decoding_method: 'sample' });
});

test('penalty formula: 1 + max(presence, frequency, 0) / 2, clamped to watsonx 1.0–2.0', () => {
  assert.equal(toRepetitionPenalty(0, 0), 1);
  assert.equal(toRepetitionPenalty(1, 0), 1.5);
  assert.equal(toRepetitionPenalty(0.4, 1.2), 1.6);
  assert.equal(toRepetitionPenalty(2, 2), 2);
  assert.equal(toRepetitionPenalty(-2, -1), 1, 'negative penalties have no watsonx equivalent');
  assert.equal(toRepetitionPenalty(-2, 0.5), 1.25);
  assert.equal(toRepetitionPenalty(undefined, 0.6), 1.3);
  assert.equal(toRepetitionPenalty(null, null), 1);
  assert.equal(toRepetitionPenalty(5, 0), 2, 'clamped even outside the schema range');
});

test('penalties → repetition_penalty only when one is given', () => {
  assert.equal(parameters({ presence_penalty: 1 })!.repetition_penalty, 1.5);
  assert.equal(parameters({ frequency_penalty: 0.5, presence_penalty: null })!.repetition_penalty, 1.25);
  assert.equal(parameters({ frequency_penalty: -1 })!.repetition_penalty, 1);
  assert.equal('repetition_penalty' in parameters({})!, false);
});

test('logprobs → return_options with generated tokens, their logprobs and top_n_tokens', () => {
  assert.deepEqual(parameters({ logprobs: 3 })!.return_options, {
    generated_tokens: true,
    token_logprobs: true,
    top_n_tokens: 3,
  });
  assert.equal(parameters({ logprobs: 0 })!.return_options!.top_n_tokens, 0);
  assert.equal('return_options' in parameters({ logprobs: null })!, false);
});

test('echo, user, stream, stream_options, empty suffix/logit_bias and unknown fields are not forwarded', () => {
  assert.deepEqual(
    translate({
      echo: true,
      user: 'u1',
      stream: true,
      stream_options: { include_usage: true },
      suffix: '',
      logit_bias: {},
      best_of: 1,
      vendor_extension: { x: 1 },
    }),
    translate({}),
  );
});

test('prompt arrays and n: one body per choice, index = promptIndex * n + k', () => {
  const bodies = translate({ prompt: ['A', 'B'], n: 2 });
  assert.deepEqual(
    bodies.map((body) => body.input),
    ['A', 'A', 'B', 'B'],
  );
  for (const body of bodies) assert.equal(body.model_id, CONTEXT.modelId);
  assert.equal(translate({ prompt: ['A', 'B', 'C'] }).length, 3);
});

test('n > 1 with a seed: each sample gets its own seed, so the samples differ as OpenAI`s do', () => {
  const seeds = translate({ prompt: ['A', 'B'], n: 3, seed: 10 }).map((body) => body.parameters!.random_seed);
  assert.deepEqual(seeds, [10, 11, 12, 10, 11, 12]);
});

test('refusals: token prompts, empty prompt array, suffix, best_of ≠ 1/n, logit_bias', () => {
  assertRejected({ prompt: [1, 2, 3] }, 'prompt');
  assertRejected({ prompt: [[1, 2], [3]] }, 'prompt');
  assertRejected({ prompt: [] }, 'prompt');
  assertRejected({ suffix: '\n    return result' }, 'suffix');
  assertRejected({ best_of: 3 }, 'best_of');
  assertRejected({ best_of: 2, n: 3 }, 'best_of');
  assertRejected({ best_of: 0 }, 'best_of');
  assertRejected({ logit_bias: { '50256': -100 } }, 'logit_bias');
  assert.equal(translate({ best_of: 2, n: 2 }).length, 2, 'best_of equal to n is accepted');
  assert.deepEqual(completionPrompts('x'), ['x']);
});

// ---- response ----

const RESPONSE_CONTEXT: CompletionResponseContext = {
  id: 'cmpl-proxy-1',
  created: 1_800_000_000,
  model: 'my-model',
  echo: false,
  logprobs: false,
};

function generation(result: Record<string, unknown>, prompt = 'def add(a, b):') {
  return {
    prompt,
    response: {
      model_id: 'ibm/granite-3-8b-instruct',
      created_at: '2026-01-01T00:00:00.321Z',
      results: [result],
    } as WatsonxGenerationResponse,
  };
}

test('stop_reason → finish_reason; cancelled/error → 502 upstream_generation_failed', () => {
  assert.equal(mapStopReason('eos_token'), 'stop');
  assert.equal(mapStopReason('stop_sequence'), 'stop');
  assert.equal(mapStopReason('EOS_TOKEN'), 'stop', 'compared case-insensitively');
  assert.equal(mapStopReason('max_tokens'), 'length');
  assert.equal(mapStopReason('token_limit'), 'length');
  assert.equal(mapStopReason('time_limit'), 'length');
  assertUpstreamFailure(() => mapStopReason('cancelled'), 'upstream_generation_failed');
  assertUpstreamFailure(() => mapStopReason('error'), 'upstream_generation_failed');
});

test('a generation → text_completion with the client`s model name and usage', () => {
  const completion = toTextCompletion(
    [
      generation({
        generated_text: ' return a + b',
        generated_token_count: 5,
        input_token_count: 9,
        stop_reason: 'eos_token',
        seed: 1234,
      }),
    ],
    RESPONSE_CONTEXT,
  );
  assert.deepEqual(completion, {
    id: 'cmpl-proxy-1',
    object: 'text_completion',
    created: 1_800_000_000,
    model: 'my-model',
    system_fingerprint: null,
    choices: [{ text: ' return a + b', index: 0, logprobs: null, finish_reason: 'stop' }],
    usage: {
      prompt_tokens: 9,
      completion_tokens: 5,
      total_tokens: 14,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    },
  });
});

test('several generations: choices in order, usage summed, finish reasons per choice', () => {
  const completion = toTextCompletion(
    [
      generation({
        generated_text: 'a',
        generated_token_count: 1,
        input_token_count: 3,
        stop_reason: 'eos_token',
      }),
      generation({
        generated_text: 'bb',
        generated_token_count: 20,
        input_token_count: 4,
        stop_reason: 'max_tokens',
      }),
    ],
    RESPONSE_CONTEXT,
  );
  assert.deepEqual(
    completion.choices.map((choice) => [choice.index, choice.text, choice.finish_reason]),
    [
      [0, 'a', 'stop'],
      [1, 'bb', 'length'],
    ],
  );
  assert.equal(completion.usage.prompt_tokens, 7);
  assert.equal(completion.usage.completion_tokens, 21);
  assert.equal(completion.usage.total_tokens, 28);
});

test('echo prepends the prompt to the text', () => {
  const completion = toTextCompletion(
    [generation({ generated_text: ' return a + b', stop_reason: 'eos_token' }, 'def add(a, b):')],
    { ...RESPONSE_CONTEXT, echo: true },
  );
  assert.equal(completion.choices[0]!.text, 'def add(a, b): return a + b');
});

test('a failed generation or a response without results fails the whole completion', () => {
  assertUpstreamFailure(
    () => toTextCompletion([generation({ generated_text: 'x', stop_reason: 'cancelled' })], RESPONSE_CONTEXT),
    'upstream_generation_failed',
  );
  assertUpstreamFailure(
    () => toTextCompletion([{ prompt: 'p', response: { results: [] } }], RESPONSE_CONTEXT),
    'upstream_invalid_response',
  );
});

const TOKENS = [
  {
    text: ' Paris',
    logprob: -0.25,
    rank: 1,
    top_tokens: [
      { text: ' Paris', logprob: -0.25 },
      { text: ' Lyon', logprob: -2.5 },
    ],
  },
  { text: '.', logprob: -0.5, rank: 1, top_tokens: [{ text: '.', logprob: -0.5 }] },
];

test('logprobs: tokens, token_logprobs, top_logprobs as {token: logprob}, text_offset', () => {
  assert.deepEqual(toCompletionLogprobs(TOKENS, 0), {
    tokens: [' Paris', '.'],
    token_logprobs: [-0.25, -0.5],
    top_logprobs: [{ ' Paris': -0.25, ' Lyon': -2.5 }, { '.': -0.5 }],
    text_offset: [0, 6],
  });
  assert.deepEqual(toCompletionLogprobs(undefined, 0), {
    tokens: [],
    token_logprobs: [],
    top_logprobs: [],
    text_offset: [],
  });
  assert.deepEqual(toCompletionLogprobs([{ text: 'x' }], 3).token_logprobs, [null]);
});

test('logprobs on a choice; with echo, text_offset counts from the start of the returned text', () => {
  const result = { generated_text: ' Paris.', stop_reason: 'eos_token', generated_tokens: TOKENS };
  const plain = toTextCompletion([generation(result, 'Capital:')], { ...RESPONSE_CONTEXT, logprobs: true });
  assert.deepEqual(plain.choices[0]!.logprobs!.text_offset, [0, 6]);
  const echoed = toTextCompletion([generation(result, 'Capital:')], {
    ...RESPONSE_CONTEXT,
    logprobs: true,
    echo: true,
  });
  assert.equal(echoed.choices[0]!.text, 'Capital: Paris.');
  assert.deepEqual(echoed.choices[0]!.logprobs!.text_offset, [8, 14]);
  assert.equal(echoed.choices[0]!.text.slice(14), '.');
});

// ---- stream ----

/** The recorded stream, one watsonx event per line (what the client yields after SSE decoding). */
const FIXTURE: WatsonxGenerationResponse[] = readFileSync(
  new URL('./fixtures/watsonx-generation-stream.jsonl', import.meta.url),
  'utf8',
)
  .split('\n')
  .filter((line) => line.trim() !== '')
  .map((line) => JSON.parse(line) as WatsonxGenerationResponse);

function streamContext(overrides: Partial<CompletionStreamContext> = {}): CompletionStreamContext {
  return {
    id: 'cmpl-proxy-1',
    created: 1_800_000_000,
    model: 'my-model',
    includeUsage: false,
    logprobs: false,
    ...overrides,
  };
}

/** Runs each list of events as one choice, in order; returns every chunk sent. */
function runStream(
  choices: WatsonxGenerationResponse[][],
  overrides: Partial<CompletionStreamContext> = {},
  echo?: string,
): TextCompletionChunk[] {
  const translator = new CompletionStreamTranslator(streamContext(overrides));
  const chunks: TextCompletionChunk[] = [];
  choices.forEach((events, index) => {
    chunks.push(...translator.begin(index, echo));
    for (const event of events) chunks.push(...translator.push(event));
    translator.end();
  });
  chunks.push(...translator.finish());
  return chunks;
}

test('fixture #11: text fragments, then one finish chunk; empty fragments skipped; no usage chunk', () => {
  const chunks = runStream([FIXTURE]);
  const texts = chunks.map((chunk) => chunk.choices[0]!.text);
  assert.deepEqual(texts, ['Toda', 'y i', 's ', 'a beautifu', 'l da', 'y', '.', '']);
  assert.equal(texts.slice(0, -1).join(''), 'Today is a beautiful day.');
  for (const chunk of chunks) {
    assert.equal(chunk.id, 'cmpl-proxy-1');
    assert.equal(chunk.object, 'text_completion');
    assert.equal(chunk.created, 1_800_000_000);
    assert.equal(chunk.model, 'my-model');
    assert.equal(chunk.choices.length, 1);
    assert.equal(chunk.choices[0]!.index, 0);
    assert.equal(chunk.choices[0]!.logprobs, null);
    assert.equal('usage' in chunk, false, 'no usage field unless asked for');
  }
  assert.deepEqual(
    chunks.map((chunk) => chunk.choices[0]!.finish_reason),
    [null, null, null, null, null, null, null, 'stop'],
  );
});

test('fixture #11 with include_usage: usage: null on every chunk, then a choices: [] usage chunk last', () => {
  const chunks = runStream([FIXTURE], { includeUsage: true });
  const last = chunks.at(-1)!;
  assert.deepEqual(last.choices, []);
  assert.deepEqual(last.usage, {
    prompt_tokens: 68,
    completion_tokens: 7,
    total_tokens: 75,
    prompt_tokens_details: { cached_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0 },
  });
  for (const chunk of chunks.slice(0, -1)) assert.equal(chunk.usage, null);
  assert.equal(chunks.at(-2)!.choices[0]!.finish_reason, 'stop');
});

test('stream: echo sends the prompt first; two choices in a row keep their index and sum usage', () => {
  const chunks = runStream([FIXTURE, FIXTURE], { includeUsage: true }, 'Prompt: ');
  const byIndex = (index: number) =>
    chunks
      .filter((chunk) => chunk.choices[0]?.index === index)
      .map((chunk) => chunk.choices[0]!.text)
      .join('');
  assert.equal(byIndex(0), 'Prompt: Today is a beautiful day.');
  assert.equal(byIndex(1), 'Prompt: Today is a beautiful day.');
  assert.equal(chunks[0]!.choices[0]!.text, 'Prompt: ');
  const finishes = chunks.filter((chunk) => chunk.choices[0]?.finish_reason != null);
  assert.deepEqual(
    finishes.map((chunk) => chunk.choices[0]!.index),
    [0, 1],
  );
  assert.equal(chunks.at(-1)!.usage!.prompt_tokens, 136);
  assert.equal(chunks.at(-1)!.usage!.completion_tokens, 14);
});

test('stream: a stream without a real stop_reason is an error (upstream_stream_incomplete)', () => {
  const translator = new CompletionStreamTranslator(streamContext());
  translator.begin(0, undefined);
  for (const event of FIXTURE.slice(0, -1)) translator.push(event);
  assert.equal(translator.finished, false);
  assertUpstreamFailure(() => translator.end(), 'upstream_stream_incomplete');
});

test('stream: cancelled / error stop reasons throw; max_tokens and time_limit → length', () => {
  const event = (stop_reason: string): WatsonxGenerationResponse => ({
    results: [{ generated_text: 'x', generated_token_count: 1, input_token_count: 2, stop_reason }],
  });
  for (const reason of ['cancelled', 'error']) {
    const translator = new CompletionStreamTranslator(streamContext());
    translator.begin(0, undefined);
    assertUpstreamFailure(() => translator.push(event(reason)), 'upstream_generation_failed');
  }
  for (const reason of ['max_tokens', 'time_limit', 'token_limit']) {
    const chunks = runStream([[event(reason)]]);
    assert.equal(chunks.at(-1)!.choices[0]!.finish_reason, 'length');
  }
});

test('stream: events after the stop reason and events without results are ignored', () => {
  const chunks = runStream([[{} as WatsonxGenerationResponse, ...FIXTURE, FIXTURE[2]!]]);
  assert.equal(chunks.length, 8);
  assert.equal(chunks.at(-1)!.choices[0]!.finish_reason, 'stop');
});

test('stream: logprobs per fragment, text_offset continuing across fragments and after echo', () => {
  const events: WatsonxGenerationResponse[] = [
    {
      results: [
        { generated_text: '', input_token_count: 4, generated_token_count: 0, stop_reason: 'not_finished' },
      ],
    },
    {
      results: [
        {
          generated_text: ' Paris',
          generated_token_count: 1,
          stop_reason: 'not_finished',
          generated_tokens: [TOKENS[0]!],
        },
      ],
    },
    {
      results: [
        {
          generated_text: '.',
          generated_token_count: 2,
          stop_reason: 'eos_token',
          generated_tokens: [TOKENS[1]!],
        },
      ],
    },
  ];
  const chunks = runStream([events], { logprobs: true }, 'Capital:');
  assert.equal(chunks[0]!.choices[0]!.logprobs, null, 'the echoed prompt carries no logprobs');
  assert.deepEqual(chunks[1]!.choices[0]!.logprobs, {
    tokens: [' Paris'],
    token_logprobs: [-0.25],
    top_logprobs: [{ ' Paris': -0.25, ' Lyon': -2.5 }],
    text_offset: [8],
  });
  assert.deepEqual(chunks[2]!.choices[0]!.logprobs!.text_offset, [14]);
  assert.equal(chunks[3]!.choices[0]!.finish_reason, 'stop');
});

test('prompts × n over 128 is refused before any upstream call', () => {
  const request = { model: 'm', prompt: Array.from({ length: 65 }, () => 'p'), n: 2 } as CompletionRequest;
  assert.throws(
    () => toWatsonxGenerationRequests(request, CONTEXT),
    (error) => error instanceof GatewayError && error.status === 400 && error.code === 'too_many_choices',
  );
  assert.equal(toWatsonxGenerationRequests({ ...request, n: 1 }, CONTEXT).length, 65);
});
