// The rerank API surface: POST /v1/rerank, /rerank and /v2/rerank in the Cohere/Jina/vLLM shape,
// served by watsonx text/rerank. One registration line in src/server/app.ts; everything
// rerank-specific (schema, translators, error body) lives in this folder.
import type { FastifyInstance } from 'fastify';
import { surfaceRoute, type SurfaceContext } from '../server/surface.ts';
import { rerankRoute } from './routes/rerank.ts';

export { rerankErrors } from './errors.ts';

export function registerRerank(app: FastifyInstance, context: SurfaceContext): void {
  surfaceRoute(app, rerankRoute(context, 'v1'));
  surfaceRoute(app, rerankRoute(context, 'v2'));
}
