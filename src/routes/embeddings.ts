// POST /v1/embeddings (also /embeddings):
// route → translate request (batches of ≤1000 inputs) → watsonx client, 4 batches at a time →
// translate the answers, in input order → reply.
import type { InferenceCall, InferenceRoute } from '../inference.ts';
import { type EmbeddingRequest, EmbeddingRequestSchema } from '../openai/embeddings-schema.ts';
import { toEmbeddingResponse, toWatsonxEmbeddingsRequests } from '../translate/embeddings.ts';
import { type RouteContext, runBounded, targetModel } from './context.ts';

/** watsonx calls in flight per client request: large inputs finish sooner without flooding the rate limit. */
export const EMBEDDING_BATCH_CONCURRENCY = 4;

export function embeddingsRoute(context: RouteContext): InferenceRoute<EmbeddingRequest> {
  const { upstream } = context;

  const handle = async (request: InferenceCall<EmbeddingRequest>) => {
    const body = request.body;
    const { modelId, model } = await targetModel(context, request, body.model, 'embedding');
    const watsonxRequests = toWatsonxEmbeddingsRequests(body, {
      modelId,
      embeddingDimension: model?.embeddingDimension,
      contextLength: model?.contextLength,
      truncateInputTokens: context.embeddingsTruncateInputTokens,
    });
    // Aborted when the client goes away before the reply finished (lifecycle.ts).
    const abort = request.gateway.abort;
    const call = {
      auth: upstream.auth,
      container: upstream.container,
      signal: abort.signal,
      requestId: request.id,
    };
    const responses = await runBounded(
      watsonxRequests,
      EMBEDDING_BATCH_CONCURRENCY,
      abort.signal,
      (batch, signal) => upstream.client.embeddings(batch, { ...call, signal }),
    );
    const result = toEmbeddingResponse(watsonxRequests, responses, {
      model: body.model,
      encodingFormat: body.encoding_format === 'base64' ? 'base64' : 'float',
      dimensions: body.dimensions,
    });
    request.gateway.usage = { ...result.usage, completion_tokens: 0 };
    return result;
  };

  return {
    path: '/embeddings',
    schema: EmbeddingRequestSchema,
    summary: 'Creates embedding vectors for the input text(s).',
    handle,
  };
}
