import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { GatewayError } from '../src/server/errors.ts';
import type { ChatCompletionChunk } from '../src/openai/schemas/types.ts';
import { ChatStreamTranslator, type ChatStreamContext } from '../src/openai/translate/chat-stream.ts';
import type { WatsonxChatChunk } from '../src/watsonx/types.ts';

/** A recorded stream, one watsonx chunk per line (what the client yields after SSE decoding). */
function stream(name: string): WatsonxChatChunk[] {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as WatsonxChatChunk);
}

const REASONING = 'watsonx-stream-reasoning.jsonl';
const TOOLS_N2 = 'watsonx-stream-tools-n2.jsonl';
const STREAM_2024 = 'watsonx-stream-2024.jsonl';
const TOOLS_2024 = 'watsonx-stream-2024-tools.jsonl';
const FIXTURES = [REASONING, TOOLS_N2, STREAM_2024, TOOLS_2024];

function streamContext(overrides: Partial<ChatStreamContext> = {}): ChatStreamContext {
  let next = 0;
  return {
    id: 'chatcmpl-proxy-1',
    created: 1_800_000_000,
    model: 'my-model',
    choices: 1,
    includeUsage: false,
    parallelToolCalls: true,
    newId: () => `call_generated_${++next}`,
    ...overrides,
  };
}

interface Run {
  /** Every chunk in order: start(), each push(), finish(). */
  chunks: ChatCompletionChunk[];
  /** translator.complete after each push. */
  completeAfterPush: boolean[];
}

function run(upstream: WatsonxChatChunk[], overrides: Partial<ChatStreamContext> = {}): Run {
  const translator = new ChatStreamTranslator(streamContext(overrides));
  const chunks = translator.start();
  const completeAfterPush: boolean[] = [];
  for (const chunk of upstream) {
    chunks.push(...translator.push(chunk));
    completeAfterPush.push(translator.complete);
  }
  chunks.push(...translator.finish());
  return { chunks, completeAfterPush };
}

interface AssembledToolCall {
  id: string;
  name: string;
  arguments: string;
}

interface AssembledChoice {
  role: string | undefined;
  content: string;
  reasoning: string;
  toolCalls: Map<number, AssembledToolCall>;
  finishReason: string | null;
}

/**
 * Checks the OpenAI chunk rules the strictest clients enforce, and assembles each choice the way
 * openai-node's stream helper does.
 */
function assemble(chunks: ChatCompletionChunk[], context: ChatStreamContext): AssembledChoice[] {
  const choices = new Map<number, AssembledChoice>();
  for (const chunk of chunks) {
    assert.equal(chunk.id, context.id);
    assert.equal(chunk.object, 'chat.completion.chunk');
    assert.equal(chunk.created, context.created);
    assert.equal(chunk.model, context.model);
    if (context.includeUsage) {
      assert.ok('usage' in chunk, 'with include_usage every chunk has a usage key');
    } else {
      assert.ok(!('usage' in chunk), 'without include_usage no chunk has a usage key');
      assert.notEqual(chunk.choices.length, 0, 'without include_usage no chunk has empty choices');
    }
    if (chunk.choices.length === 0) continue;
    assert.equal(chunk.choices.length, 1);
    const choice = chunk.choices[0]!;
    let state = choices.get(choice.index);
    if (!state) {
      assert.equal(choice.delta.role, 'assistant', `first chunk of choice ${choice.index} carries the role`);
      state = { role: 'assistant', content: '', reasoning: '', toolCalls: new Map(), finishReason: null };
      choices.set(choice.index, state);
    } else {
      assert.ok(!('role' in choice.delta), 'the role is sent once');
    }
    assert.equal(state.finishReason, null, `no chunk after the finish chunk of choice ${choice.index}`);
    if (choice.delta.content !== undefined) state.content += choice.delta.content;
    if (choice.delta.reasoning_content !== undefined) {
      assert.notEqual(choice.delta.reasoning_content, '', 'empty reasoning deltas are skipped');
      state.reasoning += choice.delta.reasoning_content;
    }
    for (const call of choice.delta.tool_calls ?? []) {
      assert.equal(typeof call.index, 'number', 'every tool-call delta has an index');
      const known = state.toolCalls.get(call.index);
      if (!known) {
        assert.ok(call.id, 'the first delta of a call has an id');
        assert.equal(call.type, 'function');
        assert.ok(call.function.name, 'the first delta of a call has a name');
        assert.equal(typeof call.function.arguments, 'string');
        state.toolCalls.set(call.index, {
          id: call.id,
          name: call.function.name,
          arguments: call.function.arguments,
        });
      } else {
        assert.deepEqual(
          Object.keys(call).sort(),
          ['function', 'index'],
          'continuations: index + function only',
        );
        assert.deepEqual(Object.keys(call.function), ['arguments'], 'continuations: arguments only');
        known.arguments += call.function.arguments;
      }
    }
    if (choice.finish_reason !== null) {
      assert.deepEqual(choice.delta, {}, 'the finish chunk has an empty delta');
      state.finishReason = choice.finish_reason;
    }
  }
  for (let index = 0; index < context.choices; index++) {
    assert.ok(choices.get(index)?.finishReason, `choice ${index} has exactly one finish chunk`);
  }
  return [...choices.entries()].sort(([left], [right]) => left - right).map(([, choice]) => choice);
}

