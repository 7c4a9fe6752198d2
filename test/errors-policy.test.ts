import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { toOpenAIError } from '../src/openai/errors.ts';
import { GatewayError, toGatewayError } from '../src/server/errors.ts';
import { ChatCompletionRequestSchema } from '../src/openai/schemas/chat.ts';
import { IamError, UpstreamError, WatsonxApiError } from '../src/watsonx/errors.ts';

function fixtureText(name: string): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');
}

/** The recorded watsonx error bodies (#14), by their first error code. */
const BODIES = new Map(
  fixtureText('watsonx-errors.jsonl')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => [(JSON.parse(line) as { errors: Array<{ code: string }> }).errors[0]!.code, line]),
);

function body(code: string): string {
  const text = BODIES.get(code);
  assert.ok(text, `no recorded body with code ${code}`);
  return text;
}

/** The parts of a GatewayError a client sees. */
function reply(error: GatewayError) {
  return { status: error.status, body: toOpenAIError(error).error, headers: error.headers };
}

test('GatewayError passes through unchanged and renders as the OpenAI envelope', () => {
  const error = new GatewayError(400, 'bad', { param: 'n', code: 'invalid_value' });
  assert.equal(toGatewayError(error), error);
  assert.equal(error.kind, 'invalid_request');
  assert.deepEqual(toOpenAIError(error), {
    error: { message: 'bad', type: 'invalid_request_error', param: 'n', code: 'invalid_value' },
  });
  assert.deepEqual(toOpenAIError(new GatewayError(500, 'x')), {
    error: { message: 'x', type: 'server_error', param: null, code: null },
  });
  const kinds: Array<[number, string, string]> = [
    [401, 'authentication', 'invalid_request_error'],
    [403, 'permission', 'permission_error'],
    [404, 'not_found', 'invalid_request_error'],
    [413, 'too_large', 'invalid_request_error'],
    [429, 'rate_limit_requests', 'requests'],
    [502, 'upstream', 'server_error'],
    [503, 'unavailable', 'server_error'],
    [504, 'timeout', 'server_error'],
  ];
  for (const [status, kind, type] of kinds) {
    const byStatus = new GatewayError(status, 'm');
    assert.deepEqual([byStatus.kind, toOpenAIError(byStatus).error.type], [kind, type], String(status));
  }
  assert.equal(toOpenAIError(new GatewayError(429, 'm', { kind: 'rate_limit_tokens' })).error.type, 'tokens');
  assert.equal(toOpenAIError(new GatewayError(429, 'm', { kind: 'quota' })).error.type, 'insufficient_quota');
});

test('a watsonx error message longer than 1000 characters reaches the client cut, the whole body stays for the log', () => {
  const long = `field x is wrong: ${'detail '.repeat(2000)}`;
  const upstream = WatsonxApiError.fromBody(
    400,
    JSON.stringify({ errors: [{ code: 'json_validation_error', message: long }], trace: 't' }),
  );
  const { body: error } = reply(toGatewayError(upstream));
  assert.ok(error.message.length < 1100, `${error.message.length} characters`);
  assert.match(error.message, /^watsonx\.ai: field x is wrong: detail detail/);
  assert.match(error.message, /…/);
  assert.ok(upstream.body.length >= 4000);
});

test('watsonx 400 json_validation_error → 400 invalid_request_error with watsonx message', () => {
  const upstream = WatsonxApiError.fromBody(400, body('json_validation_error'));
  const { status, body: error, headers } = reply(toGatewayError(upstream));
  assert.equal(status, 400);
  assert.equal(error.type, 'invalid_request_error');
  assert.equal(error.code, 'json_validation_error');
  assert.match(error.message, /Json document validation error: tools\[0\]\.function\.parameters/);
  assert.deepEqual(headers, {});
});

test('watsonx 400 with a target names it as param; 422 also becomes 400', () => {
  const targeted = JSON.stringify({
    errors: [
      {
        code: 'invalid_input_argument',
        message: 'Invalid input argument for Model',
        target: { type: 'field', name: 'max_completion_tokens' },
      },
    ],
    trace: 'abc',
    status_code: 400,
  });
  assert.equal(toGatewayError(WatsonxApiError.fromBody(400, targeted)).param, 'max_completion_tokens');
  const entity = JSON.stringify({
    errors: [{ code: 'invalid_request_entity', message: 'Bad entity' }],
    status_code: 422,
  });
  const converted = reply(toGatewayError(WatsonxApiError.fromBody(422, entity)));
  assert.equal(converted.status, 400);
  assert.equal(converted.body.code, 'invalid_request_entity');
});

