// End to end: the gateway on a real port against the simulator, driven by the official
// `@anthropic-ai/sdk` (what Claude Code is built on). Loopback only.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const KEY = 'e2e-anthropic-key';
const MODEL = 'ibm/granite-4-h-small';
let gateway: TestGateway;
let client: Anthropic;

const weather: Anthropic.Tool = {
  name: 'get_weather',
  description: 'Weather for a city',
  input_schema: {
    type: 'object',
    properties: { city: { type: 'string' }, days: { type: 'integer' } },
    required: ['city'],
  },
};

before(async () => {
  gateway = await startTestGateway({
    listen: true,
    keepAliveMs: 100,
    env: { API_KEY: KEY, MODEL_MAP_CLAUDE_HAIKU_4_5: MODEL },
    simulator: { chunkDelayMs: 0 },
  });
  // Claude Code's setting: ANTHROPIC_BASE_URL is the gateway root; the SDK adds /v1/messages.
  client = new Anthropic({ apiKey: KEY, baseURL: gateway.url, maxRetries: 0 });
});
after(() => gateway.close());

describe('@anthropic-ai/sdk', () => {
  test('messages.create: a typed Message', async () => {
    const message = await client.messages.create({
      model: MODEL,
      max_tokens: 256,
      system: [{ type: 'text', text: 'Be brief.', cache_control: { type: 'ephemeral' } }],
      messages: [{ role: 'user', content: 'Say hi' }],
    });
    assert.equal(message.type, 'message');
    assert.equal(message.model, MODEL);
    assert.equal(message.stop_reason, 'end_turn');
    const [block] = message.content;
    assert.equal(block?.type, 'text');
    assert.match(block?.type === 'text' ? block.text : '', /Say hi/);
    assert.ok(message.usage.input_tokens > 0 && message.usage.output_tokens > 0);
    assert.match(message._request_id ?? '', /^req_/);
  });

  test('messages.stream(...).finalMessage() and the text events', async () => {
    const stream = client.messages.stream({
      model: MODEL,
      max_tokens: 256,
      messages: [{ role: 'user', content: 'Stream please' }],
    });
    let text = '';
    stream.on('text', (delta) => (text += delta));
    const message = await stream.finalMessage();
    assert.match(text, /Stream please/);
    assert.equal(message.content[0]?.type === 'text' && message.content[0].text, text);
    assert.equal(message.stop_reason, 'end_turn');
    assert.ok(message.usage.output_tokens > 1);
  });

  test('beta.messages (Claude Code: ?beta=true, anthropic-beta headers, thinking, context_management)', async () => {
    // max_tokens 64000 makes the SDK insist on streaming, as Claude Code always does.
    const message = await client.beta.messages
      .stream({
        model: 'claude-haiku-4-5',
        max_tokens: 64000,
        betas: ['claude-code-20250219', 'interleaved-thinking-2025-05-14', 'context-management-2025-06-27'],
        thinking: { type: 'adaptive' },
        context_management: { edits: [{ type: 'clear_thinking_20251015', keep: 'all' }] },
        metadata: { user_id: 'session-1' },
        messages: [{ role: 'user', content: 'hi' }],
      })
      .finalMessage();
    assert.equal(message.model, 'claude-haiku-4-5');
    assert.equal(message.stop_reason, 'end_turn');
  });

  test('a tool_use → tool_result round trip, streamed', async () => {
    const messages: Anthropic.MessageParam[] = [
      { role: 'user', content: 'Call get_weather for Rome for 3 days' },
    ];
    const first = await client.messages
      .stream({ model: MODEL, max_tokens: 256, tools: [weather], messages })
      .finalMessage();
    assert.equal(first.stop_reason, 'tool_use');
    const toolUse = first.content.find((block) => block.type === 'tool_use');
    assert.ok(toolUse && toolUse.type === 'tool_use');
    assert.equal(toolUse.name, 'get_weather');
    assert.deepEqual(toolUse.input, { city: 'example', days: 3 });
    assert.ok(
      !first.content.some((block) => block.type === 'text' && block.text === ''),
      'no empty text block',
    );

    messages.push({ role: 'assistant', content: first.content });
    messages.push({
      role: 'user',
      content: [
        { type: 'tool_result', tool_use_id: toolUse.id, content: [{ type: 'text', text: 'Sunny, 24 C' }] },
      ],
    });
    const second = await client.messages
      .stream({ model: MODEL, max_tokens: 256, tools: [weather], messages })
      .finalMessage();
    assert.equal(second.stop_reason, 'end_turn');
    assert.deepEqual(second.content, [
      { type: 'text', text: 'The tool returned: Sunny, 24 C', citations: null },
    ]);
  });

  test('messages.countTokens: a positive count', async () => {
    const count = await client.messages.countTokens({
      model: MODEL,
      system: 'You are a coding agent.',
      tools: [weather],
      messages: [{ role: 'user', content: 'What is the weather in Rome?' }],
    });
    assert.ok(count.input_tokens > 10, `${count.input_tokens}`);
  });

  test('models.list: Anthropic-shaped (the SDK sends anthropic-version), aliases included', async () => {
    const ids: string[] = [];
    for await (const model of client.models.list()) {
      assert.equal(model.type, 'model');
      ids.push(model.id);
    }
    assert.equal(ids[0], 'claude-haiku-4-5');
    assert.ok(ids.includes(MODEL));
  });

  test("errors surface as the SDK's classes, with the type and the gateway's code", async () => {
    const unknownClaude = await client.messages
      .create({ model: 'claude-opus-5-5', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] })
      .catch((error: unknown) => error);
    assert.ok(unknownClaude instanceof Anthropic.NotFoundError);
    assert.equal(unknownClaude.type, 'not_found_error');
    assert.equal(unknownClaude.errorCode, 'model_not_found');
    assert.match(unknownClaude.message, /ANTHROPIC_MODEL/);

    const badKey = await new Anthropic({ apiKey: 'wrong', baseURL: gateway.url, maxRetries: 0 }).messages
      .create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] })
      .catch((error: unknown) => error);
    assert.ok(badKey instanceof Anthropic.AuthenticationError);

    const limited = await client.messages
      .create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'x [[sim:error=429]]' }] })
      .catch((error: unknown) => error);
    assert.ok(limited instanceof Anthropic.RateLimitError);
    assert.equal(limited.type, 'rate_limit_error');

    const invalid = await client.messages
      .create({
        model: MODEL,
        max_tokens: 10,
        messages: [{ role: 'user', content: [{ type: 'video' } as never] }],
      })
      .catch((error: unknown) => error);
    assert.ok(invalid instanceof Anthropic.BadRequestError);

    const unavailable = await client.messages
      .create({ model: MODEL, max_tokens: 10, messages: [{ role: 'user', content: 'x [[sim:error=503]]' }] })
      .catch((error: unknown) => error);
    assert.ok(unavailable instanceof Anthropic.InternalServerError);
    assert.equal(unavailable.type, 'overloaded_error');
  });

  test('a failure after the first byte rejects the stream with an APIError (never a silent end)', async () => {
    const stream = client.messages.stream({
      model: MODEL,
      max_tokens: 256,
      messages: [{ role: 'user', content: 'a long enough answer [[sim:stream-error-after=4]]' }],
    });
    const error = await stream.finalMessage().catch((failure: unknown) => failure);
    assert.ok(error instanceof Anthropic.APIError, String(error));
    assert.match(error.message, /watsonx/);
  });

  test('a client disconnect mid-stream aborts the upstream request', async () => {
    const controller = new AbortController();
    const stream = client.messages.stream(
      {
        model: MODEL,
        max_tokens: 256,
        messages: [{ role: 'user', content: 'think long [[sim:stall=3000]]' }],
      },
      { signal: controller.signal },
    );
    await new Promise<void>((resolve) => stream.on('streamEvent', () => resolve()));
    controller.abort();
    await stream.finalMessage().catch(() => undefined);
    const upstream = gateway.inferenceRequests().at(-1)!;
    for (let attempt = 0; attempt < 50 && !upstream.aborted; attempt++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(upstream.aborted, true, 'the simulator saw the upstream request go away');
  });
});
