// POST /v1/messages/count_tokens (also /messages/count_tokens): the prompt's tokens, estimated from
// the watsonx request the messages call would send (translate/count-tokens.ts). Never 0: Claude Code
// trusts the number for its context window and auto-compaction.
import type { FastifyRequest } from 'fastify';
import type { SurfaceContext, SurfaceRoute } from '../../server/surface.ts';
import { anthropicErrors } from '../errors.ts';
import { CountTokensSchema } from '../schemas/answers.ts';
import { type CountTokensRequest, CountTokensRequestSchema } from '../schemas/messages.ts';
import { estimateInputTokens } from '../translate/count-tokens.ts';
import { toWatsonxPrompt } from '../translate/messages-request.ts';
import { messagesTarget } from './model.ts';

export function countTokensRoute(context: SurfaceContext): SurfaceRoute<CountTokensRequest> {
  return {
    path: '/messages/count_tokens',
    schema: CountTokensRequestSchema,
    response: { 200: CountTokensSchema },
    tags: ['Anthropic'],
    errors: anthropicErrors,
    summary: "Counts a message request's input tokens (an estimate: 4 characters a token, 4 a message).",
    async handle(request: FastifyRequest<{ Body: CountTokensRequest }>, reply) {
      reply.header('request-id', request.id);
      const { modelId } = await messagesTarget(context, request, request.body.model);
      const { body } = toWatsonxPrompt(request.body, modelId);
      return { input_tokens: estimateInputTokens(body) };
    },
  };
}
