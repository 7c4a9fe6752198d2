// For the auth tests: the simulator, and a gateway built from exactly the variables a test gives
// (unlike helpers/gateway.ts, no IBM_CLOUD_API_KEY is added), so each auth mode starts as an
// operator would start it.
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { buildApp } from '../../src/server/app.ts';
import { type Config, parseConfig } from '../../src/process/config.ts';
import { Metrics } from '../../src/server/metrics.ts';
import { createUpstream, type Upstream, upstreamTuning } from '../../src/process/upstream.ts';
import { type Simulator, type SimulatorOptions, startSimulator } from '../../src/simulator/index.ts';
import { PROJECT_ID } from './gateway.ts';

export const MODEL = 'ibm/granite-4-h-small';

export interface AuthGateway {
  app: FastifyInstance;
  simulator: Simulator;
  upstream: Upstream;
  config: Config;
  metrics: Metrics;
  /** Every log line written (level info and above), as text. */
  log: string[];
  inject(options: InjectOptions): Promise<LightMyRequestResponse>;
  /** The Authorization headers of the inference calls the simulator received, in order. */
  inferenceAuthorizations(): string[];
  /** Calls the simulator received on one path (a token endpoint). */
  calls(path: string): Simulator['requests'];
  close(): Promise<void>;
}

/** Starts the simulator, then a gateway from `env(simulatorUrl)` plus a project and a quiet log. */
export async function startAuthGateway(
  env: (simulatorUrl: string) => Record<string, string>,
  simulatorOptions: SimulatorOptions = {},
): Promise<AuthGateway> {
  const simulator = await startSimulator(simulatorOptions);
  let config: Config;
  try {
    config = parseConfig({
      WATSONX_PROJECT_ID: PROJECT_ID,
      WATSONX_URL: simulator.url,
      UPSTREAM_MAX_RETRIES: '0',
      ...env(simulator.url),
    });
  } catch (error) {
    await simulator.close();
    throw error;
  }
  if (config.upstream.mode !== 'ibm') throw new Error('the auth tests need IBM mode');
  const log: string[] = [];
  const metrics = new Metrics({ defaultMetrics: false });
  const upstream = createUpstream({ ...config.upstream, ...upstreamTuning(config), metrics });
  const app = await buildApp({
    config,
    upstream,
    metrics,
    logger: {
      level: 'info',
      stream: new Writable({
        write(chunk, _encoding, callback) {
          log.push(String(chunk));
          callback();
        },
      }),
    },
  });
  await app.ready();
  return {
    app,
    simulator,
    upstream,
    config,
    metrics,
    log,
    inject: (options) => app.inject(options),
    inferenceAuthorizations: () =>
      simulator.requests
        .filter((request) => request.path.startsWith('/ml/v1/text/'))
        .map((request) => String(request.headers.authorization)),
    calls: (path) => simulator.requests.filter((request) => request.path === path),
    async close() {
      await app.close();
      await upstream.close();
      await simulator.close();
    },
  };
}

/** A chat request through the OpenAI surface. */
export function chat(headers: Record<string, string> = {}, content = 'hello'): InjectOptions {
  return {
    method: 'POST',
    url: '/v1/chat/completions',
    headers,
    payload: { model: MODEL, messages: [{ role: 'user', content }] },
  };
}

/** A message through the Anthropic surface. */
export function message(headers: Record<string, string> = {}): InjectOptions {
  return {
    method: 'POST',
    url: '/v1/messages',
    headers,
    payload: { model: MODEL, max_tokens: 20, messages: [{ role: 'user', content: 'hello' }] },
  };
}

/** The claims of a JWT (no verification). */
export function jwtClaims(authorization: string): Record<string, unknown> {
  const token = authorization.replace(/^Bearer\s+/i, '');
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

/** The `sub` the simulator gives the token of an IAM (or AWS, with prefix `aws:`) API key. */
export function subjectOf(credential: string): string {
  return `ServiceId-${createHash('sha256').update(credential).digest('hex').slice(0, 32)}`;
}
