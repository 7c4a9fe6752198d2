// Deployments through HTTP against the simulator, whose deployment routes refuse model_id,
// project_id and space_id in the body and a prompt template's system message, as watsonx does:
// model `deployment/<id or serving name>` (or DEPLOYMENT_ALIASES / MODEL_MAP_*) on chat (plain and
// streamed), completions (plain and streamed), Responses and Anthropic Messages; embeddings refused;
// ready deployments listed in /v1/models; a listing failure leaves /v1/models working.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SIMULATED_DEPLOYMENTS } from '../src/simulator/deployments.ts';
import { UpstreamError } from '../src/watsonx/errors.ts';
import { PROJECT_ID, startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { jwtClaims, startAuthGateway, subjectOf } from './helpers/auth-gateway.ts';
import { accessToken } from './helpers/simulator.ts';
import { parseOpenAIStream } from './helpers/sse.ts';

const CHAT_DEPLOYMENT = SIMULATED_DEPLOYMENTS[0]!; // serving name granite_chat, no prompt template
const TEMPLATE_DEPLOYMENT = SIMULATED_DEPLOYMENTS[1]!; // prompt template, no serving name
const STARTING_DEPLOYMENT = SIMULATED_DEPLOYMENTS[2]!; // initializing

let gateway: TestGateway;

before(async () => {
  gateway = await startTestGateway({
    env: {
      DEPLOYMENT_ALIASES: `support-bot=${TEMPLATE_DEPLOYMENT.id}, granite-dedicated=deployment/granite_chat`,
      MODEL_MAP_TUNED: 'deployment/granite_chat',
    },
  });
});
after(() => gateway.close());

function post(url: string, payload: object, headers: Record<string, string> = {}) {
  return gateway.inject({ method: 'POST', url, payload, headers });
}

/** The last call to a deployment the simulator received. */
function lastDeploymentCall() {
  const calls = gateway.simulator.requests.filter((request) =>
    request.path.startsWith('/ml/v1/deployments/'),
  );
  return calls.at(-1)!;
}

function assertCleanBody(body: unknown) {
  const record = body as Record<string, unknown>;
  for (const field of ['model_id', 'model', 'project_id', 'space_id']) {
    assert.equal(field in record, false, `${field} must not be in a deployment body`);
  }
}

describe('the simulator holds watsonx’s body rules (so the gateway tests below can fail)', () => {
  const url = (idOrName: string, operation: string) =>
    `${gateway.simulator.url}/ml/v1/deployments/${idOrName}/text/${operation}?version=2026-08-05`;
  const call = async (target: string, body: object) => {
    const token = await accessToken(gateway.simulator);
    return fetch(target, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  };
  const messages = [{ role: 'user', content: 'hi' }];

  test('model_id, project_id or space_id in the body → 400 json_validation_error', async () => {
    for (const extra of [
      { model_id: 'ibm/granite-4-h-small' },
      { project_id: PROJECT_ID },
      { space_id: PROJECT_ID },
    ]) {
      const response = await call(url('granite_chat', 'chat'), { messages, ...extra });
      assert.equal(response.status, 400);
      const body = (await response.json()) as {
        errors: Array<{ code: string; message: string; more_info: string }>;
      };
      assert.equal(body.errors[0]!.code, 'json_validation_error');
      assert.match(body.errors[0]!.message, /cannot be specified in the request body/);
      assert.match(body.errors[0]!.more_info, /#deployments-text-chat$/);
    }
    assert.equal((await call(url('granite_chat', 'chat'), { messages })).status, 200);
  });

  test('a prompt template refuses a system message; an unknown deployment is a 404; one still starting a 400', async () => {
    const system = await call(url(TEMPLATE_DEPLOYMENT.id, 'chat'), {
      messages: [{ role: 'system', content: 'Be brief.' }, ...messages],
    });
    assert.equal(system.status, 400);
    assert.match(await system.text(), /'system' cannot be specified/);
    assert.equal((await call(url('nope', 'chat'), { messages })).status, 404);
    assert.equal((await call(url(STARTING_DEPLOYMENT.id, 'generation'), { input: 'x' })).status, 400);
  });
});

describe('chat, completions, Responses and Messages reach the deployment with a clean body', () => {
  test('chat by serving name: /text/chat, no model_id or container, the system message kept (no prompt template)', async () => {
    const response = await post('/v1/chat/completions', {
      model: 'deployment/granite_chat',
      messages: [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: 'Hello' },
      ],
    });
    assert.equal(response.statusCode, 200, response.body);
    const completion = response.json();
    assert.equal(completion.model, 'deployment/granite_chat');
    assert.equal(typeof completion.choices[0].message.content, 'string');
    const upstream = lastDeploymentCall();
    assert.equal(upstream.path, '/ml/v1/deployments/granite_chat/text/chat');
    assert.equal(upstream.query.version, gateway.config.apiVersion);
    assertCleanBody(upstream.body);
    assert.deepEqual(
      (upstream.body as { messages: Array<{ role: string }> }).messages.map((message) => message.role),
      ['system', 'user'],
    );
  });

  test('chat streamed by id: /text/chat_stream, an OpenAI stream ending in [DONE]', async () => {
    const response = await post('/v1/chat/completions', {
      model: `deployment/${CHAT_DEPLOYMENT.id}`,
      messages: [{ role: 'user', content: 'Stream please' }],
      stream: true,
    });
    assert.equal(response.statusCode, 200, response.body);
    const stream = parseOpenAIStream(response.body);
    assert.equal(stream.done, true);
    const text = stream.chunks.map((chunk) => chunk.choices[0]?.delta?.content ?? '').join('');
    assert.ok(text.length > 0);
    const upstream = lastDeploymentCall();
    assert.equal(upstream.path, `/ml/v1/deployments/${CHAT_DEPLOYMENT.id}/text/chat_stream`);
    assertCleanBody(upstream.body);
  });

  test('a prompt-template deployment: the client’s system messages are merged into the first user message', async () => {
    const response = await post('/v1/chat/completions', {
      model: `deployment/${TEMPLATE_DEPLOYMENT.id}`,
      messages: [
        { role: 'system', content: 'Answer in French.' },
        { role: 'developer', content: 'Be brief.' },
        { role: 'user', content: 'Where is my parcel?' },
      ],
    });
    assert.equal(response.statusCode, 200, response.body);
    const upstream = lastDeploymentCall();
    assertCleanBody(upstream.body);
    const messages = (upstream.body as { messages: Array<{ role: string; content: string }> }).messages;
    assert.deepEqual(
      messages.map((message) => message.role),
      ['user'],
    );
    assert.equal(messages[0]!.content, 'Answer in French.\n\nBe brief.\n\nWhere is my parcel?');
  });

  test('completions: /text/generation and /text/generation_stream, without model_id or container', async () => {
    const plain = await post('/v1/completions', {
      model: 'deployment/granite_chat',
      prompt: 'Once upon a time',
    });
    assert.equal(plain.statusCode, 200, plain.body);
    assert.equal(typeof plain.json().choices[0].text, 'string');
    let upstream = lastDeploymentCall();
    assert.equal(upstream.path, '/ml/v1/deployments/granite_chat/text/generation');
    assertCleanBody(upstream.body);
    assert.equal((upstream.body as { input: string }).input, 'Once upon a time');

    const streamed = await post('/v1/completions', {
      model: 'deployment/granite_chat',
      prompt: 'Once upon a time',
      stream: true,
    });
    assert.equal(streamed.statusCode, 200, streamed.body);
    assert.equal(parseOpenAIStream(streamed.body).done, true);
    upstream = lastDeploymentCall();
    assert.equal(upstream.path, '/ml/v1/deployments/granite_chat/text/generation_stream');
    assertCleanBody(upstream.body);
  });

  test('Responses and Anthropic Messages go to the deployment too', async () => {
    const responses = await post('/v1/responses', {
      model: 'deployment/granite_chat',
      instructions: 'Be brief.',
      input: 'Hello',
    });
    assert.equal(responses.statusCode, 200, responses.body);
    assert.equal(responses.json().status, 'completed');
    let upstream = lastDeploymentCall();
    assert.equal(upstream.path, '/ml/v1/deployments/granite_chat/text/chat');
    assertCleanBody(upstream.body);

    const messages = await post(
      '/v1/messages',
      {
        model: `deployment/${TEMPLATE_DEPLOYMENT.id}`,
        system: 'Answer in French.',
        max_tokens: 100,
        messages: [{ role: 'user', content: 'Hello' }],
      },
      { 'anthropic-version': '2023-06-01' },
    );
    assert.equal(messages.statusCode, 200, messages.body);
    assert.equal(messages.json().type, 'message');
    upstream = lastDeploymentCall();
    assert.equal(upstream.path, `/ml/v1/deployments/${TEMPLATE_DEPLOYMENT.id}/text/chat`);
    assertCleanBody(upstream.body);
    assert.equal(
      (upstream.body as { messages: Array<{ role: string }> }).messages.some(
        (message) => message.role === 'system',
      ),
      false,
    );
  });

  test('a deployment named in a container header is still called without a container', async () => {
    const response = await post(
      '/v1/chat/completions',
      { model: 'deployment/granite_chat', messages: [{ role: 'user', content: 'hi' }] },
      { 'x-watsonx-space-id': '12345678-9abc-4def-8012-3456789abcde' },
    );
    assert.equal(response.statusCode, 200, response.body);
    assertCleanBody(lastDeploymentCall().body);
  });
});

describe('names and refusals', () => {
  test('DEPLOYMENT_ALIASES and MODEL_MAP_* name deployments; the response echoes the client’s name', async () => {
    const cases: Array<[string, string]> = [
      ['support-bot', `/ml/v1/deployments/${TEMPLATE_DEPLOYMENT.id}/text/chat`],
      ['granite-dedicated', '/ml/v1/deployments/granite_chat/text/chat'],
      ['tuned', '/ml/v1/deployments/granite_chat/text/chat'],
    ];
    for (const [model, path] of cases) {
      const response = await post('/v1/chat/completions', {
        model,
        messages: [
          { role: 'system', content: 'Be kind.' },
          { role: 'user', content: 'hi' },
        ],
      });
      assert.equal(response.statusCode, 200, `${model}: ${response.body}`);
      assert.equal(response.json().model, model);
      assert.equal(lastDeploymentCall().path, path);
      assertCleanBody(lastDeploymentCall().body);
    }
  });

  test('embeddings or rerank on a deployment → 400 model_not_supported, no upstream call (watsonx has no such endpoint)', async () => {
    const cases: Array<[string, object]> = [
      ['/v1/embeddings', { model: 'deployment/granite_chat', input: 'hi' }],
      ['/v1/rerank', { model: 'deployment/granite_chat', query: 'fox', documents: ['a fox'] }],
    ];
    for (const [url, payload] of cases) {
      const before = gateway.simulator.requests.length;
      const response = await post(url, payload);
      assert.equal(response.statusCode, 400, url);
      assert.match(response.body, /model_not_supported/);
      assert.match(response.body, /deployments serve chat and text generation/);
      assert.equal(gateway.simulator.requests.length, before);
    }
    const embeddings = await post('/v1/embeddings', { model: 'deployment/granite_chat', input: 'hi' });
    assert.equal(embeddings.json().error.param, 'model');
  });

  test('a malformed deployment name → 400 invalid_model; an unknown one → watsonx’s 404, passed on', async () => {
    for (const model of ['deployment/', 'deployment/../text/chat', 'deployment/a%2Fb', 'deployment/a b']) {
      const response = await post('/v1/chat/completions', {
        model,
        messages: [{ role: 'user', content: 'hi' }],
      });
      assert.equal(response.statusCode, 400, model);
      assert.equal(response.json().error.code, 'invalid_model', model);
    }
    const unknown = await post('/v1/chat/completions', {
      model: 'deployment/nope',
      messages: [{ role: 'user', content: 'hi' }],
    });
    assert.equal(unknown.statusCode, 404, unknown.body);
    assert.match(unknown.json().error.message, /nope/);
  });
});

describe('/v1/models', () => {
  test('lists the ready deployments of the configured project as deployment/<serving name or id>, with their base model', async () => {
    const response = await gateway.inject('/v1/models');
    assert.equal(response.statusCode, 200);
    const data = response.json().data as Array<{ id: string; owned_by: string; watsonx: any }>;
    const ids = data.map((model) => model.id);
    assert.ok(ids.includes('ibm/granite-4-h-small'), 'the catalogue is still there');
    assert.ok(ids.includes('deployment/granite_chat'));
    assert.ok(ids.includes(`deployment/${TEMPLATE_DEPLOYMENT.id}`));
    assert.equal(ids.includes('deployment/tuned_granite'), false, 'not ready: not listed');
    assert.equal(ids.includes(`deployment/${STARTING_DEPLOYMENT.id}`), false);

    const chat = data.find((model) => model.id === 'deployment/granite_chat')!;
    assert.equal(chat.watsonx.model_id, 'ibm/granite-4-h-small');
    assert.deepEqual(chat.watsonx.deployment, {
      id: CHAT_DEPLOYMENT.id,
      serving_name: 'granite_chat',
      name: CHAT_DEPLOYMENT.name,
      base_model_id: 'ibm/granite-4-h-small',
      prompt_template: false,
      asset_type: 'custom_foundation_model',
    });
    assert.ok(chat.watsonx.functions.includes('text_chat'));
    assert.equal(chat.watsonx.functions.includes('embedding'), false);
    assert.equal(typeof chat.watsonx.context_length, 'number', "the base model's limits");
    const template = data.find((model) => model.id === `deployment/${TEMPLATE_DEPLOYMENT.id}`)!;
    assert.equal(template.watsonx.deployment.prompt_template, true);

    const alias = data.find((model) => model.id === 'support-bot')!;
    assert.equal(alias.watsonx.alias_of, `deployment/${TEMPLATE_DEPLOYMENT.id}`);

    const listing = gateway.simulator.requests
      .filter((request) => request.path === '/ml/v4/deployments')
      .at(-1)!;
    assert.equal(listing.query.project_id, PROJECT_ID);
    assert.match(String(listing.headers.authorization), /^Bearer /);
  });

  test('GET /v1/models/deployment/<name> (raw or %2F-encoded) and an alias; an unknown deployment is a 404', async () => {
    for (const url of ['/v1/models/deployment/granite_chat', '/v1/models/deployment%2Fgranite_chat']) {
      const response = await gateway.inject(url);
      assert.equal(response.statusCode, 200, `${url}: ${response.body}`);
      assert.equal(response.json().id, 'deployment/granite_chat');
    }
    const alias = await gateway.inject('/v1/models/support-bot');
    assert.equal(alias.statusCode, 200, alias.body);
    assert.equal(alias.json().watsonx.deployment.id, TEMPLATE_DEPLOYMENT.id);
    assert.equal((await gateway.inject('/v1/models/deployment/nope')).statusCode, 404);
  });

  test('with X-Watsonx-Space-Id, the deployments of that space are listed', async () => {
    const space = '0f1e2d3c-4b5a-4968-8776-655443322110';
    const response = await gateway.inject({ url: '/v1/models', headers: { 'x-watsonx-space-id': space } });
    assert.equal(response.statusCode, 200);
    const listing = gateway.simulator.requests
      .filter((request) => request.path === '/ml/v4/deployments')
      .at(-1)!;
    assert.equal(listing.query.space_id, space);
  });
});

describe('/v1/models in Anthropic’s shape (anthropic-version)', () => {
  const anthropic = { 'anthropic-version': '2023-06-01' };

  test('lists the ready deployments and their aliases; one is retrieved by name', async () => {
    const response = await gateway.inject({ url: '/v1/models', headers: anthropic });
    assert.equal(response.statusCode, 200, response.body);
    const data = response.json().data as Array<{ type: string; id: string; display_name: string }>;
    const ids = data.map((model) => model.id);
    assert.ok(ids.includes('deployment/granite_chat'));
    assert.ok(ids.includes(`deployment/${TEMPLATE_DEPLOYMENT.id}`));
    assert.ok(ids.includes('support-bot'));
    assert.equal(ids.includes('deployment/tuned_granite'), false);
    const chat = data.find((model) => model.id === 'deployment/granite_chat')!;
    assert.equal(chat.type, 'model');
    assert.match(chat.display_name, /deployment of ibm\/granite-4-h-small/);

    const one = await gateway.inject({ url: '/v1/models/deployment/granite_chat', headers: anthropic });
    assert.equal(one.statusCode, 200, one.body);
    assert.equal(one.json().id, 'deployment/granite_chat');
    const missing = await gateway.inject({ url: '/v1/models/deployment/nope', headers: anthropic });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().type, 'error');
  });
});

describe('a failure to list deployments', () => {
  let failing: TestGateway;
  before(async () => {
    failing = await startTestGateway();
    // watsonx cannot list deployments (as with a token without access to the space).
    failing.upstream.client.listDeployments = async () => {
      throw new UpstreamError('connection', 'simulated: the deployments listing is unreachable');
    };
  });
  after(() => failing.close());

  test('/v1/models still answers with the catalogue', async () => {
    const response = await failing.inject('/v1/models');
    assert.equal(response.statusCode, 200, response.body);
    const ids = (response.json().data as Array<{ id: string }>).map((model) => model.id);
    assert.ok(ids.includes('ibm/granite-4-h-small'));
    assert.equal(ids.filter((id) => id.startsWith('deployment/')).length, 0);
  });

  test('a chat with a deployment is still sent (as is: its kind unknown)', async () => {
    const response = await failing.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      payload: { model: 'deployment/granite_chat', messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.equal(response.statusCode, 200, response.body);
  });
});

describe('each user with their own IBM key (UPSTREAM_CREDENTIALS=client)', () => {
  const ALICE = 'alice-ibm-cloud-api-key';
  const BOB = 'bob-ibm-cloud-api-key';

  test("deployments are listed with each user's own token, and one user's list is never served to another", async () => {
    const users = await startAuthGateway((url) => ({ UPSTREAM_CREDENTIALS: 'client', IBM_IAM_URL: url }), {
      acceptedApiKeys: [ALICE, BOB],
    });
    try {
      for (const key of [ALICE, BOB, ALICE]) {
        const response = await users.inject({
          url: '/v1/models',
          headers: { authorization: `Bearer ${key}` },
        });
        assert.equal(response.statusCode, 200, response.body);
        const ids = (response.json().data as Array<{ id: string }>).map((model) => model.id);
        assert.ok(ids.includes('deployment/granite_chat'));
      }
      const listings = users.simulator.requests.filter((request) => request.path === '/ml/v4/deployments');
      assert.deepEqual(
        listings.map((request) => jwtClaims(String(request.headers.authorization)).sub),
        [subjectOf(ALICE), subjectOf(BOB)],
        "one listing per user, each with that user's token (Alice's second request served from her cache)",
      );
      // A prompt-template lookup for a chat uses the user's own list too.
      const chat = await users.inject({
        method: 'POST',
        url: '/v1/chat/completions',
        headers: { authorization: `Bearer ${BOB}` },
        payload: {
          model: `deployment/${TEMPLATE_DEPLOYMENT.id}`,
          messages: [
            { role: 'system', content: 'Be brief.' },
            { role: 'user', content: 'hi' },
          ],
        },
      });
      assert.equal(chat.statusCode, 200, chat.body);
      const call = users.simulator.requests.at(-1)!;
      assert.equal(jwtClaims(String(call.headers.authorization)).sub, subjectOf(BOB));
      assertCleanBody(call.body);
    } finally {
      await users.close();
    }
  });
});
