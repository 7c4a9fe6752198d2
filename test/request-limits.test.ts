// Limits on what one request body may hold, on every API surface, through HTTP: nesting deeper than
// MAX_JSON_DEPTH is a 400 json_too_deep naming the field (it used to overflow the stack when the
// watsonx body was serialised: a 500); more than MAX_JSON_CONTAINERS objects and arrays in a large
// body is a 400 json_too_complex before it is parsed (a 44 MB body of a million tools used to take
// the process past its heap limit); lists past MAX_TOOLS, MAX_MESSAGES and MAX_STOP_SEQUENCES are
// refused by the schema. Nothing refused reaches watsonx, and the gateway keeps serving.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  deepPath,
  MAX_JSON_CONTAINERS,
  MAX_JSON_DEPTH,
  nestsDeeperThan,
  PRESCAN_BYTES,
  tooManyContainersIn,
} from '../src/server/json-body.ts';
import { MAX_MESSAGES, MAX_STOP_SEQUENCES, MAX_TOOLS } from '../src/server/request-limits.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const MODEL = 'ibm/granite-4-h-small';
const ANTHROPIC = { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' };
const JSON_HEADERS = { 'content-type': 'application/json' };

/** `{"a":{"a":…{}…}}`, `levels` objects deep. */
const objects = (levels: number) => '{"a":'.repeat(levels - 1) + '{}' + '}'.repeat(levels - 1);

let gateway: TestGateway;
before(async () => (gateway = await startTestGateway()));
after(() => gateway.close());

const post = (url: string, payload: string, headers: Record<string, string> = JSON_HEADERS) =>
  gateway.inject({ method: 'POST', url, headers, payload });

/** The error of either envelope: OpenAI's `{error:{code,param}}` or Anthropic's `{type:'error',error}`. */
function errorOf(body: string): { message: string; code?: string; param?: string | null; type: string } {
  return (JSON.parse(body) as { error: { message: string; code?: string; param?: string; type: string } })
    .error;
}

describe('nesting deeper than MAX_JSON_DEPTH: 400 json_too_deep naming the field, nothing sent upstream', () => {
  const deep = objects(100_000);
  const placements: Array<{ label: string; url: string; body: string; param: RegExp; anthropic?: boolean }> =
    [
      {
        label: 'chat tools[].function.parameters',
        url: '/v1/chat/completions',
        body: `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":${deep}}}]}`,
        param: /^tools\[0\]\.function\.parameters\.a\.a…$/,
      },
      {
        label: 'chat response_format.json_schema.schema',
        url: '/v1/chat/completions',
        body: `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}],"response_format":{"type":"json_schema","json_schema":{"name":"x","schema":${deep}}}}`,
        param: /^response_format\.json_schema\.schema\.a\.a\.a…$/,
      },
      {
        label: 'an unknown chat field',
        url: '/v1/chat/completions',
        body: `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}],"extra":${deep}}`,
        param: /^extra\.a\.a/,
      },
      {
        label: 'Responses tools[].parameters',
        url: '/v1/responses',
        body: `{"model":"${MODEL}","input":"hi","tools":[{"type":"function","name":"f","parameters":${deep}}]}`,
        param: /^tools\[0\]\.parameters\.a/,
      },
      {
        label: 'Responses text.format.schema',
        url: '/v1/responses',
        body: `{"model":"${MODEL}","input":"hi","text":{"format":{"type":"json_schema","name":"x","schema":${deep}}}}`,
        param: /^text\.format\.schema\.a/,
      },
      {
        label: 'Anthropic tools[].input_schema',
        url: '/v1/messages',
        body: `{"model":"${MODEL}","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"f","input_schema":${deep}}]}`,
        param: /^tools\[0\]\.input_schema\.a/,
        anthropic: true,
      },
      {
        label: 'Anthropic tool_use input in the history',
        url: '/v1/messages',
        body: `{"model":"${MODEL}","max_tokens":10,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":[{"type":"tool_use","id":"t1","name":"f","input":${deep}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t1","content":"ok"}]}]}`,
        param: /^messages\[1\]\.content\[0\]\.input\.a/,
        anthropic: true,
      },
      {
        label: 'embeddings input (nested arrays)',
        url: '/v1/embeddings',
        body: `{"model":"ibm/slate-30m-english-rtrvr","input":${'['.repeat(100_000)}${']'.repeat(100_000)}}`,
        param: /^input\[0\]\[0\]\[0\]\[0\]\[0\]…$/,
      },
    ];
  for (const placement of placements) {
    test(placement.label, async () => {
      const before = gateway.inferenceRequests().length;
      const response = await post(
        placement.url,
        placement.body,
        placement.anthropic ? ANTHROPIC : JSON_HEADERS,
      );
      assert.equal(response.statusCode, 400, response.body);
      const error = errorOf(response.body);
      if (placement.anthropic) {
        assert.equal(error.type, 'invalid_request_error');
        assert.match(
          error.message,
          new RegExp(`more than ${MAX_JSON_DEPTH} levels deep \\(at tools|messages`),
        );
      } else {
        assert.equal(error.code, 'json_too_deep');
        assert.match(String(error.param), placement.param);
      }
      assert.equal(gateway.inferenceRequests().length, before);
    });
  }

  test('exactly MAX_JSON_DEPTH levels are served; one more is refused', async () => {
    // The body, tools, tools[0] and function are 4 levels; `parameters` is the 5th.
    const body = (levels: number) =>
      `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}],"tools":[{"type":"function","function":{"name":"f","parameters":${objects(levels)}}}]}`;
    const served = await post('/v1/chat/completions', body(MAX_JSON_DEPTH - 4));
    assert.equal(served.statusCode, 200, served.body);
    const refused = await post('/v1/chat/completions', body(MAX_JSON_DEPTH - 3));
    assert.equal(refused.statusCode, 400, refused.body);
    assert.equal(errorOf(refused.body).code, 'json_too_deep');
  });

  test('deep JSON inside a string (tool-call arguments) is text, not nesting: relayed as it is', async () => {
    const response = await post(
      '/v1/chat/completions',
      JSON.stringify({
        model: MODEL,
        messages: [
          { role: 'user', content: 'hi' },
          {
            role: 'assistant',
            tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: objects(5_000) } }],
          },
          { role: 'tool', tool_call_id: 'c1', content: 'ok' },
        ],
      }),
    );
    assert.equal(response.statusCode, 200, response.body);
  });
});

