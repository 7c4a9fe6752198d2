// GET /v1/models and /v1/models/{model} in Anthropic's shape, for requests that carry an
// `anthropic-version` header (the Anthropic SDKs always send it; Claude Code's gateway model
// discovery uses it). The OpenAI surface keeps the same paths for every other request: the two are
// told apart by a Fastify route constraint on that header, so neither surface knows of the other.
import type { FastifyInstance, RouteShorthandOptions } from 'fastify';
import type { CatalogueModel, ModelCatalogue } from '../../models/catalogue.ts';
import { resolveModel } from '../../models/model-map.ts';
import { modelNotFound } from '../../server/errors.ts';
import { anthropicErrors } from '../errors.ts';
import { AnthropicModelListSchema } from '../schemas/answers.ts';

/** The constraint's name; its value is `anthropic` when the header is present. */
const CONSTRAINT = 'apiProtocol';

export interface AnthropicModel {
  type: 'model';
  id: string;
  display_name: string;
  created_at: string;
}

export function registerAnthropicModels(
  app: FastifyInstance,
  options: { catalogue: ModelCatalogue; modelMap: ReadonlyMap<string, string> },
): void {
  const { catalogue, modelMap } = options;
  if (!app.hasConstraintStrategy(CONSTRAINT)) {
    app.addConstraintStrategy({
      name: CONSTRAINT,
      storage() {
        const handlers = new Map<string, unknown>();
        return {
          get: (value: string) => (handlers.get(value) ?? null) as never,
          set: (value: string, store: unknown) => void handlers.set(value, store),
        };
      },
      deriveConstraint: (request) =>
        request.headers['anthropic-version'] === undefined ? undefined : 'anthropic',
      // Requests without the header (and routes without the constraint) match as before.
      mustMatchWhenDerived: false,
    });
  }

  const list = async () => {
    const models = (await catalogue.list()).filter((model) => model.functions.includes('text_chat'));
    const byId = new Map(models.map((model) => [model.id, model]));
    const data: AnthropicModel[] = [];
    // Aliases first: Claude Code's model discovery keeps only ids starting with "claude" or "anthropic".
    for (const [key, target] of modelMap) {
      const model = byId.get(target);
      if (model) data.push(toAnthropicModel(model, key.toLowerCase().replaceAll('_', '-')));
    }
    for (const model of models) data.push(toAnthropicModel(model));
    return { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
  };

  const retrieve = async (id: string) => {
    const target = resolveModel(id, modelMap);
    const model = await catalogue.get(target);
    if (!model) throw modelNotFound(`The model '${id}' does not exist`);
    return toAnthropicModel(model, target === id ? undefined : id);
  };

  const routeOptions = (label: string): RouteShorthandOptions => ({
    constraints: { [CONSTRAINT]: 'anthropic' },
    config: { requiresKey: true, label, errors: anthropicErrors },
    // One operation per path and method in the OpenAPI document: the OpenAI ones are documented.
    schema: { hide: true, response: { 200: AnthropicModelListSchema } },
  });
  for (const prefix of ['/v1', '']) {
    app.get(`${prefix}/models`, routeOptions('/v1/models'), list);
    app.get<{ Params: { model: string } }>(
      `${prefix}/models/:model`,
      { ...routeOptions('/v1/models/{model}'), schema: { hide: true } },
      async (request) => retrieve(request.params.model),
    );
    app.get<{ Params: { '*': string } }>(
      `${prefix}/models/*`,
      { ...routeOptions('/v1/models/{model}'), schema: { hide: true } },
      async (request) => retrieve(decodeOnce(request.params['*'])),
    );
  }
}

export function toAnthropicModel(model: CatalogueModel, alias?: string): AnthropicModel {
  return {
    type: 'model',
    id: alias ?? model.id,
    display_name: alias ? `${alias} (${model.id})` : model.id,
    created_at: new Date(model.created * 1000).toISOString(),
  };
}

function decodeOnce(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
