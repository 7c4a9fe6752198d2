// The model a Messages request names → its watsonx model, with Claude Code's case in mind: it sends
// Claude model ids unless told otherwise, and a 404 must say how to point it at watsonx.
import type { FastifyRequest } from 'fastify';
import { type Target, targetModel } from '../../models/target.ts';
import { modelMapKey } from '../../models/model-map.ts';
import { GatewayError } from '../../server/errors.ts';
import type { SurfaceContext } from '../../server/surface.ts';

export async function messagesTarget(
  context: SurfaceContext,
  request: FastifyRequest,
  model: string,
): Promise<Target> {
  try {
    return await targetModel(context, request, model, 'text_chat');
  } catch (error) {
    if (
      error instanceof GatewayError &&
      error.code === 'model_not_found' &&
      /^(claude|anthropic)/i.test(model)
    ) {
      throw claudeModelNotFound(model);
    }
    throw error;
  }
}

export function claudeModelNotFound(model: string): GatewayError {
  return new GatewayError(
    404,
    `The model '${model}' is a Claude model name, and this gateway serves watsonx.ai models. ` +
      'Pick a watsonx model id (GET /v1/models lists them): in Claude Code set ANTHROPIC_MODEL ' +
      '(or --model) and ANTHROPIC_DEFAULT_HAIKU_MODEL (background tasks) to it, or map this name on ' +
      `the gateway with MODEL_MAP_${modelMapKey(model)}=<watsonx model id>.`,
    { code: 'model_not_found', param: 'model' },
  );
}
