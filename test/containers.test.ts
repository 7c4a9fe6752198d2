// Per-request projects and spaces: X-Watsonx-Project-Id / X-Watsonx-Space-Id (and IBM's
// X-IBM-Project-Id / X-IBM-Space-Id) override the configured container on every surface, the
// allow-lists refuse the others (403), and without a configured container a request must name one
// (400). Checked on the bodies the simulator received.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigError, parseConfig } from '../src/process/config.ts';
import { PROJECT_ID, startTestGateway, type TestGateway } from './helpers/gateway.ts';

const OTHER_PROJECT = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
const DENIED_PROJECT = 'ffffffff-0000-4111-8222-333333333333';
const SPACE = '12345678-9abc-4def-8012-3456789abcde';
const DENIED_SPACE = '87654321-cba9-4fed-8210-edcba9876543';
const CHAT_MODEL = 'ibm/granite-4-h-small';
const EMBEDDING_MODEL = 'ibm/granite-embedding-278m-multilingual';

/** One request per surface that calls watsonx with a container, and the watsonx path it reaches. */
const SURFACES = [
  {
    name: 'chat completions',
    url: '/v1/chat/completions',
    path: '/ml/v1/text/chat',
    payload: { model: CHAT_MODEL, messages: [{ role: 'user', content: 'hi' }] },
  },
  {
    name: 'chat completions, streamed',
    url: '/v1/chat/completions',
    path: '/ml/v1/text/chat_stream',
    payload: { model: CHAT_MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true },
  },
  {
    name: 'completions',
    url: '/v1/completions',
    path: '/ml/v1/text/generation',
    payload: { model: CHAT_MODEL, prompt: 'Once upon a time' },
  },
  {
    name: 'embeddings',
    url: '/v1/embeddings',
    path: '/ml/v1/text/embeddings',
    payload: { model: EMBEDDING_MODEL, input: ['a', 'b'] },
  },
  {
    name: 'responses',
    url: '/v1/responses',
    path: '/ml/v1/text/chat',
    payload: { model: CHAT_MODEL, input: 'hi' },
  },
  {
    name: 'rerank',
    url: '/v1/rerank',
    path: '/ml/v1/text/rerank',
    payload: { model: 'cross-encoder/ms-marco-minilm-l-12-v2', query: 'fox', documents: ['a fox', 'a dog'] },
  },
  {
    name: 'anthropic messages',
    url: '/v1/messages',
    path: '/ml/v1/text/chat',
    payload: { model: CHAT_MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] },
    headers: { 'anthropic-version': '2023-06-01' },
  },
] as const;

function lastUpstream(gateway: TestGateway) {
  return gateway.simulator.requests.at(-1)!;
}

function post(
  gateway: TestGateway,
  surface: (typeof SURFACES)[number],
  headers: Record<string, string> = {},
) {
  return gateway.inject({
    method: 'POST',
    url: surface.url,
    headers: { ...('headers' in surface ? surface.headers : {}), ...headers },
    payload: surface.payload,
  });
}

