// The model a request names → the watsonx model it reaches, checked before any upstream call.
import type { GatewayRequestState } from '../server/lifecycle.ts';
import type { CatalogueModel, ModelCatalogue, ModelFunction } from './catalogue.ts';
import { resolveModel } from './model-map.ts';

export interface Target {
  modelId: string;
  model: CatalogueModel | undefined;
}

export interface TargetSettings {
  catalogue: ModelCatalogue;
  modelMap: ReadonlyMap<string, string>;
  /** Check each request's model against the catalogue (MODEL_VALIDATION). */
  modelValidation: boolean;
}

/**
 * The client's model name → the watsonx model id (MODEL_MAP), checked against the catalogue:
 * unknown → 404 model_not_found, lacking `fn` → 400, before any upstream call. Records both names
 * on the request for the log line and metrics.
 */
export function targetModel(
  settings: TargetSettings,
  request: { gateway: GatewayRequestState },
  requested: string,
  fn: ModelFunction,
): Target | Promise<Target> {
  request.gateway.model = requested;
  const modelId = resolveModel(requested, settings.modelMap);
  request.gateway.upstreamModel = modelId;
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
