// GET /v1/models and GET /v1/models/{model} (ids contain slashes: raw and %2F-encoded both work):
// the catalogue, MODEL_MAP aliases, and the ready deployments of the request's project or space
// (as `deployment/<serving name or id>`, and their DEPLOYMENT_ALIASES names).
import type { IncomingHttpHeaders } from 'node:http';
import type { FastifyInstance, RouteShorthandOptions } from 'fastify';
import { Type } from 'typebox';
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
import type { GatewayRequestState } from '../../server/lifecycle.ts';
import type { SurfaceContext } from '../../server/surface.ts';
import { OpenAIErrorSchema, openAIErrors } from '../errors.ts';
import { ModelListSchema, ModelSchema } from '../schemas/answers.ts';
import { aliasName, type OpenAIModel, toOpenAIDeploymentModel, toOpenAIModel } from '../translate/models.ts';

type ModelsRequest = { headers: IncomingHttpHeaders; gateway: GatewayRequestState };

export function registerModels(
  app: FastifyInstance,
  options: Pick<
    SurfaceContext,
    'catalogue' | 'modelMap' | 'deployments' | 'deploymentAliases' | 'containers' | 'upstream'
  >,
): void {
  const { catalogue, modelMap, deploymentAliases } = options;

  const deploymentsOf = (request: ModelsRequest) => requestDeployments(options, request);

  const list = async (request: ModelsRequest) => {
    await verifyRequestCredential(request.gateway);
    const [models, deployments] = await Promise.all([catalogue.list(), deploymentsOf(request)]);
    const byId = new Map(models.map((model) => [model.id, model]));
    const data: OpenAIModel[] = models.map((model) => toOpenAIModel(model));
    for (const [key, target] of modelMap) {
      const model = byId.get(target);
      if (model) data.push(toOpenAIModel(model, aliasName(key)));
    }
    const base = (deployment: Deployment): CatalogueModel | undefined =>
      deployment.baseModelId === undefined ? undefined : byId.get(deployment.baseModelId);
    for (const deployment of deployments) data.push(toOpenAIDeploymentModel(deployment, base(deployment)));
    for (const [alias, idOrName] of deploymentAliases) {
      const deployment = findDeployment(deployments, idOrName);
      if (deployment) data.push(toOpenAIDeploymentModel(deployment, base(deployment), alias));
    }
    return { object: 'list' as const, data };
  };

  const retrieve = async (id: string, request: ModelsRequest) => {
    await verifyRequestCredential(request.gateway);
    const aliased = deploymentAliases.get(id);
    const target = aliased !== undefined ? `${DEPLOYMENT_PREFIX}${aliased}` : resolveModel(id, modelMap);
    if (target.startsWith(DEPLOYMENT_PREFIX)) {
      const idOrName = target.slice(DEPLOYMENT_PREFIX.length);
      const deployment = findDeployment(await deploymentsOf(request), idOrName);
      if (!deployment) {
        throw modelNotFound(`The model '${id}' is not a ready deployment of this project or space`);
      }
      const base = deployment.baseModelId
        ? await catalogue.get(deployment.baseModelId).catch(() => undefined)
        : undefined;
      return toOpenAIDeploymentModel(
        deployment,
        base,
        id === deploymentModelName(deployment) ? undefined : id,
      );
    }
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
      summary:
        'Lists the watsonx.ai models, the MODEL_MAP aliases and the ready deployments of the project or space.',
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
  const byParam = async (request: ModelsRequest & { params: { model: string } }) =>
    retrieve(request.params.model, request);
  app.get<{ Params: { model: string } }>('/v1/models/:model', byIdOptions, byParam);
  app.get<{ Params: { model: string } }>(
    '/models/:model',
    { ...byIdOptions, schema: { hide: true } },
    byParam,
  );
  const hidden = { ...byIdOptions, schema: { hide: true } };
  const byPath = async (request: ModelsRequest & { params: { '*': string } }) =>
    retrieve(decodeOnce(request.params['*']), request);
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
