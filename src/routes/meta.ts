// GET / (what this is) and GET /health (liveness plus upstream state). Both stay open without a key.
import type { FastifyInstance } from 'fastify';
import type { Upstream } from '../upstream.ts';

export function registerMeta(app: FastifyInstance, options: { upstream: Upstream; version: string }): void {
  const { upstream, version } = options;
  app.get('/', { schema: { hide: true } }, async () => ({
    name: 'watsonx-openai-proxy',
    version,
    upstream: upstream.mode,
    endpoints: ['POST /v1/chat/completions', 'GET /health', 'GET /docs'],
    docs: '/docs',
  }));
  app.get('/health', { schema: { hide: true } }, async () => {
    const token = upstream.auth.state();
    return {
      status: 'ok',
      version,
      upstream: {
        mode: upstream.mode,
        url: upstream.watsonxUrl,
        token: {
          status: token.status,
          ...(token.expiresAt && { expiresAt: new Date(token.expiresAt).toISOString() }),
        },
      },
    };
  });
}