function toolCallsOf(choice: AssembledChoice) {
  return [...choice.toolCalls.entries()].map(([index, call]) => ({
    index,
    id: call.id,
    name: call.name,
    arguments: JSON.parse(call.arguments) as unknown,
  }));
}

const FULL_USAGE = (prompt: number, completion: number) => ({
  prompt_tokens: prompt,
  completion_tokens: completion,
  total_tokens: prompt + completion,
  prompt_tokens_details: { cached_tokens: 0 },
  completion_tokens_details: { reasoning_tokens: 0 },
});

test('start() sends one role chunk per choice before watsonx answers', () => {
  const translator = new ChatStreamTranslator(streamContext({ choices: 2 }));
  const chunks = translator.start();
  assert.deepEqual(
    chunks.map((chunk) => chunk.choices),
    [0, 1].map((index) => [
      { index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null },
    ]),
  );
});

test('reasoning stream (#7): reasoning and content split, empty reasoning deltas dropped, one stop', () => {
  const context = streamContext();
  const { chunks } = run(stream(REASONING), context);
  const [choice] = assemble(chunks, context);
  assert.equal(choice!.reasoning, 'User wants translation.');
  assert.equal(choice!.content, '"Hello" in Italian is **"ciao"**.');
  assert.equal(choice!.finishReason, 'stop');
  assert.equal(choice!.toolCalls.size, 0);
  // 1 role + 4 reasoning + 13 content + 1 finish: the 10 empty deltas upstream produce nothing.
  assert.equal(chunks.length, 19);
});

test('include_usage: usage null on every chunk, then one final choices:[] usage chunk from finish()', () => {
  const context = streamContext({ includeUsage: true });
  const translator = new ChatStreamTranslator(context);
  const chunks = translator.start();
  const upstream = stream(REASONING);
  for (const chunk of upstream) chunks.push(...translator.push(chunk));
  assert.ok(chunks.every((chunk) => chunk.usage === null && chunk.choices.length === 1));
  const closing = translator.finish();
  assert.equal(closing.length, 1);
  assert.deepEqual(closing[0], {
    id: context.id,
    object: 'chat.completion.chunk',
    created: context.created,
    model: context.model,
    system_fingerprint: null,
    choices: [],
    usage: FULL_USAGE(85, 27),
  });
  assemble([...chunks, ...closing], context);
});

test('complete turns true only once the usage chunk arrived after every finish', () => {
  const upstream = stream(REASONING);
  const { completeAfterPush } = run(upstream);
  assert.deepEqual(
    completeAfterPush,
    upstream.map((_, position) => position === upstream.length - 1),
  );
});

test('tool calls, n=2 (#8): continuations carry only index + arguments, arguments parse as JSON', () => {
  const context = streamContext({ choices: 2, includeUsage: true });
  const { chunks, completeAfterPush } = run(stream(TOOLS_N2), context);
  const choices = assemble(chunks, context);
  assert.equal(choices.length, 2);
  assert.deepEqual(
    choices.map((choice) => toolCallsOf(choice)),
    [
      [
        {
          index: 0,
          id: 'chatcmpl-tool-3f4687763155466daa6c79e21ea31972',
          name: 'sum',
          arguments: { first_number: 2, second_number: 2 },
        },
      ],
      [
        {
          index: 0,
          id: 'chatcmpl-tool-3a69f4eceb9d46278c883fe887e05d7f',
          name: 'sum',
          arguments: { first_number: 2, second_number: 2 },
        },
      ],
    ],
  );
  assert.deepEqual(
    choices.map((choice) => [choice.reasoning, choice.content, choice.finishReason]),
    [
      ['User wants to execute 2+2. Use sum function.', 'The result of 2 + 2 is 4.', 'tool_calls'],
      ['We need to compute 2+2. Use sum function.', 'The result of 2 + 2 is 4.', 'tool_calls'],
    ],
  );
  assert.deepEqual(chunks.at(-1)!.usage, FULL_USAGE(158, 138));
  assert.equal(completeAfterPush.at(-1), true);
  assert.ok(completeAfterPush.slice(0, -1).every((complete) => !complete));
});

