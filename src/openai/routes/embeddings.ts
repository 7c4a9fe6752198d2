// POST /v1/embeddings (also /embeddings):
// route → translate request (batches of ≤1000 inputs) → watsonx client, 4 batches at a time →
// translate the answers, in input order → reply.
import { type InferenceCall, type InferenceRoute, JsonText } from '../../server/inference.ts';
import { type EmbeddingRequest, EmbeddingRequestSchema } from '../schemas/embeddings.ts';
import { toEmbeddingBody, toWatsonxEmbeddingsRequests } from '../translate/embeddings.ts';
import { callOptions, type RouteContext, runBounded, targetModel } from './context.ts';

/** watsonx calls in flight per client request: large inputs finish sooner without flooding the rate limit. */
export const EMBEDDING_BATCH_CONCURRENCY = 4;

export function embeddingsRoute(context: RouteContext): InferenceRoute<EmbeddingRequest> {
  const { upstream } = context;

  const handle = async (request: InferenceCall<EmbeddingRequest>) => {
    const body = request.body;
    const found = targetModel(context, request, body.model, 'embedding');
    const { modelId, model } = found instanceof Promise ? await found : found;
    const watsonxRequests = toWatsonxEmbeddingsRequests(body, {
      modelId,
      embeddingDimension: model?.embeddingDimension,
      contextLength: model?.contextLength,
      truncateInputTokens: context.embeddingsTruncateInputTokens,
    });
    const call = callOptions(context, request);
    const abort = request.gateway.abort;
    const encodingFormat = body.encoding_format === 'base64' ? 'base64' : 'float';
    // Float vectors go out as watsonx wrote them: parsing and formatting ~77,000 numbers again cost
    // more than the rest of the request (embedding-text.ts). Base64 needs every number parsed anyway.
    const rawVectors = encodingFormat === 'float';
    const answers = await runBounded(
      watsonxRequests,
      EMBEDDING_BATCH_CONCURRENCY,
      abort.signal,
      (batch, signal) => upstream.client.embeddings(batch, { ...call, signal }, rawVectors),
    );
    const { usage, parts } = toEmbeddingBody(watsonxRequests, answers, {
      model: body.model,
      encodingFormat,
      dimensions: body.dimensions,
    });
    request.gateway.usage = { ...usage, completion_tokens: 0 };
    return new JsonText(parts);
  };

  return {
    path: '/embeddings',
    schema: EmbeddingRequestSchema,
    summary: 'Creates embedding vectors for the input text(s).',
    handle,
  };
}