test('watsonx 404 model_not_supported → 404 model_not_found, param model', () => {
  const { status, body: error } = reply(
    toGatewayError(WatsonxApiError.fromBody(404, body('model_not_supported'))),
  );
  assert.equal(status, 404);
  assert.deepEqual(
    { type: error.type, code: error.code, param: error.param },
    { type: 'invalid_request_error', code: 'model_not_found', param: 'model' },
  );
  assert.match(error.message, /Model 'ibm\/ibm-granite-4\.0-h-small' is not supported/);
});

test('watsonx 429 → 429 rate_limit_exceeded with retry-after and retry-after-ms', () => {
  const withHeader = (retryAfter: string | undefined) =>
    reply(toGatewayError(WatsonxApiError.fromBody(429, body('rate_limit_reached_requests'), { retryAfter })));

  const twoSeconds = withHeader('2');
  assert.equal(twoSeconds.status, 429);
  assert.deepEqual(
    { type: twoSeconds.body.type, code: twoSeconds.body.code },
    { type: 'requests', code: 'rate_limit_exceeded' },
  );
  assert.match(twoSeconds.body.message, /Rate limit of 2 requests per 1s was reached/);
  assert.deepEqual(twoSeconds.headers, { 'retry-after': '2', 'retry-after-ms': '2000' });
  assert.deepEqual(withHeader('1.5').headers, { 'retry-after': '2', 'retry-after-ms': '1500' });

  const date = withHeader(new Date(Date.now() + 30_000).toUTCString()).headers;
  assert.ok(Number(date['retry-after']) >= 29 && Number(date['retry-after']) <= 30, date['retry-after']);

  // watsonx's Retry-After is not documented; clients still get a delay (its limits are per second).
  assert.deepEqual(withHeader(undefined).headers, { 'retry-after': '1', 'retry-after-ms': '1000' });
  assert.deepEqual(withHeader('soon').headers, { 'retry-after': '1', 'retry-after-ms': '1000' });
});

test('watsonx 429 token_quota_reached → 429 insufficient_quota', () => {
  const quota = JSON.stringify({
    errors: [{ code: 'token_quota_reached', message: 'Token quota reached' }],
    status_code: 429,
  });
  const { status, body: error, headers } = reply(toGatewayError(WatsonxApiError.fromBody(429, quota)));
  assert.equal(status, 429);
  assert.deepEqual(
    { type: error.type, code: error.code },
    { type: 'insufficient_quota', code: 'insufficient_quota' },
  );
  // A spent quota does not come back in a second: no invented Retry-After.
  assert.deepEqual(headers, {});
});

test('watsonx 401/403 → 502 upstream_auth_failed that clients must not retry', () => {
  const cases: Array<[number, string]> = [
    [401, body('authentication_token_expired')],
    // Recorded printed as a JavaScript object, not JSON: still a 403 from watsonx.
    [403, fixtureText('watsonx-error-403-js-object.txt')],
  ];
  for (const [upstreamStatus, text] of cases) {
    const {
      status,
      body: error,
      headers,
    } = reply(toGatewayError(WatsonxApiError.fromBody(upstreamStatus, text)));
    assert.equal(status, 502, String(upstreamStatus));
    assert.deepEqual(
      { type: error.type, code: error.code },
      { type: 'server_error', code: 'upstream_auth_failed' },
    );
    assert.deepEqual(headers, { 'x-should-retry': 'false' });
    assert.match(error.message, new RegExp(`HTTP ${upstreamStatus}`));
  }
});

test('watsonx 5xx → 502, 503 and 504 kept, as retryable server errors', () => {
  const cases: Array<[number, number]> = [
    [500, 502],
    [502, 502],
    [503, 503],
    [504, 504],
    [520, 502],
  ];
  for (const [upstreamStatus, expected] of cases) {
    const {
      status,
      body: error,
      headers,
    } = reply(
      toGatewayError(WatsonxApiError.fromBody(upstreamStatus, '<html><body>upstream error</body></html>')),
    );
    assert.equal(status, expected, String(upstreamStatus));
    assert.deepEqual(
      { type: error.type, code: error.code },
      { type: 'server_error', code: 'upstream_error' },
    );
    assert.match(error.message, new RegExp(`upstream HTTP ${upstreamStatus}`));
    assert.ok(!('x-should-retry' in headers));
  }
  const retryLater = WatsonxApiError.fromBody(503, '', { retryAfter: '7' });
  assert.equal(toGatewayError(retryLater).headers['retry-after'], '7');
});

