import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startSimulator, type Simulator } from '../src/simulator/index.ts';
import { argumentsFromSchema, NumberSource } from '../src/simulator/schema-value.ts';
import { estimateTokens, splitIntoPieces } from '../src/simulator/tokens.ts';

const VERSION = '2025-10-15';
const GRANT = 'urn:ibm:params:oauth:grant-type:apikey';
const SUM_TOOL = {
  type: 'function',
  function: {
    name: 'sum',
    description: 'Add two numbers',
    parameters: {
      type: 'object',
      properties: { a: { type: 'integer' }, b: { type: 'number' }, unit: { enum: ['cm', 'm'] } },
      required: ['a'],
    },
  },
};
const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, metric: { type: 'boolean' }, days: { type: 'array' } },
    },
  },
};

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

function chunksOf(events: SseEvent[]): any[] {
  return events.filter((event) => event.event === 'message').map((event) => JSON.parse(event.data));
}

async function iamToken(simulator: Simulator, apiKey = 'good-key'): Promise<Response> {
  return fetch(`${simulator.url}/identity/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
    body: new URLSearchParams({ grant_type: GRANT, apikey: apiKey }).toString(),
  });
}

async function accessToken(simulator: Simulator): Promise<string> {
  const response = await iamToken(simulator);
  assert.equal(response.status, 200);
  return ((await response.json()) as { access_token: string }).access_token;
}

function chatBody(content: string, extra: Record<string, unknown> = {}) {
  return {
    model_id: 'ibm/granite-4-h-small',
    project_id: '0b6d9c1e-1111-2222-3333-444455556666',
    messages: [{ role: 'user', content }],
    ...extra,
  };
}

interface CallOptions {
  token?: string | null;
  version?: string | null;
  stream?: boolean;
  raw?: string;
  signal?: AbortSignal;
}

async function call(simulator: Simulator, body: unknown, options: CallOptions = {}): Promise<Response> {
  const token = options.token === undefined ? await accessToken(simulator) : options.token;
  const path = options.stream ? '/ml/v1/text/chat_stream' : '/ml/v1/text/chat';
  const version = options.version === undefined ? VERSION : options.version;
  const query = version === null ? '' : `?version=${version}`;
  return fetch(`${simulator.url}${path}${query}`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === null ? {} : { authorization: `Bearer ${token}` }),
    },
    body: options.raw ?? JSON.stringify(body),
    signal: options.signal,
  });
}

async function stream(simulator: Simulator, body: unknown): Promise<{ text: string; events: SseEvent[] }> {
  const response = await call(simulator, body, { stream: true });
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
  const text = await response.text();
  return { text, events: parseSse(text) };
}

async function expectError(response: Response, status: number, code: string): Promise<any> {
  assert.equal(response.status, status);
  const body = (await response.json()) as any;
  assert.equal(body.status_code, status);
  assert.match(body.trace, /^[0-9a-f]{32}$/);
  assert.equal(body.errors.length, 1);
  assert.equal(body.errors[0].code, code);
  assert.equal(typeof body.errors[0].message, 'string');
  assert.match(body.errors[0].more_info, /^https:\/\/cloud\.ibm\.com\/apidocs\/watsonx-ai/);
  return body;
}

function contentOf(chunks: any[], index = 0): string {
  return chunks
    .filter((chunk) => chunk.choices[0]?.index === index)
    .map((chunk) => chunk.choices[0].delta.content ?? '')
    .join('');
}

describe('simulator: pure helpers', () => {
  it('splits text into one-token pieces that join back to the text', () => {
    const text = 'Hello, world: "quoted" 3.5 tokens  ';
    const pieces = splitIntoPieces(text);
    assert.equal(pieces.join(''), text);
    assert.equal(pieces.length, estimateTokens(text));
    assert.equal(estimateTokens('a b, c'), 4);
  });

  it('builds tool arguments from a schema and the numbers of a message', () => {
    const parameters = {
      type: 'object',
      properties: {
        count: { type: 'integer' },
        ratio: { type: 'number' },
        name: { type: 'string' },
        ok: { type: 'boolean' },
        mode: { type: 'string', enum: ['fast', 'slow'] },
        tags: { type: 'array', items: { type: 'string' } },
        inner: { type: 'object', properties: { depth: { type: 'integer' } } },
      },
    };
    assert.deepEqual(argumentsFromSchema(parameters, new NumberSource('take 7 and 2.5')), {
      count: 7,
      ratio: 2.5,
      name: 'example',
      ok: true,
      mode: 'fast',
      tags: [],
      inner: { depth: 1 },
    });
    assert.deepEqual(argumentsFromSchema(undefined, new NumberSource('1')), {});
    assert.deepEqual(argumentsFromSchema({ type: 'object' }, new NumberSource('1')), {});
  });
});

describe('simulator: IAM', () => {
  let simulator: Simulator;
  let clock = 1_767_225_600_000;
  before(async () => {
    simulator = await startSimulator({ now: () => clock, tokenTtlSeconds: 1200 });
  });
  after(() => simulator.close());

  it('issues a JWT with real iat/exp claims for a good key', async () => {
    const before = simulator.issuedTokens();
    const response = await iamToken(simulator, 'my-key');
    assert.equal(response.status, 200);
    const body = (await response.json()) as any;
    assert.equal(body.refresh_token, 'not_supported');
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.scope, 'ibm openid');
    assert.equal(body.expires_in, 1200);
    assert.equal(body.expiration, 1_767_225_600 + 1200);
    const parts = body.access_token.split('.');
    assert.equal(parts.length, 3);
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString());
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
    assert.equal(header.typ, 'JWT');
    assert.equal(claims.iat, 1_767_225_600);
    assert.equal(claims.exp, 1_767_225_600 + 1200);
    assert.equal(typeof claims.sub, 'string');
    assert.ok(!body.access_token.includes('my-key'));
    assert.equal(simulator.issuedTokens(), before + 1);
    const recorded = simulator.requests.at(-1)!;
    assert.equal(recorded.path, '/identity/token');
    assert.deepEqual(recorded.body, { grant_type: GRANT, apikey: 'my-key' });
  });

  it('answers 400 BXNIM0415E for an unknown key and an IAM-style 400 for missing fields', async () => {
    const before = simulator.issuedTokens();
    const bad = await iamToken(simulator, 'invalid-key');
    assert.equal(bad.status, 400);
    const body = (await bad.json()) as any;
    assert.equal(body.errorCode, 'BXNIM0415E');
    assert.equal(body.errorMessage, 'Provided API key could not be found.');
    assert.equal(body.context.requestType, 'incoming.Identity_Token');

    const missing = await fetch(`${simulator.url}/identity/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: `grant_type=${encodeURIComponent(GRANT)}`,
    });
    assert.equal(missing.status, 400);
    const missingBody = (await missing.json()) as any;
    assert.match(missingBody.errorCode, /^BXNIM\d{4}E$/);
    assert.match(missingBody.errorMessage, /apikey/);
    assert.equal(simulator.issuedTokens(), before);
  });

  it('accepts only acceptedApiKeys when they are set', async () => {
    const strict = await startSimulator({ acceptedApiKeys: ['only-this'] });
    try {
      assert.equal((await iamToken(strict, 'good-key')).status, 400);
      assert.equal((await iamToken(strict, 'only-this')).status, 200);
    } finally {
      await strict.close();
    }
  });

  it('answers forced IAM errors: 400 with the IAM body, others as plain text', async () => {
    simulator.enqueueFault({ kind: 'iam-error', status: 400 });
    simulator.enqueueFault({ kind: 'iam-error', status: 503, times: 2 });
    const first = await iamToken(simulator);
    assert.equal(first.status, 400);
    assert.equal(((await first.json()) as any).errorCode, 'BXNIM0415E');
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const response = await iamToken(simulator);
      assert.equal(response.status, 503);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
      assert.match(await response.text(), /503/);
    }
    assert.equal((await iamToken(simulator)).status, 200);
  });

  it('rejects a token once the clock passes its expiry', async () => {
    const token = await accessToken(simulator);
    assert.equal((await call(simulator, chatBody('hi'), { token })).status, 200);
    clock += 1200 * 1000;
    await expectError(await call(simulator, chatBody('hi'), { token }), 401, 'authentication_token_expired');
  });
});

