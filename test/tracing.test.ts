// OpenTelemetry tracing (README "Tracing"): a gateway process started with OTEL_EXPORTER_OTLP_ENDPOINT
// pointing at an OTLP/HTTP JSON receiver on loopback, watsonx and IAM from the simulator. Requests
// carry a client `traceparent`; the spans the gateway exports are read back: one per request with
// the gateway's attributes, the watsonx and IAM calls under it, in the client's trace, and the
// trace context sent on to watsonx.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { parseConfig } from '../src/process/config.ts';
import { startSimulator, type Simulator } from '../src/simulator/index.ts';

const CLI = fileURLToPath(new URL('../src/process/cli.ts', import.meta.url));
const PROJECT_ID = '11111111-2222-4333-8444-555555555555';
const MODEL = 'ibm/granite-4-h-small';

/** A span as OTLP/JSON carries it, attributes flattened. */
interface ExportedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, string | number | boolean>;
  status: { code?: number; message?: string };
  resource: Record<string, string | number | boolean>;
}

type OtlpValue = {
  stringValue?: string;
  intValue?: string | number;
  boolValue?: boolean;
  doubleValue?: number;
};
type OtlpAttribute = { key: string; value: OtlpValue };

const flatten = (attributes: OtlpAttribute[] = []) =>
  Object.fromEntries(
    attributes.map(({ key, value }) => [
      key,
      value.stringValue ?? value.boolValue ?? value.doubleValue ?? Number(value.intValue),
    ]),
  );

/** OTLP/HTTP JSON receiver (POST /v1/traces), as a collector would be. */
async function startReceiver() {
  const spans: ExportedSpan[] = [];
  const contentTypes: string[] = [];
  const headers: Array<Record<string, unknown>> = [];
  const app = Fastify();
  app.post('/v1/traces', async (request) => {
    contentTypes.push(String(request.headers['content-type']));
    headers.push(request.headers);
    const body = request.body as {
      resourceSpans: Array<{
        resource: { attributes: OtlpAttribute[] };
        scopeSpans: Array<{
          spans: Array<Omit<ExportedSpan, 'attributes' | 'resource'> & { attributes: OtlpAttribute[] }>;
        }>;
      }>;
    };
    for (const resourceSpans of body.resourceSpans) {
      const resource = flatten(resourceSpans.resource.attributes);
      for (const scope of resourceSpans.scopeSpans) {
        for (const span of scope.spans) {
          spans.push({
            ...span,
            parentSpanId: span.parentSpanId ?? '',
            attributes: flatten(span.attributes),
            resource,
          });
        }
      }
    }
    return {};
  });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { url, spans, contentTypes, headers, close: () => app.close() };
}

