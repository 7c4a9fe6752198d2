// End to end with more real clients (checklist items 36 and 38): openai-node 6 (installed as the
// `openai6` alias) and the Vercel AI SDK's OpenAI-compatible provider, each against the gateway on a
// real port in front of the simulator. Loopback only.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createOpenAICompatible } from '@ai-sdk/openai-compatible';
import { generateText, jsonSchema, streamText, tool, type TextStreamPart, type ToolSet } from 'ai';
import OpenAI6 from 'openai6';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const KEY = 'e2e-clients-key';
const MODEL = 'ibm/granite-4-h-small';
const TOOL_PROMPT = 'Call get_weather for Rome';
let gateway: TestGateway;

before(async () => {
  gateway = await startTestGateway({
    listen: true,
    env: { API_KEY: KEY },
    simulator: { chunkDelayMs: 0 },
  });
});
after(() => gateway.close());

describe('36: openai-node 6', () => {
  const weatherTools: OpenAI6.Chat.Completions.ChatCompletionTool[] = [
    {
      type: 'function',
      function: {
        name: 'get_weather',
        description: 'Weather for a city',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    },
  ];
  let client: OpenAI6;
  before(() => {
    client = new OpenAI6({ apiKey: KEY, baseURL: `${gateway.url}/v1`, maxRetries: 0 });
  });

  test('non-stream create returns a completion', async () => {
    const completion = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Say hello from six' }],
    });
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.model, MODEL);
    assert.equal(completion.choices.length, 1);
    assert.match(completion.choices[0]!.message.content ?? '', /Say hello from six/);
    assert.equal(completion.choices[0]!.finish_reason, 'stop');
    assert.ok(completion.usage!.prompt_tokens > 0);
    assert.ok(completion.usage!.completion_tokens > 0);
  });

  test('create({stream: true, tools}) yields one tool call whose deltas assemble', async () => {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: TOOL_PROMPT }],
      tools: weatherTools,
      stream: true,
    });
    const calls = new Map<number, { id?: string; name: string; arguments: string }>();
    let finish: string | null = null;
    for await (const chunk of stream) {
      const choice = chunk.choices[0];
      if (!choice) continue;
      finish = choice.finish_reason ?? finish;
      for (const delta of choice.delta.tool_calls ?? []) {
        assert.equal(typeof delta.index, 'number', 'every tool-call delta carries index');
        const call = calls.get(delta.index) ?? { name: '', arguments: '' };
        call.id ??= delta.id;
        call.name += delta.function?.name ?? '';
        call.arguments += delta.function?.arguments ?? '';
        calls.set(delta.index, call);
      }
    }
    assert.equal(finish, 'tool_calls');
    assert.deepEqual([...calls.keys()], [0]);
    const call = calls.get(0)!;
    assert.ok(call.id, 'the first delta carries the call id');
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.arguments), { city: 'example' });
  });

  test('chat.completions.stream(...).finalChatCompletion() keeps the tool call', async () => {
    const runner = client.chat.completions.stream({
      model: MODEL,
      messages: [{ role: 'user', content: TOOL_PROMPT }],
      tools: weatherTools,
    });
    const final = await runner.finalChatCompletion();
    assert.equal(final.choices[0]!.finish_reason, 'tool_calls');
    const toolCalls = final.choices[0]!.message.tool_calls ?? [];
    assert.equal(toolCalls.length, 1, 'openai-node 6 drops calls whose deltas lack index');
    const call = toolCalls[0]!;
    assert.equal(call.type, 'function');
    if (call.type !== 'function') return;
    assert.match(call.id, /\S/);
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'example' });
  });
});

