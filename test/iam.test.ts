import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Agent } from 'undici';
import { createIamTokenFetcher as createFetcher, iamTokenUrl } from '../src/watsonx/iam.ts';
import { IamError } from '../src/watsonx/errors.ts';

const dispatcher = new Agent();
after(() => dispatcher.close());

function createIamTokenFetcher(options: { iamUrl: string; timeoutMs?: number }) {
  return createFetcher({ ...options, dispatcher });
}

// Characters that must be form-encoded, so a missing encodeURIComponent shows up.
const API_KEY = 'aK3y+/with=&special chars';
const TOKEN_BODY = {
  access_token: 'eyJraWQiOi.fake.sig',
  refresh_token: 'not_supported',
  token_type: 'Bearer',
  expires_in: 3600,
  expiration: 1767225600,
  scope: 'ibm openid',
};

interface Received {
  method: string | undefined;
  url: string | undefined;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A fake IAM on 127.0.0.1 that records every request and answers with `respond`. */
async function fakeIam(respond: (response: ServerResponse) => void) {
  const received: Received[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        method: request.method,
        url: request.url,
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      respond(response);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    base: `http://127.0.0.1:${port}`,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function json(status: number, body: unknown) {
  return (response: ServerResponse) => {
    response.writeHead(status, { 'content-type': 'application/json' });
    response.end(JSON.stringify(body));
  };
}

async function expectIamError(promise: Promise<unknown>, kind: IamError['kind']): Promise<IamError> {
  const error = await promise.then(
    () => assert.fail('expected an IamError'),
    (reason: unknown) => reason,
  );
  assert.ok(error instanceof IamError, `not an IamError: ${String(error)}`);
  assert.equal(error.kind, kind);
  for (const form of [API_KEY, encodeURIComponent(API_KEY), 'aK3y']) {
    assert.ok(!error.message.includes(form), `message leaks the key: ${error.message}`);
  }
  return error;
}

test('iamTokenUrl appends /identity/token once and strips trailing slashes', () => {
  assert.equal(iamTokenUrl('https://iam.cloud.ibm.com'), 'https://iam.cloud.ibm.com/identity/token');
  assert.equal(iamTokenUrl('https://iam.cloud.ibm.com//'), 'https://iam.cloud.ibm.com/identity/token');
  assert.equal(
    iamTokenUrl('https://iam.cloud.ibm.com/identity/token'),
    'https://iam.cloud.ibm.com/identity/token',
  );
  assert.equal(
    iamTokenUrl('https://iam.cloud.ibm.com/identity/token/'),
    'https://iam.cloud.ibm.com/identity/token',
  );
  assert.equal(iamTokenUrl('http://127.0.0.1:8080/iam/'), 'http://127.0.0.1:8080/iam/identity/token');
});

test('sends a form POST to /identity/token with the grant type and the encoded key', async (t) => {
  const iam = await fakeIam(json(200, TOKEN_BODY));
  t.after(iam.close);
  const fetchToken = createIamTokenFetcher({ iamUrl: iam.base });

  assert.deepEqual(await fetchToken(API_KEY), TOKEN_BODY);

  assert.equal(iam.received.length, 1);
  const [request] = iam.received;
  assert.equal(request?.method, 'POST');
  assert.equal(request?.url, '/identity/token');
  assert.equal(request?.headers['content-type'], 'application/x-www-form-urlencoded');
  assert.equal(request?.headers.accept, 'application/json');
  const form = new URLSearchParams(request?.body);
  assert.deepEqual([...form.keys()].sort(), ['apikey', 'grant_type']);
  assert.equal(form.get('grant_type'), 'urn:ibm:params:oauth:grant-type:apikey');
  assert.equal(form.get('apikey'), API_KEY);
  assert.ok(!request?.body.includes(API_KEY), 'the key travels form-encoded');
});

test('accepts the base URL with a trailing slash or already ending in /identity/token', async (t) => {
  const iam = await fakeIam(json(200, TOKEN_BODY));
  t.after(iam.close);
  for (const iamUrl of [
    iam.base,
    `${iam.base}/`,
    `${iam.base}/identity/token`,
    `${iam.base}/identity/token/`,
  ]) {
    const token = await createIamTokenFetcher({ iamUrl })(API_KEY);
    assert.equal(token.access_token, TOKEN_BODY.access_token, iamUrl);
  }
  assert.deepEqual(
    iam.received.map((request) => request.url),
    Array(4).fill('/identity/token'),
  );
});

test('400 BXNIM0415E is a rejected key, with IAM code and message', async (t) => {
  const iam = await fakeIam(
    json(400, {
      context: { requestId: 'abc', requestType: 'incoming.Identity_Token', url: 'https://iam.cloud.ibm.com' },
      errorCode: 'BXNIM0415E',
      errorMessage: 'Provided API key could not be found.',
    }),
  );
  t.after(iam.close);
  const error = await expectIamError(createIamTokenFetcher({ iamUrl: iam.base })(API_KEY), 'rejected');
  assert.equal(
    error.message,
    'IBM Cloud IAM rejected the API key (BXNIM0415E: Provided API key could not be found.)',
  );
  assert.equal(error.status, 400);
  assert.equal(error.iamCode, 'BXNIM0415E');
});

test('401 and 403 are rejected keys too, even without an IAM body', async (t) => {
  let status = 401;
  const iam = await fakeIam((response) => {
    response.writeHead(status);
    response.end('nope');
  });
  t.after(iam.close);
  const fetchToken = createIamTokenFetcher({ iamUrl: iam.base });
  for (status of [401, 403]) {
    const error = await expectIamError(fetchToken(API_KEY), 'rejected');
    assert.equal(error.status, status);
    assert.equal(error.message, `IBM Cloud IAM rejected the API key (HTTP ${status})`);
  }
});

test('an IAM error message that echoes the key is redacted', async (t) => {
  const iam = await fakeIam(json(400, { errorCode: 'BXNIM0999E', errorMessage: `Key ${API_KEY} is bad` }));
  t.after(iam.close);
  const error = await expectIamError(createIamTokenFetcher({ iamUrl: iam.base })(API_KEY), 'rejected');
  assert.match(error.message, /BXNIM0999E: Key \[redacted\] is bad/);
});

test('500 and 429 mean IAM is unreachable, not that the key is bad', async (t) => {
  let status = 500;
  const iam = await fakeIam((response) =>
    json(status, { errorCode: 'BXNIM0001E', errorMessage: 'Oops' })(response),
  );
  t.after(iam.close);
  const fetchToken = createIamTokenFetcher({ iamUrl: iam.base });
  for (status of [500, 503, 429]) {
    const error = await expectIamError(fetchToken(API_KEY), 'unreachable');
    assert.equal(error.status, status);
    assert.match(error.message, new RegExp(`^IBM Cloud IAM answered HTTP ${status}`));
  }
});

test('a 200 that is not JSON, or has no access_token, is unreachable', async (t) => {
  let body = '<html>maintenance</html>';
  const iam = await fakeIam((response) => {
    response.writeHead(200, { 'content-type': 'text/html' });
    response.end(body);
  });
  t.after(iam.close);
  const fetchToken = createIamTokenFetcher({ iamUrl: iam.base });
  for (body of ['<html>maintenance</html>', '{"token_type":"Bearer"}', '{"access_token":42}', '[]']) {
    const error = await expectIamError(fetchToken(API_KEY), 'unreachable');
    assert.equal(error.status, 200, body);
  }
});

test('a closed port is unreachable', async () => {
  const iam = await fakeIam(json(200, TOKEN_BODY));
  await iam.close();
  const error = await expectIamError(createIamTokenFetcher({ iamUrl: iam.base })(API_KEY), 'unreachable');
  assert.match(error.message, /^IBM Cloud IAM is unreachable: .*ECONNREFUSED/);
  assert.equal(error.status, undefined);
});

test('a server that never answers is unreachable after timeoutMs', async (t) => {
  const iam = await fakeIam(() => {
    // never answers
  });
  t.after(iam.close);
  const started = performance.now();
  const error = await expectIamError(
    createIamTokenFetcher({ iamUrl: iam.base, timeoutMs: 200 })(API_KEY),
    'unreachable',
  );
  const elapsed = performance.now() - started;
  assert.equal(error.message, 'IBM Cloud IAM is unreachable: no answer within 200 ms');
  assert.ok(elapsed >= 150 && elapsed < 5000, `took ${elapsed} ms`);
  assert.equal(iam.received.length, 1);
});