test('context-length messages → 400 context_length_exceeded, param messages', () => {
  const messages = [
    "This model's maximum context length is 8192 tokens. However, you requested 9000 tokens",
    'The input (9000 tokens) exceeds the max_sequence_length of 8192',
    'Too many input tokens for model ibm/granite-4-h-small',
  ];
  for (const message of messages) {
    const text = JSON.stringify({ errors: [{ code: 'invalid_input_argument', message }], status_code: 400 });
    const { status, body: error } = reply(toGatewayError(WatsonxApiError.fromBody(400, text)));
    assert.equal(status, 400, message);
    assert.deepEqual(
      { type: error.type, code: error.code, param: error.param },
      { type: 'invalid_request_error', code: 'context_length_exceeded', param: 'messages' },
    );
    assert.match(error.message, /maximum context length/);
    assert.ok(error.message.includes(message));
  }
});

test('IAM rejected → 502 upstream_auth_failed (no retry); unreachable → 503', () => {
  const rejected = reply(
    toGatewayError(new IamError('rejected', 'Provided API key could not be found.', { status: 400 })),
  );
  assert.equal(rejected.status, 502);
  assert.equal(rejected.body.code, 'upstream_auth_failed');
  assert.deepEqual(rejected.headers, { 'x-should-retry': 'false' });
  const unreachable = reply(toGatewayError(new IamError('unreachable', 'connect ECONNREFUSED')));
  assert.equal(unreachable.status, 503);
  assert.deepEqual(
    { type: unreachable.body.type, code: unreachable.body.code },
    { type: 'server_error', code: 'iam_unavailable' },
  );
});

test('upstream timeout → 504; connection failure → 502', () => {
  const timeout = reply(toGatewayError(new UpstreamError('timeout', 'Headers Timeout Error')));
  assert.equal(timeout.status, 504);
  assert.equal(timeout.body.code, 'upstream_timeout');
  const connection = reply(toGatewayError(new UpstreamError('connection', 'ECONNRESET')));
  assert.equal(connection.status, 502);
  assert.equal(connection.body.code, 'upstream_unreachable');
});

test('anything else → 500 internal_error, without leaking the original message', () => {
  for (const thrown of [new Error('secret detail at /srv/app'), 'a string', undefined, { statusCode: 503 }]) {
    const { status, body: error } = reply(toGatewayError(thrown));
    assert.equal(status, 500);
    assert.deepEqual(
      { type: error.type, code: error.code },
      { type: 'server_error', code: 'internal_error' },
    );
    assert.ok(!error.message.includes('secret'));
  }
});

test('fastify-shaped validation errors → 400 with the JSON path as param', () => {
  const validation = (instancePath: string, params: Record<string, unknown> = {}) => ({
    statusCode: 400,
    code: 'FST_ERR_VALIDATION',
    validationContext: 'body',
    validation: [{ instancePath, keyword: 'x', params, message: 'is wrong' }],
  });
  const cases: Array<[object, string | null]> = [
    [validation('/messages/0/role'), 'messages[0].role'],
    [validation('/messages/0', { missingProperty: 'role' }), 'messages[0].role'],
    [validation('', { missingProperty: 'model' }), 'model'],
    [validation('/messages/2/content/1/image_url/url'), 'messages[2].content[1].image_url.url'],
    [validation(''), null],
  ];
  for (const [error, param] of cases) {
    const converted = toGatewayError(error);
    assert.equal(converted.status, 400);
    assert.deepEqual(
      { type: toOpenAIError(converted).error.type, code: converted.code, param: converted.param },
      { type: 'invalid_request_error', code: 'invalid_value', param },
    );
    assert.match(converted.message, /is wrong/);
  }
});