test('tool calls, n=2 (#8): the argument text is relayed as it streams, not held back', () => {
  const context = streamContext({ choices: 2 });
  const translator = new ChatStreamTranslator(context);
  translator.start();
  const upstream = stream(TOOLS_N2);
  // Event 33 is the first argument fragment of choice 0: "{\n".
  const beforeFragment = upstream.slice(0, 32).flatMap((chunk) => translator.push(chunk));
  const atFragment = translator.push(upstream[32]!);
  assert.ok(beforeFragment.some((chunk) => chunk.choices[0]?.delta.tool_calls?.[0]?.function.name === 'sum'));
  assert.deepEqual(atFragment[0]!.choices[0]!.delta, {
    tool_calls: [{ index: 0, function: { arguments: '{\n' } }],
  });
});

test('2024 stream (#9): running usage, finish_reason on the last content chunk', () => {
  const context = streamContext({ includeUsage: true });
  const upstream = stream(STREAM_2024);
  const translator = new ChatStreamTranslator(context);
  const chunks = translator.start();
  chunks.push(...translator.push(upstream[0]!), ...translator.push(upstream[1]!));
  const last = translator.push(upstream[2]!);
  assert.deepEqual(
    last.map((chunk) => chunk.choices[0]),
    [
      { index: 0, delta: { content: 'llo' }, logprobs: null, finish_reason: null },
      { index: 0, delta: {}, logprobs: null, finish_reason: 'stop' },
    ],
  );
  chunks.push(...last);
  assert.equal(
    translator.complete,
    false,
    'the running usage on content chunks is not the final usage chunk',
  );
  chunks.push(...translator.push(upstream[3]!));
  assert.equal(translator.complete, true);
  chunks.push(...translator.finish());
  const [choice] = assemble(chunks, context);
  assert.equal(choice!.content, ' Hello');
  // The final usage is the last one watsonx sent, not the running count of the finish chunk.
  assert.deepEqual(chunks.at(-1)!.usage, FULL_USAGE(88, 36));
});

test('2024 tool stream (#10): the name arrives in the second delta, the last fragment with the finish', () => {
  const context = streamContext({ includeUsage: true });
  const { chunks } = run(stream(TOOLS_2024), context);
  const [choice] = assemble(chunks, context);
  assert.deepEqual(toolCallsOf(choice!), [
    {
      index: 0,
      id: 'chatcmpl-tool-7cf5dfd7c52441e59a7585243b22a86a',
      name: 'sum',
      arguments: { first: 1, second: 1 },
    },
  ]);
  assert.equal(choice!.finishReason, 'tool_calls');
  assert.equal(choice!.content, '');
  assert.deepEqual(chunks.at(-1)!.usage, FULL_USAGE(84, 25));
  // The tool call starts once, with the name: no delta carries an empty name.
  const toolDeltas = chunks.flatMap((chunk) => chunk.choices.flatMap((c) => c.delta.tool_calls ?? []));
  assert.equal(toolDeltas.filter((delta) => 'name' in delta.function).length, 1);
});

test('without include_usage no chunk has a usage key and none has empty choices, on every fixture', () => {
  for (const name of FIXTURES) {
    const context = streamContext({ choices: name === TOOLS_N2 ? 2 : 1 });
    const { chunks } = run(stream(name), context);
    assert.ok(
      chunks.every((chunk) => !('usage' in chunk)),
      name,
    );
    assert.ok(
      chunks.every((chunk) => chunk.choices.length === 1),
      name,
    );
    assemble(chunks, context);
  }
});

test('a stream that ends before every choice finished makes finish() throw a 502', () => {
  const isIncomplete = (error: unknown) => {
    assert.ok(error instanceof GatewayError);
    assert.equal(error.status, 502);
    assert.equal(error.code, 'upstream_stream_incomplete');
    return true;
  };
  const cut = (name: string, count: number, choices: number) => {
    const translator = new ChatStreamTranslator(streamContext({ choices }));
    translator.start();
    for (const chunk of stream(name).slice(0, count)) translator.push(chunk);
    return translator;
  };
  assert.throws(() => cut(REASONING, 20, 1).finish(), isIncomplete);
  assert.throws(() => cut(REASONING, 0, 1).finish(), isIncomplete);
  // Event 99 finishes choice 0 only.
  assert.throws(() => cut(TOOLS_N2, 99, 2).finish(), isIncomplete);
  assert.doesNotThrow(() => cut(TOOLS_N2, 100, 2).finish());
});

/** Synthetic watsonx chunks for one choice. */
function chunkOf(
  delta: NonNullable<WatsonxChatChunk['choices']>[number]['delta'],
  finishReason: string | null = null,
): WatsonxChatChunk {
  return {
    id: 'chatcmpl-x',
    object: 'chat.completion.chunk',
    choices: [{ index: 0, finish_reason: finishReason, delta }],
  };
}

