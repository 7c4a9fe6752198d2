// The Anthropic Messages API surface: messages, count_tokens and the Anthropic-shaped model list.
// One registration line in src/server/app.ts; everything Anthropic-specific (schemas, translators,
// error envelope, stream framing) lives in this folder.
import type { FastifyInstance } from 'fastify';
import { surfaceRoute, type SurfaceContext } from '../server/surface.ts';
import { countTokensRoute } from './routes/count-tokens.ts';
import { messagesRoute } from './routes/messages.ts';
import { registerAnthropicModels } from './routes/models.ts';

export { anthropicErrors } from './errors.ts';

export function registerAnthropic(app: FastifyInstance, context: SurfaceContext): void {
  surfaceRoute(app, messagesRoute(context));
  surfaceRoute(app, countTokensRoute(context));
  registerAnthropicModels(app, context);
}