describe('simulator: watsonx checks and errors', () => {
  let simulator: Simulator;
  before(async () => {
    simulator = await startSimulator();
  });
  after(() => simulator.close());

  it('answers 401 without a token or with an unknown one', async () => {
    await expectError(
      await call(simulator, chatBody('hi'), { token: null }),
      401,
      'authentication_token_not_valid',
    );
    await expectError(
      await call(simulator, chatBody('hi'), { token: 'a.b.c' }),
      401,
      'authentication_token_not_valid',
    );
  });

  it('answers 401 authentication_token_expired after expireTokens(), and new tokens work', async () => {
    const token = await accessToken(simulator);
    simulator.expireTokens();
    const body = await expectError(
      await call(simulator, chatBody('hi'), { token }),
      401,
      'authentication_token_expired',
    );
    assert.equal(body.errors[0].message, 'Failed to authenticate the request due to an expired token');
    assert.equal((await call(simulator, chatBody('hi'))).status, 200);
  });

  it('requires a version date', async () => {
    await expectError(
      await call(simulator, chatBody('hi'), { version: null }),
      400,
      'invalid_input_argument',
    );
    await expectError(
      await call(simulator, chatBody('hi'), { version: 'latest' }),
      400,
      'invalid_input_argument',
    );
  });

  it('requires exactly one of project_id / space_id, a model_id and messages', async () => {
    const { project_id: _project, ...noContainer } = chatBody('hi');
    await expectError(await call(simulator, noContainer), 400, 'json_validation_error');
    await expectError(
      await call(simulator, { ...chatBody('hi'), space_id: 'space' }),
      400,
      'json_validation_error',
    );
    assert.equal((await call(simulator, { ...noContainer, space_id: 'space' })).status, 200);
    const { model_id: _model, ...noModel } = chatBody('hi');
    const modelError = await expectError(await call(simulator, noModel), 400, 'json_validation_error');
    assert.match(modelError.errors[0].message, /model_id/);
    const { messages: _messages, ...noMessages } = chatBody('hi');
    const messagesError = await expectError(await call(simulator, noMessages), 400, 'json_validation_error');
    assert.match(messagesError.errors[0].message, /messages/);
  });

  it('answers json_type_error for malformed JSON', async () => {
    await expectError(await call(simulator, undefined, { raw: '{"model_id":' }), 400, 'json_type_error');
  });

  it('answers 404 model_not_supported in the watsonx error shape', async () => {
    const response = await call(simulator, chatBody('hi', { model_id: 'acme/nope' }));
    const body = await expectError(response, 404, 'model_not_supported');
    assert.deepEqual(Object.keys(body), ['errors', 'trace', 'status_code']);
    assert.equal(body.errors[0].message, "Model 'acme/nope' is not supported");
    assert.equal(body.errors[0].more_info, 'https://cloud.ibm.com/apidocs/watsonx-ai#text-chat');
  });

  it('answers 404 in the same shape for an unknown route', async () => {
    const token = await accessToken(simulator);
    const response = await fetch(`${simulator.url}/ml/v1/nothing?version=${VERSION}`, {
      headers: { authorization: `Bearer ${token}` },
    });
    await expectError(response, 404, 'not_found');
  });

  it('rejects a prompt longer than the model context with both numbers', async () => {
    const response = await call(simulator, chatBody('word '.repeat(140_000)));
    const body = await expectError(response, 400, 'invalid_input_argument');
    assert.match(body.errors[0].message, /maximum context length/);
    assert.match(body.errors[0].message, /140003/);
    assert.match(body.errors[0].message, /131072/);
  });

  it('rejects images for a model without vision and accepts them for a vision model', async () => {
    const content = [
      { type: 'text', text: 'What is this?' },
      { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } },
    ];
    const body = { ...chatBody(''), messages: [{ role: 'user', content }] };
    await expectError(await call(simulator, body), 400, 'model_no_support_for_function');
    const vision = await call(simulator, { ...body, model_id: 'meta-llama/llama-3-2-11b-vision-instruct' });
    assert.equal(vision.status, 200);
  });

  it('answers 429 rate_limit_reached_requests with rate-limit headers (fault and directive)', async () => {
    for (const trigger of ['fault', 'directive']) {
      if (trigger === 'fault') {
        simulator.enqueueFault({
          kind: 'http-error',
          status: 429,
          code: 'rate_limit_reached_requests',
          message: 'slow down',
          headers: { 'x-requests-limit-rate': '8', 'x-requests-limit-remaining': '0', 'Retry-After': '1' },
        });
      }
      const prompt = trigger === 'fault' ? 'hi' : 'hi [[sim:error=429]]';
      const response = await call(simulator, chatBody(prompt));
      const body = await expectError(response, 429, 'rate_limit_reached_requests');
      if (trigger === 'directive')
        assert.match(body.errors[0].message, /^Rate limit of 8 requests per 1s was reached/);
      assert.equal(response.headers.get('x-requests-limit-rate'), '8');
      assert.equal(response.headers.get('x-requests-limit-remaining'), '0');
      assert.equal(response.headers.get('retry-after'), '1');
    }
    assert.equal((await call(simulator, chatBody('hi'))).status, 200);
  });

  it('repeats an http-error fault `times` times, only for valid requests', async () => {
    simulator.enqueueFault({
      kind: 'http-error',
      status: 503,
      code: 'service_unavailable',
      message: 'x',
      times: 2,
    });
    await expectError(
      await call(simulator, chatBody('hi'), { token: null }),
      401,
      'authentication_token_not_valid',
    );
    await expectError(await call(simulator, chatBody('hi')), 503, 'service_unavailable');
    await expectError(await call(simulator, chatBody('hi'), { stream: true }), 503, 'service_unavailable');
    assert.equal((await call(simulator, chatBody('hi'))).status, 200);
  });
});

