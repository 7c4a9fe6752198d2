// End to end, the Responses API: the gateway on a real port against the simulator, driven by the
// official `openai` package (responses.create, responses.stream(...).finalResponse(), a function
// tool round trip, previous_response_id, retrieve/delete, an error mid-stream) and by the AI SDK's
// default provider `openai(model)` of @ai-sdk/openai (generateText, streamText, a tool step).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createOpenAI } from '@ai-sdk/openai';
import { generateText, jsonSchema, stepCountIs, streamText, tool } from 'ai';
import OpenAI from 'openai';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { checkResponseEvents, type StreamEvent } from './helpers/responses-events.ts';

const KEY = 'e2e-responses-key';
const MODEL = 'ibm/granite-4-h-small';
let gateway: TestGateway;
let client: OpenAI;

const weather: OpenAI.Responses.FunctionTool = {
  type: 'function',
  name: 'get_weather',
  description: 'Weather for a city',
  parameters: {
    type: 'object',
    properties: { city: { type: 'string' } },
    required: ['city'],
    additionalProperties: false,
  },
  strict: true,
};

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

/** `event:` + `data:` frames → the data objects, checking that the event name is the data's type. */
function parseEvents(text: string): StreamEvent[] {
  return text
    .split('\n\n')
    .filter((frame) => frame.startsWith('event: '))
    .map((frame) => {
      const [eventLine, dataLine] = frame.split('\n');
      const event = JSON.parse(dataLine!.slice('data: '.length)) as StreamEvent;
      assert.equal(eventLine, `event: ${event.type}`);
      return event;
    });
}

/** The watsonx chat body of the latest upstream request. */
function lastUpstreamBody(): {
  messages: Array<{ role: string; content?: unknown }>;
  [key: string]: unknown;
} {
  return gateway.inferenceRequests().at(-1)!.body as never;
}

