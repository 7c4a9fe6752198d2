// GET /v1/models and /v1/models/{model} in Anthropic's shape, for requests that carry an
// `anthropic-version` header (the Anthropic SDKs always send it; Claude Code's gateway model
// discovery uses it). The OpenAI surface keeps the same paths for every other request: the two are
// told apart by a Fastify route constraint on that header, so neither surface knows of the other.
import type { FastifyInstance, FastifyRequest, RouteShorthandOptions } from 'fastify';
import type { CatalogueModel } from '../../models/catalogue.ts';
import {
  DEPLOYMENT_PREFIX,
  type Deployment,
  deploymentModelName,
  findDeployment,
  requestDeployments,
} from '../../models/deployments.ts';
import { resolveModel } from '../../models/model-map.ts';
import { modelNotFound } from '../../server/errors.ts';
import { verifyRequestCredential } from '../../server/gateway-keys.ts';
import type { SurfaceContext } from '../../server/surface.ts';
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
  options: Pick<
    SurfaceContext,
    'catalogue' | 'modelMap' | 'deployments' | 'deploymentAliases' | 'containers' | 'upstream'
  >,
): void {
  const { catalogue, modelMap, deploymentAliases } = options;
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

  const list = async (request: FastifyRequest) => {
    await verifyRequestCredential(request.gateway);
    const [all, deployments] = await Promise.all([catalogue.list(), requestDeployments(options, request)]);
    const models = all.filter((model) => model.functions.includes('text_chat'));
    const byId = new Map(models.map((model) => [model.id, model]));
    const data: AnthropicModel[] = [];
    // Aliases first: Claude Code's model discovery keeps only ids starting with "claude" or "anthropic".
    for (const [key, target] of modelMap) {
      const model = byId.get(target);
      if (model) data.push(toAnthropicModel(model, key.toLowerCase().replaceAll('_', '-')));
    }
    for (const [alias, idOrName] of deploymentAliases) {
      const deployment = findDeployment(deployments, idOrName);
      if (deployment) data.push(toAnthropicDeployment(deployment, alias));
    }
    for (const model of models) data.push(toAnthropicModel(model));
    // The ready deployments of the request's project or space (README: Projects, spaces and deployments).
    for (const deployment of deployments) data.push(toAnthropicDeployment(deployment));
    return { data, has_more: false, first_id: data[0]?.id ?? null, last_id: data.at(-1)?.id ?? null };
  };

  const retrieve = async (id: string, request: FastifyRequest) => {
    await verifyRequestCredential(request.gateway);
    const aliased = deploymentAliases.get(id);
    const target = aliased !== undefined ? `${DEPLOYMENT_PREFIX}${aliased}` : resolveModel(id, modelMap);
    if (target.startsWith(DEPLOYMENT_PREFIX)) {
      const deployments = await requestDeployments(options, request);
      const deployment = findDeployment(deployments, target.slice(DEPLOYMENT_PREFIX.length));
      if (!deployment) {
        throw modelNotFound(`The model '${id}' is not a ready deployment of this project or space`);
      }
      return toAnthropicDeployment(deployment, id === deploymentModelName(deployment) ? undefined : id);
    }
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
      async (request) => retrieve(request.params.model, request),
    );
    app.get<{ Params: { '*': string } }>(
      `${prefix}/models/*`,
      { ...routeOptions('/v1/models/{model}'), schema: { hide: true } },
      async (request) => retrieve(decodeOnce(request.params['*']), request),
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

/** A deployment as `deployment/<serving name or id>` (or its alias), named after its base model. */
export function toAnthropicDeployment(deployment: Deployment, alias?: string): AnthropicModel {
  const name = deploymentModelName(deployment);
  const base = deployment.baseModelId ? ` of ${deployment.baseModelId}` : '';
  return {
    type: 'model',
    id: alias ?? name,
    display_name: `${alias ? `${alias} (${name})` : (deployment.name ?? name)}: watsonx.ai deployment${base}`,
    created_at: new Date(deployment.created * 1000).toISOString(),
  };
}

function decodeOnce(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}