describe('simulator: chat answers', () => {
  let simulator: Simulator;
  const now = 1_767_225_600_123;
  before(async () => {
    simulator = await startSimulator({ now: () => now });
  });
  after(() => simulator.close());

  it('answers a text chat in the §3.2 shape with deterministic content and usage', async () => {
    const response = await call(simulator, chatBody('What is the capital of Italy?'));
    assert.equal(response.status, 200);
    const body = (await response.json()) as any;
    assert.deepEqual(Object.keys(body), [
      'id',
      'object',
      'model_id',
      'model',
      'choices',
      'created',
      'model_version',
      'created_at',
      'usage',
    ]);
    assert.match(body.id, /^chatcmpl-[0-9a-f]{32}$/);
    assert.equal(body.object, 'chat.completion');
    assert.equal(body.model_id, 'ibm/granite-4-h-small');
    assert.equal(body.model, 'ibm/granite-4-h-small');
    assert.equal(body.model_version, '4.0.0');
    assert.equal(body.created, 1_767_225_600);
    assert.equal(body.created_at, '2026-01-01T00:00:00.123Z');
    const content = 'Simulated answer from ibm/granite-4-h-small: you said "What is the capital of Italy?"';
    assert.deepEqual(body.choices, [
      { index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' },
    ]);
    assert.equal(body.usage.completion_tokens, estimateTokens(content));
    assert.equal(body.usage.prompt_tokens, 3 + estimateTokens('What is the capital of Italy?'));
    assert.equal(body.usage.total_tokens, body.usage.prompt_tokens + body.usage.completion_tokens);
    const recorded = simulator.requests.at(-1)!;
    assert.equal(recorded.path, '/ml/v1/text/chat');
    assert.deepEqual(recorded.query, { version: VERSION });
    assert.equal((recorded.body as any).model_id, 'ibm/granite-4-h-small');
    assert.equal(recorded.finished, true);
    assert.equal(recorded.aborted, false);
  });

  it('adds a disclaimer warning for non-IBM models', async () => {
    const body = (await (
      await call(simulator, chatBody('hi', { model_id: 'mistralai/mistral-large' }))
    ).json()) as any;
    assert.equal(body.model_version, '2.0.0');
    assert.equal(body.system.warnings[0].id, 'disclaimer_warning');
  });

  it('calls a tool with arguments built from its schema and the prompt numbers', async () => {
    const body = chatBody('Please sum 12 and 30.5', { tools: [SUM_TOOL, WEATHER_TOOL] });
    const first = (await (await call(simulator, body)).json()) as any;
    const second = (await (await call(simulator, body)).json()) as any;
    const choice = first.choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal('content' in choice.message, false);
    assert.equal(choice.message.tool_calls.length, 1);
    const [toolCall] = choice.message.tool_calls;
    assert.match(toolCall.id, /^chatcmpl-tool-[0-9a-f]{32}$/);
    assert.equal(toolCall.type, 'function');
    assert.equal(toolCall.function.name, 'sum');
    assert.deepEqual(JSON.parse(toolCall.function.arguments), { a: 12, b: 30.5, unit: 'cm' });
    assert.equal(second.choices[0].message.tool_calls[0].id, toolCall.id);
  });

  it('makes parallel calls for every tool mentioned, in order of mention, and honours tool_choice', async () => {
    const both = chatBody('get_weather for Rome, then sum 1 and 2', { tools: [SUM_TOOL, WEATHER_TOOL] });
    const calls = ((await (await call(simulator, both)).json()) as any).choices[0].message.tool_calls;
    assert.deepEqual(
      calls.map((entry: any) => entry.function.name),
      ['get_weather', 'sum'],
    );
    assert.deepEqual(JSON.parse(calls[0].function.arguments), { city: 'example', metric: true, days: [] });
    assert.notEqual(calls[0].id, calls[1].id);

    const chosen = chatBody('hello', {
      tools: [SUM_TOOL, WEATHER_TOOL],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
    });
    const chosenCalls = ((await (await call(simulator, chosen)).json()) as any).choices[0].message.tool_calls;
    assert.deepEqual(
      chosenCalls.map((entry: any) => entry.function.name),
      ['get_weather'],
    );
    const required = chatBody('hello', { tools: [SUM_TOOL, WEATHER_TOOL], tool_choice_option: 'required' });
    const requiredCalls = ((await (await call(simulator, required)).json()) as any).choices[0].message
      .tool_calls;
    assert.equal(requiredCalls[0].function.name, 'sum');
    const none = chatBody('sum 1 and 2', { tools: [SUM_TOOL], tool_choice_option: 'none' });
    const noneChoice = ((await (await call(simulator, none)).json()) as any).choices[0];
    assert.equal(noneChoice.finish_reason, 'stop');
    assert.equal(noneChoice.message.tool_calls, undefined);
  });

  it('quotes the tool result when the last message is a tool message', async () => {
    const body = {
      ...chatBody(''),
      tools: [SUM_TOOL],
      messages: [
        { role: 'user', content: 'sum 2 and 3' },
        {
          role: 'assistant',
          tool_calls: [
            { id: 'call-1', type: 'function', function: { name: 'sum', arguments: '{"a":2,"b":3}' } },
          ],
        },
        { role: 'tool', tool_call_id: 'call-1', content: '5' },
      ],
    };
    const choice = ((await (await call(simulator, body)).json()) as any).choices[0];
    assert.equal(choice.finish_reason, 'stop');
    assert.equal(choice.message.content, 'The tool returned: 5');
  });

  it('cuts the answer at max_completion_tokens with finish_reason length', async () => {
    const body = (await (
      await call(simulator, chatBody('hello there', { max_completion_tokens: 3 }))
    ).json()) as any;
    assert.equal(body.choices[0].finish_reason, 'length');
    assert.equal(body.choices[0].message.content, 'Simulated answer from');
    assert.equal(body.usage.completion_tokens, 3);
    const legacy = (await (await call(simulator, chatBody('hello there', { max_tokens: 2 }))).json()) as any;
    assert.equal(legacy.choices[0].message.content, 'Simulated answer');
  });

  it('stops with time_limit for time_limit <= 1 and obeys [[sim:finish=…]]', async () => {
    const limited = (await (await call(simulator, chatBody('hello', { time_limit: 1 }))).json()) as any;
    assert.equal(limited.choices[0].finish_reason, 'time_limit');
    assert.equal(limited.usage.completion_tokens, 1);
    const cancelled = (await (
      await call(simulator, chatBody('hello [[sim:finish=cancelled]]'))
    ).json()) as any;
    assert.equal(cancelled.choices[0].finish_reason, 'cancelled');
    assert.equal(
      cancelled.choices[0].message.content,
      'Simulated answer from ibm/granite-4-h-small: you said "hello"',
    );
  });

  it('[[sim:tool-args={…}]] gives the tool call exactly those arguments (an agent shell tool round trip)', async () => {
    const tools = [
      {
        type: 'function',
        function: {
          name: 'exec_command',
          parameters: { type: 'object', properties: { cmd: { type: 'string' }, shell: { type: 'string' } } },
        },
      },
    ];
    const body = chatBody('Run it with exec_command [[sim:tool-args={"cmd":"echo hi"}]]', { tools });
    const choice = ((await (await call(simulator, body)).json()) as any).choices[0];
    assert.equal(choice.finish_reason, 'tool_calls');
    assert.equal(choice.message.tool_calls[0].function.arguments, '{"cmd":"echo hi"}');
    const broken = chatBody('Run it with exec_command [[sim:tool-args=not json]]', { tools });
    const fallback = ((await (await call(simulator, broken)).json()) as any).choices[0];
    assert.equal(fallback.message.tool_calls[0].function.arguments, '{"cmd":"example","shell":"example"}');
  });

  it("quotes and reads the user's words without an agent's <system-reminder> blocks (Claude Code)", async () => {
    const text = '<system-reminder>\nAttribution: use Bash freely.\n</system-reminder>\nsay hi';
    const tools = [{ type: 'function', function: { name: 'Bash', parameters: { type: 'object' } } }];
    const choice = ((await (await call(simulator, chatBody(text, { tools }))).json()) as any).choices[0];
    assert.equal(choice.message.content, 'Simulated answer from ibm/granite-4-h-small: you said "say hi"');
  });

  it('answers JSON for response_format json_object and json_schema', async () => {
    const object = (await (
      await call(simulator, chatBody('hi', { response_format: { type: 'json_object' } }))
    ).json()) as any;
    assert.equal(typeof JSON.parse(object.choices[0].message.content), 'object');
    const schema = { type: 'object', properties: { age: { type: 'integer' }, name: { type: 'string' } } };
    const format = { type: 'json_schema', json_schema: { name: 'person', schema } };
    const typed = (await (
      await call(simulator, chatBody('I am 41', { response_format: format }))
    ).json()) as any;
    assert.deepEqual(JSON.parse(typed.choices[0].message.content), { age: 41, name: 'example' });
  });

  it('answers n choices and reasoning_content for reasoning models', async () => {
    const body = (await (
      await call(simulator, chatBody('hi', { model_id: 'openai/gpt-oss-120b', n: 2 }))
    ).json()) as any;
    assert.deepEqual(
      body.choices.map((choice: any) => choice.index),
      [0, 1],
    );
    assert.equal(typeof body.choices[0].message.reasoning_content, 'string');
    assert.ok(body.choices[0].message.reasoning_content.length > 0);
    assert.equal(body.model_version, undefined);
    assert.equal(body.system.warnings[0].id, 'disclaimer_warning');
  });
});

describe('simulator: chat streams', () => {
  let simulator: Simulator;
  before(async () => {
    simulator = await startSimulator();
  });
  after(() => simulator.close());

  it('streams in 2025 framing: ids 1..N, role chunk first, finish chunk, usage chunk last', async () => {
    const { text, events } = await stream(simulator, chatBody('Hello there'));
    assert.ok(text.endsWith('\n\n'));
    assert.ok(!text.includes('[DONE]'));
    assert.deepEqual(
      events.map((event) => event.id),
      events.map((_, position) => String(position + 1)),
    );
    assert.ok(events.every((event) => event.event === 'message'));
    const chunks = chunksOf(events);
    const ids = new Set(chunks.map((chunk) => chunk.id));
    assert.equal(ids.size, 1);
    assert.match([...ids][0], /^chatcmpl-[0-9a-f]{32}$/);
    assert.ok(
      chunks.every((chunk) => chunk.object === 'chat.completion.chunk' && chunk.model === chunk.model_id),
    );
    assert.deepEqual(chunks[0].choices, [
      { index: 0, finish_reason: null, delta: { role: 'assistant', content: '' } },
    ]);
    const finish = chunks.at(-2);
    assert.deepEqual(finish.choices, [{ index: 0, finish_reason: 'stop', delta: { content: '' } }]);
    const usage = chunks.at(-1);
    assert.deepEqual(usage.choices, []);
    const nonStream = (await (await call(simulator, chatBody('Hello there'))).json()) as any;
    assert.deepEqual(usage.usage, nonStream.usage);
    assert.equal(contentOf(chunks), nonStream.choices[0].message.content);
    assert.ok(chunks.length > 5, 'content arrives in several deltas');
    assert.ok(chunks.slice(1, -1).every((chunk) => chunk.usage === undefined));
  });

  it('interleaves the choices of n=2 (0, 1, 0, 1, …)', async () => {
    const { events } = await stream(simulator, chatBody('Hello there', { n: 2 }));
    const chunks = chunksOf(events).slice(0, -1);
    const order = chunks.map((chunk) => chunk.choices[0].index);
    assert.deepEqual(order.slice(0, 6), [0, 1, 0, 1, 0, 1]);
    assert.ok(chunks.every((chunk) => chunk.choices.length === 1));
    assert.deepEqual(
      chunks
        .filter((chunk) => chunk.choices[0].finish_reason !== null)
        .map((chunk) => chunk.choices[0].index),
      [0, 1],
    );
    assert.equal(contentOf(chunks, 0), 'Simulated answer from ibm/granite-4-h-small: you said "Hello there"');
    assert.equal(contentOf(chunks, 1), `${contentOf(chunks, 0)} (choice 1)`);
  });

  it('streams tool calls with an id only on the first delta and name "" on continuations', async () => {
    const { events } = await stream(simulator, chatBody('sum 4 and 5', { tools: [SUM_TOOL] }));
    const chunks = chunksOf(events);
    const toolDeltas = chunks
      .filter((chunk) => chunk.choices[0]?.delta.tool_calls)
      .map((chunk) => chunk.choices[0].delta.tool_calls[0]);
    assert.deepEqual(toolDeltas[0], {
      index: 0,
      id: toolDeltas[0].id,
      type: 'function',
      function: { name: 'sum', arguments: '' },
    });
    assert.match(toolDeltas[0].id, /^chatcmpl-tool-[0-9a-f]{32}$/);
    const continuations = toolDeltas.slice(1);
    assert.ok(continuations.length > 2, 'arguments arrive in several fragments');
    for (const delta of continuations) {
      assert.deepEqual(Object.keys(delta), ['index', 'function']);
      assert.equal(delta.function.name, '');
    }
    const argumentsText = continuations.map((delta) => delta.function.arguments).join('');
    assert.deepEqual(JSON.parse(argumentsText), { a: 4, b: 5, unit: 'cm' });
    assert.deepEqual(chunks.at(-2).choices, [{ index: 0, finish_reason: 'tool_calls', delta: {} }]);
  });

  it('streams reasoning_content first and finishes with {"reasoning_content":""} for gpt-oss', async () => {
    const { events } = await stream(simulator, chatBody('hi', { model_id: 'openai/gpt-oss-120b' }));
    const chunks = chunksOf(events);
    assert.equal(chunks[0].system.warnings[0].id, 'disclaimer_warning');
    const kinds = chunks.slice(1, -2).map((chunk) => Object.keys(chunk.choices[0].delta)[0]);
    const firstContent = kinds.indexOf('content');
    assert.ok(firstContent > 0);
    assert.ok(kinds.slice(0, firstContent).every((kind) => kind === 'reasoning_content'));
    assert.ok(kinds.slice(firstContent).every((kind) => kind === 'content'));
    assert.deepEqual(chunks.at(-2).choices[0].delta, { reasoning_content: '' });
  });

  it('streams 2024 framing: running usage, name in the second tool delta, close event', async () => {
    const { events } = await stream(
      simulator,
      chatBody('sum 1 and 2 [[sim:framing=2024]]', { tools: [SUM_TOOL] }),
    );
    const last = events.at(-1)!;
    assert.equal(last.event, 'close');
    assert.equal(last.data, '{}');
    assert.equal(last.id, String(events.length));
    const chunks = chunksOf(events);
    assert.ok(chunks.every((chunk) => chunk.object === undefined && chunk.model === undefined));
    assert.match(chunks[0].id, /^chat-[0-9a-f]{32}$/);
    assert.deepEqual(chunks[0].choices[0].delta, { role: 'assistant' });
    const prompt = chunks[0].usage.prompt_tokens;
    assert.deepEqual(chunks[0].usage, { prompt_tokens: prompt, total_tokens: prompt });
    const completions = chunks.slice(1).map((chunk) => chunk.usage.completion_tokens);
    assert.ok(completions.every((value, position) => position === 0 || value >= completions[position - 1]));
    const tools = chunks.filter((chunk) => chunk.choices[0]?.delta.tool_calls);
    assert.equal(tools[0].choices[0].delta.tool_calls[0].function.name, '');
    assert.match(tools[0].choices[0].delta.tool_calls[0].id, /^chatcmpl-tool-/);
    assert.equal(tools[1].choices[0].delta.tool_calls[0].function.name, 'sum');
    assert.equal(tools.at(-1).choices[0].finish_reason, 'tool_calls');
    assert.ok(tools.at(-1).choices[0].delta.tool_calls[0].function.arguments.length > 0);
    assert.deepEqual(chunks.at(-1).choices, []);
    assert.equal(chunks.at(-1).usage.completion_tokens, completions.at(-2));
  });

  it('adds a close event to 2025 framing with [[sim:close-event]]', async () => {
    const { events } = await stream(simulator, chatBody('hi [[sim:close-event]]'));
    assert.equal(events.at(-1)!.event, 'close');
    assert.deepEqual(JSON.parse(events.at(-2)!.data).choices, []);
  });

  for (const trigger of ['fault', 'directive'] as const) {
    it(`sends event: error after N events (${trigger})`, async () => {
      if (trigger === 'fault') simulator.enqueueFault({ kind: 'stream-error', afterEvents: 3 });
      const prompt = trigger === 'fault' ? 'Hello there' : 'Hello there [[sim:stream-error-after=3]]';
      const { text, events } = await stream(simulator, chatBody(prompt));
      assert.equal(events.length, 4);
      assert.deepEqual(
        events.slice(0, 3).map((event) => event.id),
        ['1', '2', '3'],
      );
      const error = events[3]!;
      assert.equal(error.event, 'error');
      assert.ok(text.includes('\nevent: error\ndata: {'));
      const body = JSON.parse(error.data);
      assert.equal(body.status_code, 500);
      assert.match(body.trace, /^[0-9a-f]{32}$/);
      assert.equal(typeof body.errors[0].code, 'string');
      assert.ok(chunksOf(events).every((chunk) => chunk.choices[0].finish_reason === null));
    });

    it(`truncates after N events without a finish_reason (${trigger})`, async () => {
      if (trigger === 'fault') simulator.enqueueFault({ kind: 'stream-truncate', afterEvents: 2 });
      const prompt = trigger === 'fault' ? 'Hello there' : 'Hello there [[sim:truncate-after=2]]';
      const { events } = await stream(simulator, chatBody(prompt));
      assert.equal(events.length, 2);
      assert.ok(events.every((event) => event.event === 'message'));
      assert.ok(chunksOf(events).every((chunk) => chunk.choices[0].finish_reason === null));
    });

    it(`stalls before the first event with headers sent at once (${trigger})`, async () => {
      if (trigger === 'fault') simulator.enqueueFault({ kind: 'stall', ms: 300 });
      const prompt = trigger === 'fault' ? 'hi' : 'hi [[sim:stall=300]]';
      const started = performance.now();
      const response = await call(simulator, chatBody(prompt), { stream: true });
      const headersAt = performance.now() - started;
      assert.equal(response.status, 200);
      const reader = response.body!.getReader();
      await reader.read();
      const firstEventAt = performance.now() - started;
      await reader.cancel();
      assert.ok(headersAt < 250, `headers after ${headersAt} ms`);
      assert.ok(firstEventAt >= 280, `first event after ${firstEventAt} ms`);
    });
  }

  it('stalls a non-stream answer', async () => {
    simulator.enqueueFault({ kind: 'stall', ms: 250 });
    const started = performance.now();
    const response = await call(simulator, chatBody('hi'));
    assert.equal(response.status, 200);
    await response.json();
    assert.ok(performance.now() - started >= 230);
  });

  it('keeps stream faults for the next stream request', async () => {
    simulator.enqueueFault({ kind: 'stream-truncate', afterEvents: 1 });
    assert.equal((await call(simulator, chatBody('hi'))).status, 200);
    const { events } = await stream(simulator, chatBody('hi'));
    assert.equal(events.length, 1);
    const { events: normal } = await stream(simulator, chatBody('hi'));
    assert.deepEqual(JSON.parse(normal.at(-1)!.data).choices, []);
  });
});

describe('simulator: client abort', () => {
  let simulator: Simulator;
  before(async () => {
    simulator = await startSimulator({ chunkDelayMs: 40 });
  });
  after(() => simulator.close());

  it('stops writing and records aborted when the client goes away mid-stream', async () => {
    const controller = new AbortController();
    const response = await call(simulator, chatBody('a fairly long prompt to stream slowly'), {
      stream: true,
      signal: controller.signal,
    });
    const reader = response.body!.getReader();
    const first = await reader.read();
    assert.ok(new TextDecoder().decode(first.value).startsWith('id: 1\n'));
    controller.abort();
    await reader.read().catch(() => undefined);
    const recorded = simulator.requests.at(-1)!;
    const deadline = Date.now() + 2000;
    while (!recorded.aborted && Date.now() < deadline)
      await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(recorded.path, '/ml/v1/text/chat_stream');
    assert.equal(recorded.aborted, true);
    assert.equal(recorded.finished, false);
  });
});
