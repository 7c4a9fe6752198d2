// GET /v1/models and GET /v1/models/{id} (ids contain slashes: raw and %2F-encoded both work).
import type { FastifyInstance } from 'fastify';
import type { ModelCatalogue } from '../../models/catalogue.ts';
import { ProxyError } from '../../server/errors.ts';
import { resolveModel } from '../../models/model-map.ts';
import { aliasName, type OpenAIModel, toOpenAIModel } from '../translate/models.ts';

export function registerModels(
  app: FastifyInstance,
  options: { catalogue: ModelCatalogue; modelMap: ReadonlyMap<string, string> },
): void {
  const { catalogue, modelMap } = options;

  const list = async () => {
    const models = await catalogue.list();
    const byId = new Map(models.map((model) => [model.id, model]));
    const data: OpenAIModel[] = models.map((model) => toOpenAIModel(model));
    for (const [key, target] of modelMap) {
      const model = byId.get(target);
      if (model) data.push(toOpenAIModel(model, aliasName(key)));
    }
    return { object: 'list' as const, data };
  };

  const retrieve = async (id: string) => {
    const target = resolveModel(id, modelMap);
    const model = await catalogue.get(target);
    if (!model) {
      throw new ProxyError(404, `The model '${id}' does not exist`, {
        type: 'invalid_request_error',
        code: 'model_not_found',
        param: 'model',
      });
    }
    return toOpenAIModel(model, target === id ? undefined : id);
  };

  const config = { requiresKey: true };
  app.get('/v1/models', { config }, list);
  app.get('/models', { config, schema: { hide: true } }, list);
  const byId = async (request: { params: { '*': string } }) => retrieve(decodeOnce(request.params['*']));
  app.get<{ Params: { '*': string } }>('/v1/models/*', { config }, byId);
  app.get<{ Params: { '*': string } }>('/models/*', { config, schema: { hide: true } }, byId);
}

/** `ibm%2Fgranite-…` (what openai-node sends) and `ibm/granite-…` (what curl users type) are the same id. */
function decodeOnce(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