describe('more than MAX_JSON_CONTAINERS objects and arrays: refused before parsing', () => {
  test('a 44 MB body of a million tools: 400 json_too_complex, nothing sent upstream, still serving', async () => {
    const tools = '{"type":"function","function":{"name":"t"}},'.repeat(1_000_000).slice(0, -1);
    const body = `{"model":"${MODEL}","messages":[{"role":"user","content":"hi"}],"tools":[${tools}]}`;
    assert.ok(body.length > 40 * 1024 * 1024);
    const before = gateway.inferenceRequests().length;
    const response = await post('/v1/chat/completions', body);
    assert.equal(response.statusCode, 400, response.body.slice(0, 300));
    const error = errorOf(response.body);
    assert.equal(error.code, 'json_too_complex');
    assert.match(error.message, new RegExp(`more than ${MAX_JSON_CONTAINERS}`));
    assert.equal(gateway.inferenceRequests().length, before);
    const next = await post(
      '/v1/chat/completions',
      JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }),
    );
    assert.equal(next.statusCode, 200);
  });

  test('the count skips strings: a large body whose text holds braces is served', async () => {
    const text = '{[{['.repeat(PRESCAN_BYTES / 2);
    const response = await post(
      '/v1/chat/completions',
      JSON.stringify({
        model: MODEL,
        messages: [{ role: 'user', content: `say \\"${text}\\" back` }],
        max_tokens: 5,
      }),
    );
    // The simulator's context window refuses the 2 MB prompt: that is watsonx's answer, not the gateway's.
    assert.notEqual(errorOf(response.body)?.code, 'json_too_complex', response.body.slice(0, 300));
  });
});

