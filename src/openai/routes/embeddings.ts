// POST /v1/embeddings (also /embeddings):
// route → translate request (batches of ≤1000 inputs) → watsonx client, 4 batches at a time →
// translate the answers, in input order → reply.
import type { FastifyRequest } from 'fastify';
import { targetModel } from '../../models/target.ts';
import type { SurfaceContext, SurfaceRoute } from '../../server/surface.ts';
import { callOptions, runBounded } from '../../server/upstream-call.ts';
import { openAIErrors } from '../errors.ts';
import { type EmbeddingRequest, EmbeddingRequestSchema } from '../schemas/embeddings.ts';
import { EmbeddingListSchema } from '../schemas/answers.ts';
import { toEmbeddingResponse, toWatsonxEmbeddingsRequests } from '../translate/embeddings.ts';

/** watsonx calls in flight per client request: large inputs finish sooner without flooding the rate limit. */
export const EMBEDDING_BATCH_CONCURRENCY = 4;

export function embeddingsRoute(context: SurfaceContext): SurfaceRoute<EmbeddingRequest> {
  const { upstream } = context;

  const handle = async (request: FastifyRequest<{ Body: EmbeddingRequest }>) => {
    const body = request.body;
    const found = targetModel(context, request, body.model, 'embedding');
    const target = found instanceof Promise ? await found : found;
    const { modelId, model } = target;
    const watsonxRequests = toWatsonxEmbeddingsRequests(body, {
      modelId,
      embeddingDimension: model?.embeddingDimension,
      contextLength: model?.contextLength,
      truncateInputTokens: context.embeddingsTruncateInputTokens,
    });
    const call = callOptions(context, request, target);
    const abort = request.gateway.abort;
    const answers = await runBounded(
      watsonxRequests,
      EMBEDDING_BATCH_CONCURRENCY,
      abort.signal,
      (batch, signal) => upstream.client.embeddings(batch, { ...call, signal }),
    );
    const response = toEmbeddingResponse(watsonxRequests, answers, {
      model: body.model,
      encodingFormat: body.encoding_format === 'base64' ? 'base64' : 'float',
      dimensions: body.dimensions,
    });
    request.gateway.usage = { ...response.usage, completion_tokens: 0 };
    return response;
  };

  return {
    path: '/embeddings',
    schema: EmbeddingRequestSchema,
    response: { 200: EmbeddingListSchema },
    tags: ['OpenAI'],
    errors: openAIErrors,
    summary: 'Creates embedding vectors for the input text(s).',
    handle,
  };
}
