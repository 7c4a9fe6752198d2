// The model a request names → the watsonx model or deployment it reaches, checked before any
// upstream call.
import type { IncomingHttpHeaders } from 'node:http';
import { type ContainerSettings, requestContainer } from '../server/container.ts';
import { GatewayError, invalidRequest } from '../server/errors.ts';
import type { GatewayRequestState } from '../server/lifecycle.ts';
import type { Authenticator } from '../watsonx/auth.ts';
import { DEPLOYMENT_NAME, type DeploymentCall } from '../watsonx/deployments.ts';
import type { CatalogueModel, ModelCatalogue, ModelFunction } from './catalogue.ts';
import { DEPLOYMENT_PREFIX, type DeploymentDirectory, requestAccess } from './deployments.ts';
import { resolveModel } from './model-map.ts';

export interface Target {
  /** The watsonx model id, or `deployment/<id or serving name>`. */
  modelId: string;
  /** The catalogue's facts: the model's, or a deployment's base model's when watsonx names it. */
  model: CatalogueModel | undefined;
  /** Set when the request goes to a deployment (the call then carries no container). */
  deployment?: DeploymentCall;
}

export interface TargetSettings {
  catalogue: ModelCatalogue;
  modelMap: ReadonlyMap<string, string>;
  /** Check each request's model against the catalogue (MODEL_VALIDATION). */
  modelValidation: boolean;
  /** DEPLOYMENT_ALIASES: client model name → deployment id or serving name. */
  deploymentAliases: ReadonlyMap<string, string>;
  /** The deployments of each container, for what the catalogue cannot know of them. */
  deployments: DeploymentDirectory;
  containers: ContainerSettings;
  upstream: { auth: Authenticator };
}

type TargetRequest = { gateway: GatewayRequestState; headers: IncomingHttpHeaders };

/**
 * The client's model name → the watsonx model id (DEPLOYMENT_ALIASES, then MODEL_MAP), checked
 * against the catalogue: unknown → 404 model_not_found, lacking `fn` → 400, before any upstream
 * call. `deployment/<id or serving name>` skips the catalogue (which does not list deployments).
 * Records both names on the request for the log line and metrics.
 */
export function targetModel(
  settings: TargetSettings,
  request: TargetRequest,
  requested: string,
  fn: ModelFunction,
): Target | Promise<Target> {
  request.gateway.model = requested;
  const alias = settings.deploymentAliases.size > 0 ? settings.deploymentAliases.get(requested) : undefined;
  const modelId =
    alias !== undefined ? `${DEPLOYMENT_PREFIX}${alias}` : resolveModel(requested, settings.modelMap);
  request.gateway.upstreamModel = modelId;
  if (modelId.startsWith(DEPLOYMENT_PREFIX)) return deploymentTarget(settings, request, modelId, fn);
  if (!settings.modelValidation) return target(request, modelId, undefined);
  // The catalogue is usually cached: then no promise (and no wait).
  const cached = settings.catalogue.requireCached(modelId, fn);
  if (cached) return target(request, modelId, cached);
  return settings.catalogue.require(modelId, fn).then((model) => target(request, modelId, model));
}

function target(
  request: { gateway: GatewayRequestState },
  modelId: string,
  model: CatalogueModel | undefined,
): Target {
  // Metrics label only names the catalogue knows: any other string would add a series forever.
  request.gateway.metricModel = model ? modelId : 'unlisted';
  return { modelId, model };
}

/**
 * A deployment: chat and text generation only (watsonx serves nothing else from deployments).
 * When the request has a container, the deployment is looked up in its list (cached) to learn
 * whether it is a prompt template and which base model's limits apply; unknown, it is called as is.
 */
async function deploymentTarget(
  settings: TargetSettings,
  request: TargetRequest,
  modelId: string,
  fn: ModelFunction,
): Promise<Target> {
  const idOrName = modelId.slice(DEPLOYMENT_PREFIX.length);
  if (!DEPLOYMENT_NAME.test(idOrName)) {
    throw invalidRequest(
      `'${modelId}' does not name a deployment: use deployment/<deployment id or serving name> ` +
        '(letters, digits, _ and -).',
      'model',
      'invalid_model',
    );
  }
  if (fn !== 'text_chat' && fn !== 'text_generation') {
    throw new GatewayError(
      400,
      `The model '${request.gateway.model}' is a watsonx.ai deployment: deployments serve chat and ` +
        'text generation (/v1/chat/completions, /v1/completions, /v1/responses, /v1/messages), not this endpoint.',
      { code: 'model_not_supported', param: 'model' },
    );
  }
  request.gateway.metricModel = 'deployment';
  const container = requestContainer(request.headers, settings.containers, false);
  const found = container
    ? await settings.deployments.find(requestAccess(settings, request), container, idOrName)
    : undefined;
  let model: CatalogueModel | undefined;
  if (found?.baseModelId !== undefined) {
    model = await settings.catalogue.get(found.baseModelId).catch(() => undefined);
  }
  return { modelId, model, deployment: { idOrName, promptTemplate: found?.promptTemplate ?? false } };
}
