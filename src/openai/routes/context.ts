// What every OpenAI route needs, built once by buildApp and passed to each route.
import type { FastifyBaseLogger } from 'fastify';
import type { CatalogueModel, ModelCatalogue, ModelFunction } from '../../models/catalogue.ts';
import { toProxyError } from '../../server/errors.ts';
import type { GatewayRequestState } from '../../server/lifecycle.ts';
import { SSE_DONE, sseData } from '../sse.ts';
import { resolveModel } from '../../models/model-map.ts';
import type { Upstream } from '../../process/upstream.ts';
import type { CallOptions } from '../../watsonx/client.ts';

export interface RouteContext {
  upstream: Upstream;
  catalogue: ModelCatalogue;
  modelMap: ReadonlyMap<string, string>;
  /** Check each request's model against the catalogue (MODEL_VALIDATION). */
  modelValidation: boolean;
  defaultMaxTokens: number;
  /** truncate_input_tokens for embeddings (EMBEDDINGS_TRUNCATE_INPUT_TOKENS). */
  embeddingsTruncateInputTokens: number | 'max';
  keepAliveMs: number;
  /** A stream's 200 went out: counted in gateway_streams_in_flight until the request finishes. */
  streamOpened: (state: GatewayRequestState) => void;
  /** Seconds clock for `created`. */
  now: () => number;
}

/**
 * The client's model name → the watsonx model id (MODEL_MAP), checked against the catalogue:
 * unknown → 404 model_not_found, lacking `fn` → 400, before any upstream call.
 */
export function targetModel(
  context: RouteContext,
  request: { gateway: GatewayRequestState },
  requested: string,
  fn: ModelFunction,
): Target | Promise<Target> {
  request.gateway.model = requested;
  const modelId = resolveModel(requested, context.modelMap);
  request.gateway.upstreamModel = modelId;
  if (!context.modelValidation) return target(request, modelId, undefined);
  // The catalogue is usually cached: then no promise (and no wait) on the hot path.
  const cached = context.catalogue.requireCached(modelId, fn);
  if (cached) return target(request, modelId, cached);
  return context.catalogue.require(modelId, fn).then((model) => target(request, modelId, model));
}

export interface Target {
  modelId: string;
  model: CatalogueModel | undefined;
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
 * Makes the accounting of a stream its client abandons wait for the relay (lifecycle.ts): returns
 * what the relay calls once the usage it recorded is final.
 */
export function relaySettlement(gateway: GatewayRequestState): () => void {
  let settle!: () => void;
  gateway.streamSettled = new Promise<void>((resolve) => (settle = resolve));
  return settle;
}

/**
 * The options of every watsonx call a request makes: credentials, container, the request id for
 * tracing, and the request's abort signal (aborted when the client goes away; lifecycle.ts).
 */
export function callOptions(
  context: RouteContext,
  request: { id: string; gateway: GatewayRequestState },
): CallOptions {
  return {
    auth: context.upstream.auth,
    container: context.upstream.container,
    signal: request.gateway.abort.signal,
    requestId: request.id,
  };
}

/**
 * A stream that failed after its first byte: the status is gone, so the error goes out as an
 * OpenAI error frame followed by [DONE] (recorded for the log line and logged here).
 */
export function streamFailureFrames(
  request: { gateway: GatewayRequestState; log: FastifyBaseLogger },
  error: unknown,
): string {
  const proxyError = toProxyError(error);
  request.gateway.streamError = proxyError;
  request.log.warn(
    { err: error, status: proxyError.status, code: proxyError.code },
    'stream failed after the first byte',
  );
  return sseData(proxyError.toBody()) + SSE_DONE;
}

/**
 * Runs `task` on every item with at most `limit` in flight; results in item order. The first failure
 * aborts the others (through the signal each task gets), waits for them to settle and is the error
 * thrown. `parent` (the client's signal) aborting stops everything too. Failing tasks never abort
 * `parent` itself: an upstream failure is not a client that went away.
 */
export async function runBounded<T, R>(
  items: readonly T[],
  limit: number,
  parent: AbortSignal,
  task: (item: T, signal: AbortSignal) => Promise<R>,
): Promise<R[]> {
  const controller = new AbortController();
  const onParentAbort = () => controller.abort(parent.reason);
  if (parent.aborted) onParentAbort();
  else parent.addEventListener('abort', onParentAbort, { once: true });
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (failure === undefined && !controller.signal.aborted && next < items.length) {
      const index = next++;
      try {
        results[index] = await task(items[index] as T, controller.signal);
      } catch (error) {
        if (failure === undefined) {
          failure = { error };
          controller.abort();
        }
        return;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  } finally {
    parent.removeEventListener('abort', onParentAbort);
  }
  if (failure !== undefined) throw failure.error;
  if (controller.signal.aborted) throw controller.signal.reason;
  return results;
}