describe('openai SDK: responses', () => {
  test('responses.create: a completed response with output_text and usage', async () => {
    const response = await client.responses.create({
      model: MODEL,
      input: 'Say hi',
      metadata: { run: 'e2e' },
    });
    assert.equal(response.object, 'response');
    assert.match(response.id, /^resp_/);
    assert.equal(response.status, 'completed');
    assert.equal(response.model, MODEL);
    assert.match(response.output_text, /you said "Say hi"/);
    assert.deepEqual(response.metadata, { run: 'e2e' });
    assert.ok(response.usage!.input_tokens > 0 && response.usage!.output_tokens > 0);
    assert.equal(response.usage!.total_tokens, response.usage!.input_tokens + response.usage!.output_tokens);
    // Codex never sends max_output_tokens: the model's own limit (catalogue) is asked for.
    assert.equal(lastUpstreamBody().max_completion_tokens, 16384);
  });

  test('responses.stream(...).finalResponse(): events in order, text assembled', async () => {
    const stream = client.responses.stream({ model: MODEL, input: 'Stream please' });
    const types: string[] = [];
    let text = '';
    stream.on('event', (event) => types.push(event.type));
    stream.on('response.output_text.delta', (event) => (text += event.delta));
    const response = await stream.finalResponse();
    assert.equal(types[0], 'response.created');
    assert.equal(types.at(-1), 'response.completed');
    assert.equal(response.status, 'completed');
    assert.match(text, /Stream please/);
    assert.equal(response.output_text, text);
  });

  test('the raw stream passes every rule of the stream helpers (ids, order, one terminal event)', async () => {
    const stream = await client.responses.create({
      model: 'openai/gpt-oss-120b',
      input: 'Call get_weather for Paris',
      tools: [weather],
      stream: true,
    });
    const events: StreamEvent[] = [];
    for await (const event of stream) events.push(event as unknown as StreamEvent);
    const response = checkResponseEvents(events);
    assert.deepEqual(
      response.output.map((item) => (item as { type: string }).type),
      ['reasoning', 'function_call'],
    );
  });

  test('responses.stream() accepts reasoning summaries and a function call (gpt-oss)', async () => {
    const stream = client.responses.stream({
      model: 'openai/gpt-oss-120b',
      input: 'Call get_weather for Paris',
      tools: [weather],
    });
    let summary = '';
    let args = '';
    stream.on('response.reasoning_summary_text.delta', (event) => (summary += event.delta));
    stream.on('response.function_call_arguments.delta', (event) => (args += event.delta));
    const response = await stream.finalResponse();
    assert.deepEqual(
      response.output.map((item) => item.type),
      ['reasoning', 'function_call'],
    );
    const reasoning = response.output[0]!;
    assert.ok(reasoning.type === 'reasoning');
    assert.equal(reasoning.summary[0]!.text, summary);
    const call = response.output[1]!;
    assert.ok(call.type === 'function_call');
    assert.equal(call.arguments, args);
    assert.equal(response.status, 'completed');
  });

  test('a function tool round trip, the second turn chained with previous_response_id', async () => {
    const first = await client.responses.create({
      model: MODEL,
      input: 'What is the weather in Paris? Use the get_weather tool.',
      tools: [weather],
    });
    const call = first.output.find((item) => item.type === 'function_call');
    assert.ok(call && call.type === 'function_call');
    assert.equal(call.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.arguments), { city: 'example' });

    const second = await client.responses.create({
      model: MODEL,
      previous_response_id: first.id,
      input: [{ type: 'function_call_output', call_id: call.call_id, output: '{"temp_c":21}' }],
      tools: [weather],
    });
    assert.equal(second.previous_response_id, first.id);
    assert.equal(second.output_text, 'The tool returned: {"temp_c":21}');
    // watsonx got the whole conversation: the user turn, the call, its output.
    assert.deepEqual(
      lastUpstreamBody().messages.map((message) => message.role),
      ['user', 'assistant', 'tool'],
    );
  });

  test('previous_response_id chains plain turns; retrieve and delete; a deleted id is a 404', async () => {
    const first = await client.responses.create({ model: MODEL, input: 'My name is Ada.' });
    const second = await client.responses.create({
      model: MODEL,
      input: 'What is my name?',
      previous_response_id: first.id,
    });
    assert.deepEqual(
      lastUpstreamBody().messages.map((message) => [message.role, message.content]),
      [
        ['user', 'My name is Ada.'],
        ['assistant', first.output_text],
        ['user', 'What is my name?'],
      ],
    );
    const retrieved = await client.responses.retrieve(second.id);
    assert.equal(retrieved.id, second.id);
    assert.equal(retrieved.output_text, second.output_text);
    await client.responses.delete(second.id);
    await assert.rejects(client.responses.retrieve(second.id), (error: unknown) => {
      assert.ok(error instanceof OpenAI.NotFoundError);
      assert.equal((error as InstanceType<typeof OpenAI.APIError>).code, 'response_not_found');
      return true;
    });
    await assert.rejects(
      client.responses.create({ model: MODEL, input: 'again', previous_response_id: second.id }),
      (error: unknown) => error instanceof OpenAI.NotFoundError && error.param === 'previous_response_id',
    );
  });

  test('store: false keeps nothing', async () => {
    const response = await client.responses.create({ model: MODEL, input: 'Forget me', store: false });
    assert.equal((response as unknown as { store: boolean }).store, false);
    await assert.rejects(client.responses.retrieve(response.id), OpenAI.NotFoundError);
  });

  test('an error mid-stream: openai-node raises it (APIError), the wire ends with error + response.failed', async () => {
    const input = 'Break please [[sim:stream-error-after=4]]';
    await assert.rejects(client.responses.stream({ model: MODEL, input }).finalResponse(), OpenAI.APIError);
    const raw = await client.responses.create({ model: MODEL, input, stream: true });
    await assert.rejects(
      (async () => {
        for await (const _event of raw);
      })(),
      (error: unknown) => error instanceof OpenAI.APIError && /Simulated failure/.test(error.message),
    );
    const response = await fetch(`${gateway.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: MODEL, input, stream: true }),
    });
    const events = parseEvents(await response.text());
    const failed = checkResponseEvents(events);
    assert.deepEqual(
      events.slice(-2).map((event) => event.type),
      ['error', 'response.failed'],
    );
    assert.equal(failed.status, 'failed');
    assert.equal((failed.error as { code: string }).code, 'server_error');
  });

  test('an upstream refusal before the first byte is an HTTP error in the error envelope', async () => {
    await assert.rejects(
      client.responses.create({ model: MODEL, input: 'hi [[sim:error=429]]', stream: true }),
      (error: unknown) => error instanceof OpenAI.RateLimitError && error.code === 'rate_limit_exceeded',
    );
    await assert.rejects(
      client.responses.create({ model: 'nobody/nothing', input: 'hi' }),
      (error: unknown) => error instanceof OpenAI.NotFoundError && error.code === 'model_not_found',
    );
  });

  test('a client disconnect mid-stream aborts the upstream request', async () => {
    const slow = await startTestGateway({ listen: true, simulator: { chunkDelayMs: 40 } });
    try {
      const controller = new AbortController();
      const response = await fetch(`${slow.url}/v1/responses`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: MODEL,
          stream: true,
          input: 'a long answer please with many words in it',
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
    } finally {
      await slow.close();
    }
  });

  test('keep-alive comments while watsonx is silent (a reasoning model thinking)', async () => {
    const response = await fetch(`${gateway.url}/v1/responses`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: MODEL, stream: true, input: 'think [[sim:stall=350]]' }),
    });
    const text = await response.text();
    assert.match(text, /^event: response\.created\n/);
    assert.match(text, /\n: keep-alive\n\n/);
    assert.match(text, /event: response\.completed\n/);
  });
});

describe('AI SDK default provider openai(model) (Responses API)', () => {
  const provider = () => createOpenAI({ baseURL: `${gateway.url}/v1`, apiKey: KEY });
  const weatherTool = tool({
    description: 'Weather for a city',
    inputSchema: jsonSchema<{ city: string }>({
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
      additionalProperties: false,
    }),
    execute: async ({ city }) => ({ city, temp_c: 21 }),
  });

  test('generateText', async () => {
    const result = await generateText({
      model: provider()(MODEL),
      prompt: 'Say hello from the AI SDK',
      maxRetries: 0,
    });
    assert.match(result.text, /Say hello from the AI SDK/);
    assert.equal(result.finishReason, 'stop');
    assert.ok((result.usage.inputTokens ?? 0) > 0);
  });

  test('streamText', async () => {
    const result = streamText({
      model: provider()(MODEL),
      prompt: 'Stream hello from the AI SDK',
      maxRetries: 0,
    });
    const types: string[] = [];
    for await (const part of result.fullStream) {
      if (part.type === 'error') assert.fail(`error part: ${String(part.error)}`);
      types.push(part.type);
    }
    assert.ok(types.filter((type) => type === 'text-delta').length > 1);
    assert.match(await result.text, /Stream hello from the AI SDK/);
    assert.equal(await result.finishReason, 'stop');
    assert.ok(((await result.usage).outputTokens ?? 0) > 0);
  });

  test('a tool step: the call runs and the second step answers with its result', async () => {
    const result = await generateText({
      model: provider()(MODEL),
      prompt: 'What is the weather in Paris? Use the get_weather tool.',
      tools: { get_weather: weatherTool },
      stopWhen: stepCountIs(3),
      maxRetries: 0,
    });
    assert.equal(result.steps.length, 2);
    assert.equal(result.steps[0]!.finishReason, 'tool-calls');
    assert.deepEqual(result.steps[0]!.toolCalls[0]!.input, { city: 'example' });
    assert.equal(result.text, 'The tool returned: {"city":"example","temp_c":21}');
  });

  test('streamText with a tool step', async () => {
    const result = streamText({
      model: provider()('openai/gpt-oss-120b'),
      prompt: 'What is the weather in Paris? Use the get_weather tool.',
      tools: { get_weather: weatherTool },
      stopWhen: stepCountIs(3),
      maxRetries: 0,
    });
    const types: string[] = [];
    for await (const part of result.fullStream) {
      if (part.type === 'error') assert.fail(`error part: ${String(part.error)}`);
      types.push(part.type);
    }
    assert.ok(types.includes('reasoning-delta'), types.join(','));
    assert.ok(types.includes('tool-result'));
    assert.match(await result.text, /The tool returned/);
  });
});
