// GET / (what this is), GET /health (liveness), GET /ready (readiness), GET /metrics (Prometheus).
// /, /health and /ready stay open without a key; /metrics needs it when METRICS_REQUIRE_KEY=true.
import type { FastifyInstance } from 'fastify';
import type { Metrics } from './metrics.ts';
import type { Upstream } from '../process/upstream.ts';

const READY_TIMEOUT_MS = 5000;

export function registerMeta(
  app: FastifyInstance,
  options: { upstream: Upstream; version: string; metrics: Metrics; metricsRequireKey: boolean },
): void {
  const { upstream, version, metrics } = options;
  app.get('/', { schema: { hide: true } }, async () => ({
    name: 'watsonx-openai-proxy',
    version,
    upstream: upstream.mode,
    endpoints: [
      'POST /v1/chat/completions',
      'POST /v1/completions',
      'POST /v1/embeddings',
      'GET /v1/models',
      'GET /v1/models/{id}',
      'GET /health',
      'GET /ready',
      'GET /metrics',
      'GET /docs',
    ],
    docs: '/docs',
  }));

  // Liveness: the process answers. Upstream state is informative only.
  app.get('/health', { schema: { hide: true } }, async () => {
    const token = upstream.auth.state();
    return {
      status: 'ok',
      version,
      upstream: {
        mode: upstream.mode,
        url: upstream.watsonxUrl,
        // Proxies (credentials redacted), extra CAs, and tlsVerify: false when verification is off.
        network: upstream.network,
        token: {
          status: token.status,
          ...(token.expiresAt && { expiresAt: new Date(token.expiresAt).toISOString() }),
        },
      },
    };
  });

  // Readiness: the configuration was valid (or the process would not run) and a token is obtainable.
  app.get('/ready', { schema: { hide: true } }, async (_request, reply) => {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        upstream.auth.authorization(),
        new Promise((_resolve, reject) => {
          timer = setTimeout(() => reject(new Error('no IAM token within 5 s')), READY_TIMEOUT_MS);
        }),
      ]);
      return { status: 'ready', upstream: upstream.mode };
    } catch (error) {
      return reply.status(503).send({
        status: 'not_ready',
        upstream: upstream.mode,
        reason: error instanceof Error ? error.message : 'no IAM token',
      });
    } finally {
      clearTimeout(timer);
    }
  });

  app.get(
    '/metrics',
    { schema: { hide: true }, config: { requiresKey: options.metricsRequireKey } },
    async (_request, reply) => {
      reply.header('content-type', metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );
}
