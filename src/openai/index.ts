// The OpenAI API surface: Chat Completions, completions, embeddings and models. One registration
// line in src/server/app.ts; everything OpenAI-specific (schemas, translators, error envelope,
// stream framing) lives in this folder.
import type { FastifyInstance } from 'fastify';
import { surfaceRoute, type SurfaceContext } from '../server/surface.ts';
import { chatCompletionsRoute } from './routes/chat-completions.ts';
import { completionsRoute } from './routes/completions.ts';
import { embeddingsRoute } from './routes/embeddings.ts';
import { registerModels } from './routes/models.ts';

export { openAIErrors } from './errors.ts';

export function registerOpenAI(app: FastifyInstance, context: SurfaceContext): void {
  surfaceRoute(app, chatCompletionsRoute(context));
  surfaceRoute(app, completionsRoute(context));
  surfaceRoute(app, embeddingsRoute(context));
  registerModels(app, context);
}
