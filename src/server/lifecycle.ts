// What every request carries from arrival to its one accounting (metrics, limits, the log line),
// on every route (registered once in app.ts).
import type { ServerResponse } from 'node:http';
import type { FastifyBaseLogger } from 'fastify';
import type { Authenticator } from '../watsonx/auth.ts';
import type { GatewayError } from './errors.ts';
import type { Metrics } from './metrics.ts';

/** nginx's status for a request whose client closed the connection before the answer was complete. */
const CLIENT_CLOSED = 499;
/** The metrics label of requests that matched no route. */
export const UNKNOWN_ROUTE = 'unknown';

/** Per-request facts gathered for the one log line written when the reply is done. */
export interface GatewayRequestState {
  /** The route's URL pattern (`unknown` for a 404) and whether it needs the gateway key. */
  route: string;
  requiresKey: boolean;
  model?: string;
  upstreamModel?: string;
  stream?: boolean;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
  upstreamUsage?: { prompt_tokens?: number; completion_tokens?: number; total_tokens?: number };
  streamError?: GatewayError;
  /** performance.now() when the request arrived; firstTokenAt when a stream sent its first text. */
  startedAt: number;
  firstTokenAt?: number;
  /**
   * The request's identity for per-key rate limits and stored Responses (memory only, never
   * logged): the gateway key presented, or `user:<SHA-256>` of the client's own IBM credential.
   */
  rateKey?: string;
  /** With per-request IBM credentials: the watsonx authenticator of this request's credential. */
  upstreamAuth?: Authenticator;
  /** With per-request IBM credentials: the credential's SHA-256, first 16 hex digits (logs, metrics). */
  user?: string;
  /** Aborted when the client goes away before the reply finished: cancels upstream calls. */
  abort: AbortController;
  /** The upstream model id once the catalogue knew it (a bounded metrics label). */
  metricModel?: string;
  streamCounted?: boolean;
  /** Counted against MAX_CONCURRENT_REQUESTS until the request is accounted for. */
  holdsSlot?: boolean;
  /** Bytes of its body counted against MAX_BODY_MEMORY_MB until the request is accounted for. */
  bodyBytes?: number;
  /** Its declared (small) body was held whole on arrival: no need to count its bytes. */
  bodyHeldAtOnce?: boolean;
  /** Settles when a stream's relay has cleaned up (its usage is then final). */
  streamSettled?: Promise<void>;
}

/** What the log line says about the request besides its state. */
interface RequestFacts {
  method: string;
  url: string;
  log: FastifyBaseLogger;
}

export interface LifecycleOptions {
  metrics: Metrics;
  /** Called once per request at accounting (limits give back slots and count tokens). */
  finished: (state: GatewayRequestState, status: number) => void;
  /** Whether `info` lines are written: the per-request line is built only then. */
  logsRequests: boolean;
  /** While the gateway drains: lets idle keep-alive connections go as requests finish. */
  onFinishWhileClosing: () => void;
}

export class RequestLifecycle {
  closing = false;
  private readonly options: LifecycleOptions;

  constructor(options: LifecycleOptions) {
    this.options = options;
  }

  begin(route: string, requiresKey: boolean): GatewayRequestState {
    return { route, requiresKey, startedAt: performance.now(), abort: new AbortController() };
  }

  /**
   * Accounts for the request exactly once, when its connection closes the response: after a
   * normal finish, or when the client went away first (logged as 499, and upstream calls are
   * aborted; then after the stream relay let go of upstream, when what it used is known).
   */
  track(state: GatewayRequestState, response: ServerResponse, facts: RequestFacts): void {
    response.once('close', () => {
      if (response.writableEnded) return this.finish(state, response.statusCode, facts, false);
      state.abort.abort();
      const settled = state.streamSettled;
      if (!settled) return this.finish(state, CLIENT_CLOSED, facts, true);
      // A relay that never started never settles: account after a second at the latest.
      let accounted = false;
      const account = () => {
        if (accounted) return;
        accounted = true;
        clearTimeout(fallback);
        this.finish(state, CLIENT_CLOSED, facts, true);
      };
      const fallback = setTimeout(account, 1000);
      fallback.unref();
      void settled.then(account);
    });
  }

  /** A stream's 200 went out: counted in gateway_streams_in_flight until the request finishes. */
  streamOpened(state: GatewayRequestState): void {
    state.streamCounted = true;
    this.options.metrics.streamsInFlight.inc();
  }

  private finish(state: GatewayRequestState, status: number, facts: RequestFacts, aborted: boolean): void {
    const { metrics } = this.options;
    const usage = state.usage ?? state.upstreamUsage;
    const route = state.route;
    const elapsedMs = performance.now() - state.startedAt;
    // server.close() drops only the connections idle at that moment; a keep-alive connection whose
    // response (a long stream) ends later would hold close() until the keep-alive timeout.
    if (this.closing) this.options.onFinishWhileClosing();
    if (state.streamCounted) metrics.streamsInFlight.dec();
    metrics.requests.inc({ route, status: String(status), model: state.metricModel ?? '' });
    metrics.duration.observe({ route }, elapsedMs / 1000);
    if (state.firstTokenAt !== undefined) {
      metrics.timeToFirstToken.observe({ route }, (state.firstTokenAt - state.startedAt) / 1000);
    }
    if (usage && state.upstreamModel) {
      metrics.tokens.inc({ model: state.upstreamModel, kind: 'prompt' }, usage.prompt_tokens ?? 0);
      metrics.tokens.inc({ model: state.upstreamModel, kind: 'completion' }, usage.completion_tokens ?? 0);
    }
    if (state.user !== undefined) {
      const user = metrics.userLabel(state.user, status);
      metrics.userRequests.inc({ user, status: String(status) });
      if (usage) {
        metrics.userTokens.inc({ user, kind: 'prompt' }, usage.prompt_tokens ?? 0);
        metrics.userTokens.inc({ user, kind: 'completion' }, usage.completion_tokens ?? 0);
      }
    }
    this.options.finished(state, status);
    if (!this.options.logsRequests) return;
    facts.log.info(
      {
        method: facts.method,
        route: route === UNKNOWN_ROUTE ? facts.url : route,
        status,
        durationMs: Math.round(elapsedMs * 10) / 10,
        ...(state.user !== undefined && { user: state.user }),
        ...(state.model !== undefined && { model: state.model, upstreamModel: state.upstreamModel }),
        ...(state.stream && { stream: true }),
        ...(usage && {
          promptTokens: usage.prompt_tokens,
          completionTokens: usage.completion_tokens,
        }),
        ...(state.streamError && { streamError: state.streamError.code }),
        ...(aborted && { clientClosed: true }),
      },
      'request completed',
    );
  }
}