async function startGateway(env: Record<string, string>) {
  const child = spawn(process.execPath, [CLI], {
    cwd: mkdtempSync(join(tmpdir(), 'wxo-tracing-')),
    env: { PATH: process.env.PATH, PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let output = '';
  child.stderr.on('data', (data: Buffer) => (output += data.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the gateway did not start: ${output}`));
    }, 20_000);
    child.stdout.on('data', (data: Buffer) => {
      output += data.toString();
      const match = /"url":"(http:\/\/127\.0\.0\.1:\d+)"[^\n]*watsonx-openai-proxy listening/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.on('exit', () => reject(new Error(`the gateway exited: ${output}`)));
  });
  return {
    url,
    output: () => output,
    /** SIGTERM: the gateway drains, then exports the spans it still holds before it exits. */
    async stop() {
      child.kill('SIGTERM');
      return exited;
    },
    kill: () => child.exitCode === null && child.kill('SIGKILL'),
  };
}

const randomHex = (bytes: number) =>
  Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (byte) =>
    byte.toString(16).padStart(2, '0'),
  ).join('');

const chat = (url: string, traceparent: string, stream: boolean, signal?: AbortSignal) =>
  fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    signal,
    headers: { 'content-type': 'application/json', traceparent },
    body: JSON.stringify({
      model: MODEL,
      messages: [{ role: 'user', content: 'Say hello' }],
      ...(stream && { stream: true, stream_options: { include_usage: true } }),
    }),
  });

describe('tracing with OTEL_EXPORTER_OTLP_ENDPOINT (OTLP/HTTP JSON)', () => {
  let simulator: Simulator;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  const plain = { traceId: randomHex(16), spanId: randomHex(8) };
  const streamed = { traceId: randomHex(16), spanId: randomHex(8) };
  const failed = { traceId: randomHex(16), spanId: randomHex(8) };
  const abandoned = { traceId: randomHex(16), spanId: randomHex(8) };
  let upstreamTraceparents: string[] = [];
  let exitCode: number | null;
  let gatewayOutput = '';

  before(async () => {
    simulator = await startSimulator({ host: '127.0.0.1', port: 0 });
    receiver = await startReceiver();
    const gateway = await startGateway({
      IBM_CLOUD_API_KEY: 'tracing-test-key',
      WATSONX_PROJECT_ID: PROJECT_ID,
      WATSONX_URL: simulator.url,
      IBM_IAM_URL: simulator.url,
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_HEADERS: 'x-collector-key=collector%20secret',
      OTEL_SERVICE_NAME: 'gateway-under-test',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=test',
    });
    try {
      // The token fetched at start is made stale: watsonx answers 401, the gateway fetches a fresh
      // token from IAM within the request and retries, so both calls are in the request's trace.
      await fetch(`${gateway.url}/ready`);
      simulator.expireTokens();
      const first = await chat(gateway.url, `00-${plain.traceId}-${plain.spanId}-01`, false);
      assert.equal(first.status, 200, await first.clone().text());
      await first.json();
      const second = await chat(gateway.url, `00-${streamed.traceId}-${streamed.spanId}-01`, true);
      assert.equal(second.status, 200);
      assert.match(await second.text(), /data: \[DONE\]/);
      // watsonx fails the third request's stream after a few events.
      simulator.enqueueFault({ kind: 'stream-error', afterEvents: 3 });
      const third = await chat(gateway.url, `00-${failed.traceId}-${failed.spanId}-01`, true);
      assert.equal(third.status, 200);
      assert.match(await third.text(), /"error"/);
      // The fourth waits on a silent watsonx and its client leaves: the span still ends.
      simulator.enqueueFault({ kind: 'stall', ms: 3000 });
      const leaving = new AbortController();
      setTimeout(() => leaving.abort(), 300);
      await chat(gateway.url, `00-${abandoned.traceId}-${abandoned.spanId}-01`, true, leaving.signal)
        .then((answer) => answer.text())
        .catch(() => undefined);
      // The gateway accounts for a request whose client left within a second.
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.equal((await fetch(`${gateway.url}/health`)).status, 200);
      upstreamTraceparents = simulator.requests
        .filter((request) => request.path.startsWith('/ml/v1/text/chat'))
        .slice(0, 3)
        .map((request) => String(request.headers.traceparent));
    } finally {
      exitCode = await gateway.stop().finally(gateway.kill);
      gatewayOutput = gateway.output();
    }
  });

  after(async () => {
    await receiver?.close();
    await simulator?.close();
  });

  const inTrace = (traceId: string) => receiver.spans.filter((span) => span.traceId === traceId);
  const requestSpan = (traceId: string) => {
    const found = inTrace(traceId).filter((span) => span.name === 'POST /v1/chat/completions');
    assert.equal(found.length, 1, JSON.stringify(inTrace(traceId).map((span) => span.name)));
    return found[0]!;
  };
  /** The spans below `root` in its trace, at any depth. */
  const below = (root: ExportedSpan) => {
    const spans = inTrace(root.traceId);
    const found: ExportedSpan[] = [];
    const walk = (id: string) => {
      for (const span of spans.filter((candidate) => candidate.parentSpanId === id)) {
        found.push(span);
        walk(span.spanId);
      }
    };
    walk(root.spanId);
    return found;
  };

  test('the gateway exits cleanly and posted OTLP JSON with the configured headers and resource', () => {
    assert.equal(exitCode, 0, gatewayOutput);
    assert.ok(receiver.spans.length > 0, 'spans were exported');
    for (const type of receiver.contentTypes) assert.match(type, /^application\/json/);
    for (const headers of receiver.headers) assert.equal(headers['x-collector-key'], 'collector secret');
    const span = requestSpan(plain.traceId);
    assert.equal(span.resource['service.name'], 'gateway-under-test');
    assert.equal(span.resource['deployment.environment'], 'test');
    assert.equal(typeof span.resource['service.version'], 'string');
  });

  test("the request span continues the client's trace, with route, model, status, tokens", () => {
    const span = requestSpan(plain.traceId);
    assert.equal(span.parentSpanId, plain.spanId, "the client's span is the parent");
    assert.equal(span.kind, 2, 'SERVER');
    assert.equal(span.attributes['http.route'], '/v1/chat/completions');
    assert.equal(span.attributes['gateway.route'], '/v1/chat/completions');
    assert.equal(span.attributes['http.request.method'], 'POST');
    assert.equal(span.attributes['http.response.status_code'], 200);
    assert.equal(span.attributes['gen_ai.provider.name'], 'ibm.watsonx.ai');
    assert.equal(span.attributes['gen_ai.request.model'], MODEL);
    assert.equal(span.attributes['gen_ai.response.model'], MODEL);
    assert.equal(
      span.attributes['gateway.upstream.status_code'],
      200,
      'the retry after the 401 answered 200',
    );
    assert.ok(Number(span.attributes['gen_ai.usage.input_tokens']) > 0);
    assert.ok(Number(span.attributes['gen_ai.usage.output_tokens']) > 0);
    assert.equal(span.attributes['gateway.stream'], false);
  });

  test('the watsonx calls (401, then the retry) and the IAM call are spans under the request span', () => {
    const root = requestSpan(plain.traceId);
    const calls = below(root).filter((span) => span.attributes['gateway.upstream.call'] !== undefined);
    const watsonx = calls.filter((span) => span.attributes['gateway.upstream.call'] === 'watsonx');
    const auth = calls.filter((span) => span.attributes['gateway.upstream.call'] === 'auth');
    assert.deepEqual(
      watsonx.map((span) => [span.name, span.attributes['http.response.status_code']]),
      [
        // The model catalogue (MODEL_VALIDATION), read on the first request.
        ['GET /ml/v1/foundation_model_specs', 200],
        ['POST /ml/v1/text/chat', 401],
        ['POST /ml/v1/text/chat', 200],
      ],
    );
    assert.deepEqual(
      auth.map((span) => [span.name, span.attributes['http.response.status_code']]),
      [['POST /identity/token', 200]],
    );
    for (const span of calls) {
      assert.equal(span.kind, 3, 'CLIENT');
      assert.equal(span.attributes['server.address'], '127.0.0.1');
    }
  });

  test('the trace context is sent on to watsonx', () => {
    assert.equal(upstreamTraceparents.length, 3, 'two calls for the first request, one for the stream');
    const ids = upstreamTraceparents.map((value) => /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(value));
    assert.ok(ids.every(Boolean), upstreamTraceparents.join(', '));
    assert.deepEqual(
      ids.map((match) => match![1]),
      [plain.traceId, plain.traceId, streamed.traceId],
    );
    // Each call's parent is its own client span, as exported.
    const spanIds = new Set(receiver.spans.map((span) => span.spanId));
    for (const match of ids) assert.ok(spanIds.has(match![2]!), `span ${match![2]} was exported`);
  });

  test('a stream has its span ended at the end of the stream, with time to first token and tokens', () => {
    const span = requestSpan(streamed.traceId);
    assert.equal(span.parentSpanId, streamed.spanId);
    assert.equal(span.attributes['gateway.stream'], true);
    assert.equal(span.attributes['http.response.status_code'], 200);
    assert.equal(span.attributes['gateway.upstream.status_code'], 200);
    assert.ok(Number(span.attributes['gateway.time_to_first_token_ms']) > 0);
    assert.ok(Number(span.attributes['gen_ai.usage.output_tokens']) > 0);
    const stream = below(span).filter((child) => child.attributes['gateway.upstream.call'] === 'watsonx');
    assert.deepEqual(
      stream.map((child) => child.name),
      ['POST /ml/v1/text/chat_stream'],
    );
  });

  test('a stream that watsonx fails has its span marked as an error, with the error code', () => {
    const span = requestSpan(failed.traceId);
    assert.equal(span.status.code, 2, 'ERROR');
    assert.equal(span.attributes['gateway.stream'], true);
    assert.equal(typeof span.attributes['gateway.error.code'], 'string');
    assert.equal(span.status.message, span.attributes['gateway.error.code']);
  });

  test('a request whose client left has its span ended all the same, marked client_closed', () => {
    const span = requestSpan(abandoned.traceId);
    assert.equal(span.parentSpanId, abandoned.spanId);
    assert.equal(span.attributes['gateway.client_closed'], true);
    assert.equal(span.attributes['gateway.stream'], true);
  });

  test('no span holds a credential or the prompt (attributes and events)', () => {
    const exported = JSON.stringify(receiver.spans);
    assert.ok(exported.includes('POST /v1/chat/completions'));
    for (const secret of ['tracing-test-key', 'Say hello', 'Bearer', 'apikey', 'collector secret']) {
      assert.ok(!exported.includes(secret), `a span holds ${secret}`);
    }
  });

  test('probes are not traced', () => {
    assert.equal(
      receiver.spans.filter((span) =>
        /\/(health|ready)\b/.test(span.name + String(span.attributes['url.path'])),
      ).length,
      0,
    );
  });
});

/**
 * The OpenTelemetry packages (CommonJS, so listed in Module._cache once loaded) that a gateway
 * started with `env` has loaded after serving a chat request.
 */
function loadedTelemetry(env: Record<string, string>): string[] {
  const script = `
    const { createRequire } = await import('node:module');
    const { parseConfig } = await import(${JSON.stringify(new URL('../src/process/config.ts', import.meta.url).href)});
    const { startGateway } = await import(${JSON.stringify(new URL('../src/process/main.ts', import.meta.url).href)});
    const gateway = await startGateway(parseConfig(${JSON.stringify({ PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'silent', ...env })}));
    const answer = await fetch(gateway.url + '/v1/chat/completions', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: '${MODEL}', messages: [{ role: 'user', content: 'hi' }] }),
    });
    if (answer.status !== 200) throw new Error('chat answered ' + answer.status);
    const cache = createRequire(import.meta.url)('node:module')._cache;
    const loaded = Object.keys(cache).filter((path) => /@opentelemetry|@fastify[\\/]otel/.test(path));
    process.stdout.write(JSON.stringify(loaded));
    process.exit(0);
  `;
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: mkdtempSync(join(tmpdir(), 'wxo-tracing-off-')),
    env: { PATH: process.env.PATH },
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(result.status, 0, result.stderr);
  return JSON.parse(result.stdout) as string[];
}

test('without an OTLP endpoint no OpenTelemetry SDK, exporter or instrumentation is loaded; with one, they are', () => {
  // prom-client's process CPU metric requires the no-op API package (for exemplars), as it did before
  // tracing existed; the SDK, exporter and instrumentations are not loaded.
  assert.deepEqual(
    loadedTelemetry({}).filter((path) => !/@opentelemetry[\\/]api[\\/]/.test(path)),
    [],
  );
  // The same check sees the packages when tracing is on (a closed port: nothing is exported).
  const loaded = loadedTelemetry({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9' });
  assert.ok(
    loaded.some((path) => path.includes('@opentelemetry/sdk-trace-base')),
    loaded.join('\n'),
  );
  assert.ok(loaded.some((path) => /@fastify[\\/]otel/.test(path)));
});

describe('tracing settings (src/process/config.ts)', () => {
  test('off without an endpoint, or with OTEL_SDK_DISABLED=true', () => {
    assert.equal(parseConfig({}).tracing, undefined);
    assert.equal(
      parseConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' })
        .tracing,
      undefined,
    );
  });

  test('the base endpoint gets /v1/traces; the traces endpoint is used as given', () => {
    assert.equal(
      parseConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' }).tracing?.tracesUrl,
      'http://collector:4318/v1/traces',
    );
    assert.equal(
      parseConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://otel.example.com/ingest' }).tracing
        ?.tracesUrl,
      'https://otel.example.com/ingest',
    );
  });

  test('defaults: service name, parent-based always-on sampling', () => {
    const tracing = parseConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }).tracing;
    assert.equal(tracing?.serviceName, 'watsonx-openai-proxy');
    assert.equal(tracing?.sampler, 'parentbased_always_on');
    assert.equal(tracing?.samplerRatio, 1);
    assert.deepEqual(tracing?.headers, {});
  });

  test('refused: another protocol, a bad sampler or ratio, a malformed header; header values never echoed', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
    assert.throws(
      () => parseConfig({ ...endpoint, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }),
      /OTEL_EXPORTER_OTLP_PROTOCOL must be http\/json/,
    );
    assert.throws(
      () => parseConfig({ ...endpoint, OTEL_TRACES_SAMPLER: 'sometimes' }),
      /OTEL_TRACES_SAMPLER must be/,
    );
    assert.throws(
      () => parseConfig({ ...endpoint, OTEL_TRACES_SAMPLER_ARG: '2' }),
      /OTEL_TRACES_SAMPLER_ARG/,
    );
    assert.throws(
      () => parseConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }),
      /OTEL_EXPORTER_OTLP_ENDPOINT/,
    );
    assert.throws(
      () =>
        parseConfig({ ...endpoint, OTEL_EXPORTER_OTLP_HEADERS: 'authorization=Bearer%20s3cret,justasecret' }),
      (error: Error) =>
        /OTEL_EXPORTER_OTLP_HEADERS entry 2/.test(error.message) &&
        !error.message.includes('s3cret') &&
        !error.message.includes('justasecret'),
    );
  });
});