describe('list caps, refused by the schema with the field named', () => {
  const tool = { type: 'function', function: { name: 'f', parameters: { type: 'object' } } };
  const message = { role: 'user', content: 'hi' };
  const cases: Array<{ label: string; url: string; body: object; param: RegExp; anthropic?: boolean }> = [
    {
      label: `chat: ${MAX_TOOLS + 1} tools`,
      url: '/v1/chat/completions',
      body: { model: MODEL, messages: [message], tools: Array(MAX_TOOLS + 1).fill(tool) },
      param: /^tools$/,
    },
    {
      label: `chat: ${MAX_MESSAGES + 1} messages`,
      url: '/v1/chat/completions',
      body: { model: MODEL, messages: Array(MAX_MESSAGES + 1).fill(message) },
      param: /^messages$/,
    },
    {
      label: `chat: ${MAX_STOP_SEQUENCES + 1} stop sequences`,
      url: '/v1/chat/completions',
      body: { model: MODEL, messages: [message], stop: Array(MAX_STOP_SEQUENCES + 1).fill('x') },
      param: /^stop/,
    },
    {
      label: `completions: ${MAX_STOP_SEQUENCES + 1} stop sequences`,
      url: '/v1/completions',
      body: { model: MODEL, prompt: 'hi', stop: Array(MAX_STOP_SEQUENCES + 1).fill('x') },
      param: /^stop/,
    },
    {
      label: `Responses: ${MAX_TOOLS + 1} tools`,
      url: '/v1/responses',
      body: { model: MODEL, input: 'hi', tools: Array(MAX_TOOLS + 1).fill({ type: 'function', name: 'f' }) },
      param: /^tools$/,
    },
    {
      label: `Responses: ${MAX_MESSAGES + 1} input items`,
      url: '/v1/responses',
      body: { model: MODEL, input: Array(MAX_MESSAGES + 1).fill(message) },
      param: /^input$/,
    },
    {
      label: `Anthropic: ${MAX_TOOLS + 1} tools`,
      url: '/v1/messages',
      body: {
        model: MODEL,
        max_tokens: 5,
        messages: [message],
        tools: Array(MAX_TOOLS + 1).fill({ name: 'f', input_schema: { type: 'object' } }),
      },
      param: /tools/,
      anthropic: true,
    },
    {
      label: `Anthropic: ${MAX_MESSAGES + 1} messages`,
      url: '/v1/messages',
      body: { model: MODEL, max_tokens: 5, messages: Array(MAX_MESSAGES + 1).fill(message) },
      param: /messages/,
      anthropic: true,
    },
    {
      label: `Anthropic: ${MAX_STOP_SEQUENCES + 1} stop sequences`,
      url: '/v1/messages',
      body: {
        model: MODEL,
        max_tokens: 5,
        messages: [message],
        stop_sequences: Array(MAX_STOP_SEQUENCES + 1).fill('x'),
      },
      param: /stop_sequences/,
      anthropic: true,
    },
  ];
  for (const entry of cases) {
    test(entry.label, async () => {
      const before = gateway.inferenceRequests().length;
      const response = await post(
        entry.url,
        JSON.stringify(entry.body),
        entry.anthropic ? ANTHROPIC : JSON_HEADERS,
      );
      assert.equal(response.statusCode, 400, response.body.slice(0, 300));
      const error = errorOf(response.body);
      assert.equal(error.type, 'invalid_request_error');
      if (entry.anthropic) assert.match(error.message, entry.param);
      else assert.match(String(error.param), entry.param, response.body);
      assert.match(error.message, /more than|must NOT have more than|at most/i);
      assert.equal(gateway.inferenceRequests().length, before);
    });
  }

  test(`at the caps (${MAX_TOOLS} tools, ${MAX_STOP_SEQUENCES} stop sequences): served`, async () => {
    const response = await post(
      '/v1/chat/completions',
      JSON.stringify({
        model: MODEL,
        messages: [message],
        tools: Array(MAX_TOOLS).fill(tool),
        stop: Array(MAX_STOP_SEQUENCES).fill('zzz'),
      }),
    );
    assert.equal(response.statusCode, 200, response.body.slice(0, 300));
  });
});

describe('the checks themselves', () => {
  test('tooManyContainersIn counts objects and arrays outside strings only, escapes included', () => {
    assert.equal(tooManyContainersIn('[{},{},[]]', 4), false);
    assert.equal(tooManyContainersIn('[{},{},[],{}]', 4), true);
    assert.equal(tooManyContainersIn('["{{{{{{", "\\"[[[[", "\\\\"]', 1), false);
    assert.equal(tooManyContainersIn('["\\\\", []]', 1), true);
    // An unterminated string ends the count (the parser refuses the text afterwards).
    assert.equal(tooManyContainersIn('["[[[[[[', 1), false);
  });

  test('nestsDeeperThan and deepPath agree, and name the path', () => {
    const value = JSON.parse(`{"a":[1,{"b":${objects(10)}}]}`) as unknown;
    // a(2) → [ ](2) → {b}(3) → 10 more objects: 13 levels.
    assert.equal(nestsDeeperThan(value, 13), false);
    assert.equal(nestsDeeperThan(value, 12), true);
    assert.equal(deepPath(value, 12), 'a[1].b.a.a.a…');
    assert.equal(deepPath(value, 13), undefined);
    assert.equal(deepPath(JSON.parse('[[[1]]]'), 2), '[0][0]');
  });
});