describe('38: AI SDK openai-compatible provider', () => {
  /** A provider that records the JSON body of every request it sends. */
  function provider(includeUsage: boolean) {
    const bodies: Record<string, unknown>[] = [];
    const model = createOpenAICompatible({
      name: 'watsonx',
      baseURL: `${gateway.url}/v1`,
      apiKey: KEY,
      includeUsage,
      fetch: async (input, init) => {
        if (typeof init?.body === 'string') bodies.push(JSON.parse(init.body) as Record<string, unknown>);
        return fetch(input, init);
      },
    })(MODEL);
    return { model, bodies };
  }

  const weatherTool = tool({
    description: 'Weather for a city',
    inputSchema: jsonSchema<{ city: string }>({
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
      additionalProperties: false,
    }),
  });

  /** Drains fullStream, failing on any error part. */
  async function drain<TOOLS extends ToolSet>(parts: AsyncIterable<TextStreamPart<TOOLS>>) {
    const types: string[] = [];
    for await (const part of parts) {
      if (part.type === 'error') assert.fail(`error part in the stream: ${String(part.error)}`);
      types.push(part.type);
    }
    return types;
  }

  for (const includeUsage of [true, false]) {
    describe(`includeUsage: ${includeUsage}`, () => {
      test('generateText: text, finishReason stop, usage', async () => {
        const { model, bodies } = provider(includeUsage);
        const result = await generateText({ model, prompt: 'Say hello from the AI SDK', maxRetries: 0 });
        assert.match(result.text, /Say hello from the AI SDK/);
        assert.equal(result.finishReason, 'stop');
        // Non-streaming responses always carry usage.
        assert.ok((result.usage.inputTokens ?? 0) > 0, `inputTokens: ${result.usage.inputTokens}`);
        assert.ok((result.usage.outputTokens ?? 0) > 0, `outputTokens: ${result.usage.outputTokens}`);
        assert.equal(bodies.length, 1);
        assert.notEqual(bodies[0]!.stream, true);
      });

      test('streamText: text streams, finishReason stop, usage only when asked for', async () => {
        const { model, bodies } = provider(includeUsage);
        const result = streamText({ model, prompt: 'Stream hello from the AI SDK', maxRetries: 0 });
        const types = await drain(result.fullStream);
        assert.ok(types.filter((type) => type === 'text-delta').length > 1, 'text arrives in several deltas');
        assert.match(await result.text, /Stream hello from the AI SDK/);
        assert.equal(await result.finishReason, 'stop');
        assert.equal(bodies.length, 1);
        assert.equal(bodies[0]!.stream, true);
        const usage = await result.usage;
        if (includeUsage) {
          assert.deepEqual(bodies[0]!.stream_options, { include_usage: true });
          assert.ok((usage.inputTokens ?? 0) > 0, `inputTokens: ${usage.inputTokens}`);
          assert.ok((usage.outputTokens ?? 0) > 0, `outputTokens: ${usage.outputTokens}`);
        } else {
          assert.equal(bodies[0]!.stream_options, undefined);
          // Like OpenAI, the gateway sends no usage chunk unless include_usage was asked for.
          assert.equal(usage.inputTokens, undefined);
          assert.equal(usage.outputTokens, undefined);
        }
      });

      test('streamText with a tool: finishReason tool-calls and the parsed input', async () => {
        const { model } = provider(includeUsage);
        const result = streamText({
          model,
          prompt: TOOL_PROMPT,
          tools: { get_weather: weatherTool },
          maxRetries: 0,
        });
        const types = await drain(result.fullStream);
        assert.ok(types.includes('tool-call'), `parts: ${types.join(',')}`);
        assert.equal(await result.finishReason, 'tool-calls');
        const calls = await result.toolCalls;
        assert.equal(calls.length, 1);
        const call = calls[0]!;
        assert.equal(call.toolName, 'get_weather');
        assert.notEqual(call.invalid, true);
        assert.match(call.toolCallId, /\S/);
        assert.deepEqual(call.input, { city: 'example' });
        if (includeUsage) assert.ok(((await result.usage).inputTokens ?? 0) > 0);
      });
    });
  }
});
