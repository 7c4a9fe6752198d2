// Test harness: the built-in simulator on port 0 and the gateway built against it.
import type { FastifyInstance } from 'fastify';
import type { InjectOptions, LightMyRequestResponse as Response } from 'fastify';
import { buildApp } from '../../src/server/app.ts';
import { type Config, parseConfig } from '../../src/process/config.ts';
import { type Simulator, type SimulatorOptions, startSimulator } from '../../src/simulator/index.ts';
import { Metrics } from '../../src/server/metrics.ts';
import { createUpstream, type Upstream, upstreamTuning } from '../../src/process/upstream.ts';

export const PROJECT_ID = '11111111-2222-4333-8444-555555555555';

export interface TestGateway {
  app: FastifyInstance;
  simulator: Simulator;
  upstream: Upstream;
  config: Config;
  metrics: Metrics;
  /** Base URL when listening (listen: true), else ''. */
  url: string;
  /** `app.inject`: every route, through the same hooks as a request from the network. */
  inject(options: InjectOptions | string): Promise<Response>;
  /** Inference requests the simulator received (/ml/v1/text/...), in order. */
  inferenceRequests(): Simulator['requests'];
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  env?: Record<string, string>;
  /** Adds routes (a test API surface) before the app is ready. */
  extend?: (app: FastifyInstance) => void;
  simulator?: SimulatorOptions;
  listen?: boolean;
  keepAliveMs?: number;
  logger?: object | boolean;
  apiKey?: string;
}

export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const simulator = await startSimulator(options.simulator);
  let config: Config;
  try {
    config = parseConfig({
      IBM_CLOUD_API_KEY: options.apiKey ?? 'test-ibm-key',
      WATSONX_PROJECT_ID: PROJECT_ID,
      WATSONX_URL: simulator.url,
      IBM_IAM_URL: simulator.url,
      LOG_LEVEL: 'silent',
      // Fault tests expect the first upstream answer; the retry tests turn retries back on.
      UPSTREAM_MAX_RETRIES: '0',
      ...options.env,
    });
  } catch (error) {
    await simulator.close();
    throw error;
  }
  if (config.upstream.mode !== 'ibm') throw new Error('test config must be in ibm mode');
  const metrics = new Metrics({ defaultMetrics: false });
  const upstream = createUpstream({ ...config.upstream, ...upstreamTuning(config), metrics });
  const app = await buildApp({
    config,
    upstream,
    logger: options.logger ?? false,
    keepAliveMs: options.keepAliveMs,
    metrics,
  });
  options.extend?.(app);
  let url = '';
  if (options.listen) url = await app.listen({ host: '127.0.0.1', port: 0 });
  else await app.ready();
  return {
    app,
    simulator,
    upstream,
    config,
    metrics,
    url,
    inject: (injectOptions) => app.inject(injectOptions as InjectOptions),
    inferenceRequests: () => simulator.requests.filter((request) => request.path.startsWith('/ml/v1/text/')),
    async close() {
      await app.close();
      await upstream.close();
      await simulator.close();
    },
  };
}
