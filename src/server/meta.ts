// GET / (what this is), GET /health (liveness), GET /ready (readiness), GET /metrics (Prometheus).
// /, /health and /ready stay open without a key; /metrics needs it when METRICS_REQUIRE_KEY=true.
// All four are in the OpenAPI document (tag Operations); their response schemas only document.
import type { FastifyInstance } from 'fastify';
import { type TSchema, Type } from 'typebox';
import type { Metrics } from './metrics.ts';
import { IamError } from '../watsonx/errors.ts';
import type { Upstream } from '../process/upstream.ts';

const READY_TIMEOUT_MS = 5000;
const TAGS = ['Operations'];

const UpstreamMode = Type.String({ description: 'ibm or simulator' });

const IndexSchema = Type.Object(
  {
    name: Type.String(),
    version: Type.String(),
    upstream: UpstreamMode,
    endpoints: Type.Array(Type.String()),
    docs: Type.String(),
  },
  { title: 'Index' },
);

const HealthSchema = Type.Object(
  {
    status: Type.Literal('ok'),
    version: Type.String(),
    upstream: Type.Object({
      mode: UpstreamMode,
      url: Type.String({ description: 'the watsonx base URL' }),
      network: Type.Object({}, { description: 'proxies (credentials redacted), extra CAs, tlsVerify' }),
      token: Type.Object({
        status: Type.String({ description: 'the IAM token state' }),
        expiresAt: Type.Optional(Type.String()),
      }),
    }),
  },
  { title: 'Health' },
);

const ReadySchema = Type.Object(
  { status: Type.Literal('ready'), upstream: UpstreamMode },
  { title: 'Ready', description: 'An IAM token is obtainable.' },
);

const NotReadySchema = Type.Object(
  { status: Type.Literal('not_ready'), upstream: UpstreamMode, reason: Type.String() },
  { title: 'NotReady', description: 'No IAM token could be obtained (within 5 s).' },
);

export function registerMeta(
  app: FastifyInstance,
  options: {
    upstream: Upstream;
    version: string;
    metrics: Metrics;
    metricsRequireKey: boolean;
    /** The body of error answers (the OpenAI envelope), for the OpenAPI document. */
    errorSchema: TSchema;
  },
): void {
  const { upstream, version, metrics, errorSchema } = options;
  const indexSchema = {
    summary: 'Names the gateway, its version, upstream mode and endpoints. Never needs a key.',
    tags: TAGS,
    response: { 200: IndexSchema, default: errorSchema },
  };
  app.get('/', { schema: indexSchema }, async () => ({
    name: 'watsonx-openai-proxy',
    version,
    upstream: upstream.mode,
    endpoints: [
      'POST /v1/chat/completions',
      'POST /v1/completions',
      'POST /v1/embeddings',
      'GET /v1/models',
      'GET /v1/models/{model}',
      'POST /v1/responses',
      'GET /v1/responses/{response_id}',
      'DELETE /v1/responses/{response_id}',
      'POST /v1/messages',
      'POST /v1/messages/count_tokens',
      'POST /v1/rerank',
      'POST /v2/rerank',
      'GET /health',
      'GET /ready',
      'GET /metrics',
      'GET /docs',
    ],
    docs: '/docs',
  }));

  // Liveness: the process answers. Upstream state is informative only.
  const healthSchema = {
    summary: 'Liveness, with the upstream state (mode, watsonx URL, network, IAM token). Never needs a key.',
    tags: TAGS,
    response: { 200: HealthSchema, default: errorSchema },
  };
  app.get('/health', { schema: healthSchema }, async () => {
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
  const readySchema = {
    summary: 'Readiness: 200 when an IAM token is obtainable, else 503. Never needs a key.',
    tags: TAGS,
    response: { 200: ReadySchema, 503: NotReadySchema, default: errorSchema },
  };
  app.get('/ready', { schema: readySchema }, async (request, reply) => {
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
      // /ready is open: the IAM host, port and socket error go to the log only.
      request.log.warn({ err: error }, 'not ready: no IAM token');
      return reply.status(503).send({
        status: 'not_ready',
        upstream: upstream.mode,
        reason:
          error instanceof IamError
            ? error.publicMessage
            : error instanceof Error
              ? error.message
              : 'no IAM token',
      });
    } finally {
      clearTimeout(timer);
    }
  });

  const metricsSchema = {
    summary: options.metricsRequireKey
      ? 'Prometheus metrics (needs the gateway key: METRICS_REQUIRE_KEY=true).'
      : 'Prometheus metrics.',
    tags: TAGS,
    ...(options.metricsRequireKey && { security: [{ bearer: [] }] }),
    response: {
      200: {
        description: 'The Prometheus text exposition format.',
        content: { 'text/plain': { schema: Type.String() } },
      },
      default: errorSchema,
    },
  };
  app.get(
    '/metrics',
    { schema: metricsSchema, config: { requiresKey: options.metricsRequireKey } },
    async (_request, reply) => {
      reply.header('content-type', metrics.registry.contentType);
      return metrics.registry.metrics();
    },
  );
}
