// The process: read configuration, start the simulator when there are no IBM credentials, build
// the app, listen, and close gracefully on SIGTERM/SIGINT.
import cluster from 'node:cluster';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { buildApp, PACKAGE_VERSION } from '../server/app.ts';
import { type Config, ConfigError, parseConfig, readEnvironment } from './config.ts';
import { type Simulator, startSimulator } from '../simulator/index.ts';
import { Metrics } from '../server/metrics.ts';
import { createUpstream, type Upstream, upstreamTuning } from './upstream.ts';

const SIMULATOR_PROJECT_ID = '00000000-0000-4000-8000-000000000000';
/** After the drain timeout, connections still open are cut; this long after that, the process quits anyway. */
export const FORCED_EXIT_GRACE_MS = 5000;

export interface RunningGateway {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

export async function startGateway(config: Config): Promise<RunningGateway> {
  // First: @fastify/otel attaches itself to the Fastify instances created after it. Without an
  // OTLP endpoint the module is never imported.
  const tracing =
    config.tracing && (await import('./tracing.ts')).startTracing(config.tracing, PACKAGE_VERSION);
  let simulator: Simulator | undefined;
  let upstream: Upstream;
  const metrics = new Metrics();
  // A token fetched in the background (at start, or a refresh before expiry) that fails is
  // retried on use; the operator still hears of it at once. The first one may come before the
  // app's logger exists: it is kept until then.
  const tokenErrors: { log?: FastifyBaseLogger; early?: unknown } = {};
  const onTokenError = (error: unknown) => {
    if (tokenErrors.log) logTokenError(tokenErrors.log, error);
    else tokenErrors.early = error;
  };
  if (config.upstream.mode === 'simulator') {
    simulator = await startSimulator({ host: '127.0.0.1', port: 0 });
    upstream = createUpstream({
      mode: 'simulator',
      watsonxUrl: simulator.url,
      auth: { type: 'iam', iamUrl: simulator.url, apiKey: 'simulator-api-key' },
      container: { project_id: SIMULATOR_PROJECT_ID },
      ...upstreamTuning(config),
      userAgent: `watsonx-openai-proxy/${PACKAGE_VERSION}`,
      metrics,
      onTokenError,
    });
  } else {
    upstream = createUpstream({
      ...config.upstream,
      ...upstreamTuning(config),
      userAgent: `watsonx-openai-proxy/${PACKAGE_VERSION}`,
      metrics,
      onTokenError,
    });
  }

  const app = await buildApp({ config, upstream, metrics, tracing: tracing?.requests });
  tokenErrors.log = app.log;
  if (tokenErrors.early !== undefined) logTokenError(app.log, tokenErrors.early);
  if (simulator) {
    process.stderr.write(
      '\n' +
        '  ┌──────────────────────────────────────────────────────────────────────┐\n' +
        '  │  SIMULATOR MODE — answers come from the built-in watsonx.ai          │\n' +
        '  │  simulator, NOT from IBM. Set IBM_CLOUD_API_KEY and                  │\n' +
        '  │  WATSONX_PROJECT_ID (or WATSONX_SPACE_ID) to use watsonx.ai.         │\n' +
        '  └──────────────────────────────────────────────────────────────────────┘\n\n',
    );
    app.log.warn(
      { simulatorUrl: simulator.url },
      '*** SIMULATOR MODE: no IBM credentials are set, so answers come from the built-in watsonx.ai simulator, ' +
        'not from IBM. Set IBM_CLOUD_API_KEY and WATSONX_PROJECT_ID to use watsonx.ai. ***',
    );
  }
  const url = await app.listen({ host: config.host, port: config.port });
  app.log.info(
    {
      url,
      // The OpenAPI UI, where every route can be tried from the browser.
      docs: `${url.replace('//[::]', '//localhost')}/docs`,
      upstream: upstream.mode,
      watsonxUrl: upstream.watsonxUrl,
      // How calls to watsonx are authenticated (WATSONX_AUTH_TYPE), and whether each client brings its key.
      auth: upstream.authMode,
      ...(upstream.requestCredentials && { credentials: 'per request' }),
      // The default project or space; none: each request names one (X-Watsonx-Project-Id / -Space-Id).
      container: upstream.container ?? 'per request',
      network: upstream.network,
    },
    'watsonx-openai-proxy listening',
  );
  for (const warning of upstream.warnings) app.log.warn(`*** ${warning} ***`);

  return {
    app,
    url,
    async close() {
      await app.close();
      await upstream.close();
      await simulator?.close();
      await tracing?.shutdown();
    },
  };
}

/** The error's own message only: IAM and token-server errors are already free of secrets. */
function logTokenError(log: FastifyBaseLogger, error: unknown): void {
  log.warn(
    { err: { type: (error as Error)?.name, message: (error as Error)?.message } },
    'could not get a watsonx token in the background; requests will try again',
  );
}

export async function main(): Promise<void> {
  let config: Config;
  try {
    config = parseConfig(readEnvironment());
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`watsonx-openai-proxy: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }

  if (config.workers > 1 && cluster.isPrimary) {
    runPrimary(config);
    return;
  }

  const gateway = await startGateway(config);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    gateway.app.log.info(
      { signal, drainTimeoutMs: config.shutdownTimeoutMs },
      'shutting down: no new connections; draining in-flight requests',
    );
    const drain = setTimeout(() => {
      gateway.app.log.warn('drain timeout reached: closing the connections still open');
      gateway.app.server.closeAllConnections();
      setTimeout(() => process.exit(1), FORCED_EXIT_GRACE_MS).unref();
    }, config.shutdownTimeoutMs);
    drain.unref();
    gateway.close().then(
      () => process.exit(0),
      (error: unknown) => {
        gateway.app.log.error({ err: error }, 'error while shutting down');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/**
 * WORKERS > 1: this process only supervises. node:cluster shares the port between the workers;
 * each worker is a whole gateway with its own token cache, catalogue and limits (shared only through
 * REDIS_URL).
 */
function runPrimary(config: Config): void {
  const log = (level: number, msg: string, extra: object = {}) =>
    process.stdout.write(`${JSON.stringify({ level, time: Date.now(), pid: process.pid, ...extra, msg })}\n`);
  let stopping = false;
  const fork = () => cluster.fork();
  for (let index = 0; index < config.workers; index++) fork();
  log(30, `started ${config.workers} workers`, { workers: config.workers });
  if (!config.redis) {
    log(
      40,
      `*** WORKERS=${config.workers} without REDIS_URL: the rate limits are per process (each worker ` +
        'counts RATE_LIMIT_RPM, RATE_LIMIT_TPM and RATE_LIMITS on its own) and so are stored Responses; ' +
        'set REDIS_URL to share them ***',
      { workers: config.workers },
    );
  }
  cluster.on('exit', (worker, code, signal) => {
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) {
        log(30, 'all workers stopped');
        process.exit(0);
      }
      return;
    }
    // A crashed worker is replaced, after a pause so that a worker that cannot start does not spin.
    log(50, 'worker exited; starting a new one', { workerPid: worker.process.pid, code, signal });
    setTimeout(() => {
      if (!stopping) fork();
    }, 1000).unref();
  });
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log(30, 'shutting down the workers', { signal });
    for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
    setTimeout(() => process.exit(1), config.shutdownTimeoutMs + FORCED_EXIT_GRACE_MS * 2).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}
