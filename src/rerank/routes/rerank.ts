// POST /v1/rerank (also /rerank) and /v2/rerank: route → translate request → watsonx text/rerank →
// translate the answer → reply. The two differ only in return_documents' default (Jina/vLLM send
// none and expect the documents; Cohere v2 has no such field and expects none) and meta.api_version.
import { randomUUID } from 'node:crypto';
import type { FastifyRequest } from 'fastify';
import { targetModel } from '../../models/target.ts';
import type { SurfaceContext, SurfaceRoute } from '../../server/surface.ts';
import { callOptions } from '../../server/upstream-call.ts';
import { rerankErrors } from '../errors.ts';
import { type RerankRequest, RerankRequestSchema, RerankResponseSchema } from '../schemas/rerank.ts';
import { toRerankResponse, toWatsonxRerankRequest } from '../translate/rerank.ts';

export type RerankFlavour = 'v1' | 'v2';

export function rerankRoute(context: SurfaceContext, flavour: RerankFlavour): SurfaceRoute<RerankRequest> {
  const { upstream } = context;
  const returnDocumentsDefault = flavour === 'v1';
  const apiVersion = flavour === 'v1' ? '1' : '2';

  const handle = async (request: FastifyRequest<{ Body: RerankRequest }>) => {
    const body = request.body;
    const found = targetModel(context, request, body.model, 'rerank');
    const { modelId, model } = found instanceof Promise ? await found : found;
    const translated = toWatsonxRerankRequest(body, {
      modelId,
      contextLength: model?.contextLength,
      returnDocumentsDefault,
    });
    const answer = await upstream.client.rerank(translated.body, callOptions(context, request));
    const response = toRerankResponse(answer, {
      texts: translated.texts,
      topN: translated.topN,
      returnDocuments: translated.returnDocuments,
      model: body.model,
      id: `rerank-${randomUUID()}`,
      apiVersion,
    });
    request.gateway.usage = { ...response.usage, completion_tokens: 0 };
    return response;
  };

  return {
    path: flavour === 'v1' ? '/rerank' : '/v2/rerank',
    exactPath: flavour === 'v2',
    schema: RerankRequestSchema,
    response: { 200: RerankResponseSchema },
    tags: ['Rerank'],
    errors: rerankErrors,
    summary:
      flavour === 'v1'
        ? 'Ranks documents by relevance to a query (Cohere v1, Jina, vLLM, LiteLLM, Continue); documents returned by default.'
        : 'Ranks documents by relevance to a query (Cohere v2 shape); documents only with return_documents.',
    handle,
  };
}
