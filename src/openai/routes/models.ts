// GET /v1/models and GET /v1/models/{model} (ids contain slashes: raw and %2F-encoded both work).
import type { FastifyInstance, RouteShorthandOptions } from 'fastify';
import { Type } from 'typebox';
import type { ModelCatalogue } from '../../models/catalogue.ts';
import { resolveModel } from '../../models/model-map.ts';
import { modelNotFound } from '../../server/errors.ts';
import { OpenAIErrorSchema, openAIErrors } from '../errors.ts';
import { ModelListSchema, ModelSchema } from '../schemas/answers.ts';
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
      throw modelNotFound(`The model '${id}' does not exist`);
    }
    return toOpenAIModel(model, target === id ? undefined : id);
  };

  const config = { requiresKey: true, errors: openAIErrors };
  const listOptions: RouteShorthandOptions = {
    config: { ...config, label: '/v1/models' },
    schema: {
      summary: 'Lists the watsonx.ai models and the MODEL_MAP aliases.',
      tags: ['OpenAI'],
      security,
      response: { 200: ModelListSchema, default: OpenAIErrorSchema },
    },
  };
  app.get('/v1/models', listOptions, list);
  app.get('/models', { ...listOptions, schema: { hide: true } }, list);

  // Ids hold a slash: `ibm%2Fgranite-…` (what openai-node sends) matches `:model`, and find-my-way
  // decodes it; a raw `ibm/granite-…` (what curl users type) spans two segments and takes the
  // wildcard, decoded here.
  const byIdOptions: RouteShorthandOptions = {
    config: { ...config, label: '/v1/models/{model}' },
    schema: {
      summary: 'Retrieves one model (`ibm/granite-…` raw or %2F-encoded, or a MODEL_MAP alias).',
      tags: ['OpenAI'],
      security,
      params: Type.Object({
        model: Type.String({
          description: 'The model id, e.g. ibm/granite-4-h-small',
          examples: ['ibm/granite-4-h-small'],
        }),
      }),
      response: { 200: ModelSchema, default: OpenAIErrorSchema },
    },
  };
  const byParam = async (request: { params: { model: string } }) => retrieve(request.params.model);
  app.get<{ Params: { model: string } }>('/v1/models/:model', byIdOptions, byParam);
  app.get<{ Params: { model: string } }>(
    '/models/:model',
    { ...byIdOptions, schema: { hide: true } },
    byParam,
  );
  const hidden = { ...byIdOptions, schema: { hide: true } };
  const byPath = async (request: { params: { '*': string } }) => retrieve(decodeOnce(request.params['*']));
  app.get<{ Params: { '*': string } }>('/v1/models/*', hidden, byPath);
  app.get<{ Params: { '*': string } }>('/models/*', hidden, byPath);
}

const security = [{ bearer: [] }];

/** `ibm%2Fgranite-…` (what openai-node sends) and `ibm/granite-…` (what curl users type) are the same id. */
function decodeOnce(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