describe('a configured project, overridden per request', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startTestGateway();
  });
  after(() => gateway.close());

  for (const surface of SURFACES) {
    test(`${surface.name}: no header → the configured project; X-Watsonx-Project-Id wins; X-IBM-Space-Id → a space`, async () => {
      const plain = await post(gateway, surface);
      assert.equal(plain.statusCode, 200, plain.body);
      let upstream = lastUpstream(gateway);
      assert.equal(upstream.path, surface.path);
      assert.deepEqual(container(upstream.body), { project_id: PROJECT_ID });

      const overridden = await post(gateway, surface, { 'x-watsonx-project-id': OTHER_PROJECT });
      assert.equal(overridden.statusCode, 200, overridden.body);
      upstream = lastUpstream(gateway);
      assert.equal(upstream.path, surface.path);
      assert.deepEqual(container(upstream.body), { project_id: OTHER_PROJECT });

      const space = await post(gateway, surface, { 'X-IBM-Space-Id': SPACE });
      assert.equal(space.statusCode, 200, space.body);
      assert.deepEqual(container(lastUpstream(gateway).body), { space_id: SPACE });
    });
  }

  test('X-IBM-Project-Id works alone, and together with X-Watsonx-Project-Id when both name the same project', async () => {
    const chat = SURFACES[0];
    assert.equal((await post(gateway, chat, { 'x-ibm-project-id': OTHER_PROJECT })).statusCode, 200);
    assert.deepEqual(container(lastUpstream(gateway).body), { project_id: OTHER_PROJECT });
    const both = await post(gateway, chat, {
      'x-ibm-project-id': OTHER_PROJECT,
      'x-watsonx-project-id': OTHER_PROJECT.toUpperCase(),
    });
    assert.equal(both.statusCode, 200, both.body);
  });

  test('malformed or conflicting headers → 400 in the client protocol, before any watsonx call', async () => {
    const cases: Array<[Record<string, string>, string, RegExp]> = [
      [
        { 'x-watsonx-project-id': 'my-project' },
        'invalid_container_id',
        /X-Watsonx-Project-Id must be one watsonx\.ai project id/,
      ],
      [{ 'x-ibm-space-id': `${SPACE}, ${SPACE}` }, 'invalid_container_id', /X-IBM-Space-Id/],
      [
        { 'x-watsonx-project-id': OTHER_PROJECT, 'x-watsonx-space-id': SPACE },
        'conflicting_container',
        /not both/,
      ],
      [
        { 'x-watsonx-project-id': OTHER_PROJECT, 'x-ibm-project-id': DENIED_PROJECT },
        'conflicting_container',
        /different projects/,
      ],
    ];
    for (const [headers, code, message] of cases) {
      const before = gateway.simulator.requests.length;
      const response = await post(gateway, SURFACES[0], headers);
      assert.equal(response.statusCode, 400, JSON.stringify(headers));
      const error = response.json().error;
      assert.equal(error.code, code);
      assert.equal(error.type, 'invalid_request_error');
      assert.match(error.message, message);
      assert.equal(gateway.simulator.requests.length, before, 'no upstream call');
    }
    // Anthropic's shape on /v1/messages.
    const anthropic = await post(gateway, SURFACES.at(-1)!, { 'x-watsonx-space-id': 'nope' });
    assert.equal(anthropic.statusCode, 400);
    assert.equal(anthropic.json().type, 'error');
    assert.equal(anthropic.json().error.type, 'invalid_request_error');
  });
});

describe('allow-lists (WATSONX_ALLOWED_PROJECTS / WATSONX_ALLOWED_SPACES)', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startTestGateway({
      env: { WATSONX_ALLOWED_PROJECTS: OTHER_PROJECT.toUpperCase(), WATSONX_ALLOWED_SPACES: SPACE },
    });
  });
  after(() => gateway.close());

  test('a listed project or space is served; the configured project stays reachable, with or without the header', async () => {
    const cases: Record<string, string>[] = [
      {},
      { 'x-watsonx-project-id': OTHER_PROJECT },
      { 'x-watsonx-space-id': SPACE },
      { 'x-watsonx-project-id': PROJECT_ID },
    ];
    for (const headers of cases) {
      const response = await post(gateway, SURFACES[0], headers);
      assert.equal(response.statusCode, 200, `${JSON.stringify(headers)}: ${response.body}`);
    }
  });

  test('any other → 403 container_not_allowed (permission error) on every surface, before any watsonx call', async () => {
    for (const surface of SURFACES) {
      const denied: Record<string, string>[] = [
        { 'x-watsonx-project-id': DENIED_PROJECT },
        { 'x-ibm-space-id': DENIED_SPACE },
      ];
      for (const headers of denied) {
        const before = gateway.simulator.requests.length;
        const response = await post(gateway, surface, headers);
        assert.equal(response.statusCode, 403, `${surface.name} ${JSON.stringify(headers)}`);
        const body = response.json();
        if (surface.url === '/v1/messages') {
          assert.equal(body.error.type, 'permission_error');
        } else if (surface.url === '/v1/responses') {
          assert.equal(body.error.code, 'container_not_allowed');
        } else {
          assert.equal(body.error.code, 'container_not_allowed');
          assert.equal(body.error.type, 'permission_error');
        }
        assert.match(JSON.stringify(body), /WATSONX_ALLOWED_(PROJECTS|SPACES)/);
        assert.equal(gateway.simulator.requests.length, before, 'no upstream call');
      }
    }
  });
});