const USAGE_CHUNK: WatsonxChatChunk = {
  id: 'chatcmpl-x',
  choices: [],
  usage: { completion_tokens: 5, prompt_tokens: 10, total_tokens: 15 },
};

test('a no-argument tool call gets "{}" as arguments', () => {
  const context = streamContext();
  const { chunks } = run(
    [
      chunkOf({ role: 'assistant', content: '' }),
      chunkOf({
        tool_calls: [
          { index: 0, id: 'chatcmpl-tool-1', type: 'function', function: { name: 'now', arguments: '' } },
        ],
      }),
      chunkOf({ tool_calls: [{ index: 0, function: { name: '', arguments: '' } }] }),
      chunkOf({}, 'tool_calls'),
      USAGE_CHUNK,
    ],
    context,
  );
  const [choice] = assemble(chunks, context);
  assert.equal(choice!.toolCalls.get(0)!.arguments, '{}');
  assert.equal(choice!.finishReason, 'tool_calls');
});

test('double-encoded streamed arguments are decoded before they are sent', () => {
  const context = streamContext();
  const encoded = JSON.stringify('{\n  "city": "Rome"\n}');
  const { chunks } = run(
    [
      chunkOf({ role: 'assistant', content: '' }),
      chunkOf({
        tool_calls: [
          { index: 0, id: 'chatcmpl-tool-1', type: 'function', function: { name: 'weather', arguments: '' } },
        ],
      }),
      chunkOf({ tool_calls: [{ index: 0, function: { name: '', arguments: encoded.slice(0, 9) } }] }),
      chunkOf({ tool_calls: [{ index: 0, function: { name: '', arguments: encoded.slice(9) } }] }),
      chunkOf({}, 'stop'),
      USAGE_CHUNK,
    ],
    context,
  );
  const [choice] = assemble(chunks, context);
  assert.deepEqual(toolCallsOf(choice!), [
    { index: 0, id: 'chatcmpl-tool-1', name: 'weather', arguments: { city: 'Rome' } },
  ]);
  assert.equal(choice!.finishReason, 'tool_calls', 'stop on a tool-call turn becomes tool_calls');
});

test('tool calls without an id get a generated one', () => {
  const context = streamContext();
  const { chunks } = run(
    [
      chunkOf({ tool_calls: [{ index: 0, type: 'function', function: { name: 'now', arguments: '{}' } }] }),
      chunkOf({}, 'tool_calls'),
    ],
    context,
  );
  assert.equal(assemble(chunks, context)[0]!.toolCalls.get(0)!.id, 'call_generated_1');
});

test('parallelToolCalls false relays only the first call', () => {
  const upstream = [
    chunkOf({
      tool_calls: [
        { index: 0, id: 'call_a', type: 'function', function: { name: 'read', arguments: '{"p":' } },
      ],
    }),
    chunkOf({
      tool_calls: [
        { index: 1, id: 'call_b', type: 'function', function: { name: 'read', arguments: '{"p":"b"}' } },
      ],
    }),
    chunkOf({ tool_calls: [{ index: 0, function: { name: '', arguments: '"a"}' } }] }),
    chunkOf({}, 'tool_calls'),
  ];
  const sequentialContext = streamContext({ parallelToolCalls: false });
  const sequential = assemble(run(upstream, sequentialContext).chunks, sequentialContext)[0]!;
  assert.deepEqual(toolCallsOf(sequential), [
    { index: 0, id: 'call_a', name: 'read', arguments: { p: 'a' } },
  ]);
  assert.equal(sequential.finishReason, 'tool_calls');
  const parallelContext = streamContext();
  const parallel = assemble(run(upstream, parallelContext).chunks, parallelContext)[0]!;
  assert.deepEqual(
    toolCallsOf(parallel).map((call) => call.id),
    ['call_a', 'call_b'],
  );
});

test('finish reasons: time_limit becomes length; cancelled makes push() throw a 502', () => {
  const context = streamContext();
  const { chunks } = run(
    [chunkOf({ content: 'Once upon' }), chunkOf({ content: '' }, 'time_limit')],
    context,
  );
  assert.equal(assemble(chunks, context)[0]!.finishReason, 'length');
  const translator = new ChatStreamTranslator(context);
  translator.start();
  translator.push(chunkOf({ content: 'Once' }));
  assert.throws(
    () => translator.push(chunkOf({ content: '' }, 'cancelled')),
    (error: unknown) => error instanceof GatewayError && error.status === 502,
  );
});

test('chunks for a choice after its finish are ignored', () => {
  const context = streamContext();
  const { chunks } = run([chunkOf({ content: 'Hi' }, 'stop'), chunkOf({ content: ' again' })], context);
  assert.equal(assemble(chunks, context)[0]!.content, 'Hi');
});
