// The parts of a request's watsonx calls that every surface shares: the call options (credentials,
// container, request id, the client's abort signal) and bounded fan-out for requests that need
// several calls.
import type { IncomingHttpHeaders } from 'node:http';
import type { Target } from '../models/target.ts';
import type { CallOptions } from '../watsonx/client.ts';
import { requestContainer } from './container.ts';
import type { GatewayRequestState } from './lifecycle.ts';
import type { SurfaceContext } from './surface.ts';

/**
 * The options of every watsonx call a request makes: credentials, container (the request's header
 * or the configured one: container.ts), the deployment when `target` names one, the request id for
 * tracing, and the request's abort signal (aborted when the client goes away; lifecycle.ts).
 */
export function callOptions(
  context: SurfaceContext,
  request: { id: string; gateway: GatewayRequestState; headers: IncomingHttpHeaders },
  target?: Target,
): CallOptions {
  const deployment = target?.deployment;
  return {
    // The request's own IBM credential when each client brings one (gateway-keys.ts), else the gateway's.
    auth: request.gateway.upstreamAuth ?? context.upstream.auth,
    // A deployment fixes its own container: a header is still checked, but none is required.
    container: requestContainer(request.headers, context.containers, deployment === undefined),
    deployment,
    signal: request.gateway.abort.signal,
    requestId: request.id,
  };
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