describe('one allow-list set: the other kind is closed, not open', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startTestGateway({ env: { WATSONX_ALLOWED_PROJECTS: OTHER_PROJECT } });
  });
  after(() => gateway.close());

  test('WATSONX_ALLOWED_PROJECTS alone: any space is a 403, deployment calls too; listed and configured projects are served', async () => {
    const deployment = {
      name: 'a deployment',
      url: '/v1/chat/completions',
      payload: { model: 'deployment/granite_chat', messages: [{ role: 'user', content: 'hi' }] },
    };
    // The model catalogue (read once, without credentials) aside.
    const calls = () =>
      gateway.simulator.requests.filter((request) => !request.path.endsWith('/foundation_model_specs'))
        .length;
    for (const surface of [...SURFACES, deployment]) {
      const before = calls();
      const response = await gateway.inject({
        method: 'POST',
        url: surface.url,
        headers: { ...('headers' in surface ? surface.headers : {}), 'x-ibm-space-id': SPACE },
        payload: surface.payload,
      });
      assert.equal(response.statusCode, 403, `${surface.name}: ${response.body}`);
      assert.match(response.body, /WATSONX_ALLOWED_SPACES/);
      assert.equal(calls(), before, 'no upstream call');
    }
    const served: Record<string, string>[] = [{}, { 'x-watsonx-project-id': OTHER_PROJECT }];
    for (const headers of served) {
      assert.equal((await post(gateway, SURFACES[0], headers)).statusCode, 200, JSON.stringify(headers));
    }
  });
});

describe('no configured project or space', () => {
  let gateway: TestGateway;
  before(async () => {
    gateway = await startTestGateway({ env: { WATSONX_PROJECT_ID: '' } });
  });
  after(() => gateway.close());

  test('the gateway starts; a request without a header → 400 missing_container naming the headers', async () => {
    for (const surface of SURFACES) {
      const before = gateway.simulator.requests.filter((request) =>
        request.path.startsWith('/ml/v1/text/'),
      ).length;
      const response = await post(gateway, surface);
      assert.equal(response.statusCode, 400, surface.name);
      assert.match(response.body, /X-Watsonx-Project-Id/);
      assert.match(response.body, /X-Watsonx-Space-Id/);
      if (surface.url !== '/v1/messages') assert.equal(response.json().error.code, 'missing_container');
      assert.equal(
        gateway.simulator.requests.filter((request) => request.path.startsWith('/ml/v1/text/')).length,
        before,
        'no inference call',
      );
    }
  });

  test('with a header, every surface is served in that container', async () => {
    for (const surface of SURFACES) {
      const response = await post(gateway, surface, { 'x-watsonx-space-id': SPACE });
      assert.equal(response.statusCode, 200, `${surface.name}: ${response.body}`);
      assert.deepEqual(container(lastUpstream(gateway).body), { space_id: SPACE });
    }
  });

  test('a deployment needs no container', async () => {
    const response = await gateway.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      payload: { model: 'deployment/granite_chat', messages: [{ role: 'user', content: 'hi' }] },
    });
    assert.equal(response.statusCode, 200, response.body);
    assert.equal(lastUpstream(gateway).path, '/ml/v1/deployments/granite_chat/text/chat');
  });

  test('/v1/models still lists the catalogue (no deployments without a container)', async () => {
    const response = await gateway.inject('/v1/models');
    assert.equal(response.statusCode, 200);
    const ids = (response.json().data as Array<{ id: string }>).map((model) => model.id);
    assert.ok(ids.includes(CHAT_MODEL));
    assert.equal(ids.filter((id) => id.startsWith('deployment/')).length, 0);
  });
});

describe('configuration', () => {
  const ibm = { IBM_CLOUD_API_KEY: 'k', WATSONX_PROJECT_ID: PROJECT_ID };

  test('allow-lists are comma-separated UUIDs, kept lower-case; anything else is a problem', () => {
    const config = parseConfig({
      ...ibm,
      WATSONX_ALLOWED_PROJECTS: ` ${OTHER_PROJECT.toUpperCase()} , ${DENIED_PROJECT}`,
    });
    assert.deepEqual([...config.allowedProjects!], [OTHER_PROJECT, DENIED_PROJECT]);
    assert.equal(config.allowedSpaces, undefined);
    assert.throws(
      () => parseConfig({ ...ibm, WATSONX_ALLOWED_SPACES: `${SPACE},my-space` }),
      (error: unknown) =>
        error instanceof ConfigError &&
        error.problems.some((problem) => /WATSONX_ALLOWED_SPACES .*"my-space"/.test(problem)),
    );
  });

  test('a space alone, or no container at all, is a valid IBM configuration', () => {
    const space = parseConfig({ IBM_CLOUD_API_KEY: 'k', WATSONX_SPACE_ID: SPACE });
    assert.deepEqual(space.upstream.mode === 'ibm' && space.upstream.container, { space_id: SPACE });
    const none = parseConfig({ IBM_CLOUD_API_KEY: 'k' });
    assert.equal(none.upstream.mode === 'ibm' ? none.upstream.container : 'simulator', undefined);
  });
});

function container(body: unknown): { project_id?: string; space_id?: string } {
  const record = body as Record<string, unknown>;
  return Object.fromEntries(
    ['project_id', 'space_id'].filter((key) => key in record).map((key) => [key, record[key]]),
  );
}