test('validation errors from a real Fastify route with the chat schema name the field', async () => {
  const app = Fastify();
  const captured: unknown[] = [];
  app.setErrorHandler((error, _request, response) => {
    captured.push(error);
    return response.status(400).send({});
  });
  app.post('/v1/chat/completions', { schema: { body: ChatCompletionRequestSchema } }, async () => ({}));
  const bodies = [
    { model: 'm', messages: [{ role: 'robot', content: 'hi' }] },
    { model: 'm', messages: [{ content: 'hi' }] },
    { messages: [{ role: 'user', content: 'hi' }] },
    { model: 'm', messages: [{ role: 'user', content: 'hi' }], temperature: 5 },
  ];
  for (const payload of bodies) await app.inject({ method: 'POST', url: '/v1/chat/completions', payload });
  await app.close();
  assert.deepEqual(
    captured.map((error) => toGatewayError(error).param),
    ['messages[0].role', 'messages[0].role', 'model', 'temperature'],
  );
  assert.ok(captured.every((error) => toGatewayError(error).status === 400));
});

test('fastify body errors: bad JSON → 400 invalid_json, too large → 413, other 4xx keep their status', () => {
  const invalidJson = toGatewayError({
    statusCode: 400,
    code: 'FST_ERR_CTP_INVALID_JSON_BODY',
    message: 'Body is not valid JSON',
  });
  assert.deepEqual([invalidJson.status, invalidJson.code], [400, 'invalid_json']);
  const tooLarge = toGatewayError({
    statusCode: 413,
    code: 'FST_ERR_CTP_BODY_TOO_LARGE',
    message: 'too large',
  });
  assert.deepEqual(
    [tooLarge.status, tooLarge.code, toOpenAIError(tooLarge).error.type],
    [413, 'request_too_large', 'invalid_request_error'],
  );
  const mediaType = toGatewayError({ statusCode: 415, code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', message: 'x' });
  assert.equal(mediaType.status, 415);
  const other = toGatewayError({ statusCode: 405, code: 'FST_ERR_X', message: 'Method not allowed' });
  assert.deepEqual([other.status, other.code, other.message], [405, 'FST_ERR_X', 'Method not allowed']);
});

test('WatsonxApiError.fromBody reads the recorded bodies', () => {
  const error = WatsonxApiError.fromBody(404, body('model_not_supported'));
  assert.equal(error.status, 404);
  assert.equal(error.code, 'model_not_supported');
  assert.equal(error.trace, '5d5da95cd9bca97ffd3a286ac69ab711');
  assert.equal(error.message, "Model 'ibm/ibm-granite-4.0-h-small' is not supported");
  assert.equal(error.errors[0]!.more_info, 'https://cloud.ibm.com/apidocs/watsonx-ai#text-chat');
  assert.equal(error.body, body('model_not_supported'));
});

test('WatsonxApiError.fromBody: several errors are joined; a flat {message, code} body is read', () => {
  const two = JSON.stringify({
    errors: [
      { code: 'a', message: 'first' },
      { code: 'b', message: 'second' },
    ],
  });
  const joined = WatsonxApiError.fromBody(400, two);
  assert.equal(joined.message, 'first; second');
  assert.equal(joined.code, 'a');
  const flat = WatsonxApiError.fromBody(
    500,
    JSON.stringify({ code: 'internal', message: 'Something broke' }),
  );
  assert.deepEqual([flat.message, flat.code], ['Something broke', 'internal']);
});

test('WatsonxApiError.fromBody tolerates empty, HTML and other non-JSON bodies', () => {
  const empty = WatsonxApiError.fromBody(502, '');
  assert.deepEqual([empty.message, empty.code, empty.errors, empty.body], ['HTTP 502', undefined, [], '']);
  assert.equal(WatsonxApiError.fromBody(503, '   \n').message, 'HTTP 503');

  const html =
    '<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>' + 'x'.repeat(5000) + '</body></html>';
  const fromHtml = WatsonxApiError.fromBody(502, html);
  assert.equal(fromHtml.code, undefined);
  // An HTML error page is not shown to API clients; the raw body is kept for logs.
  assert.equal(fromHtml.message, 'HTTP 502');
  assert.equal(fromHtml.body.length, 4096);

  const text = WatsonxApiError.fromBody(500, 'upstream connect error or disconnect/reset before headers');
  assert.equal(text.message, 'upstream connect error or disconnect/reset before headers');

  const midStream = WatsonxApiError.fromBody(500, 'error', { midStream: true });
  assert.deepEqual([midStream.message, midStream.midStream], ['error', true]);

  for (const odd of ['null', '[]', '42', '{"errors":"nope"}']) {
    const error = WatsonxApiError.fromBody(500, odd);
    assert.equal(error.message, odd, odd);
    assert.equal(toGatewayError(error).status, 502, odd);
  }
});
