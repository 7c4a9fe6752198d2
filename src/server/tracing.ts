// What tracing adds to a request (README "Tracing"): the request span that @fastify/otel opens gets
// the gateway's facts (route, model, watsonx's status, tokens, time to first token), and streams,
// whose hijacked replies never reach the onSend hook where @fastify/otel ends that span, have it
// ended at their accounting. The upstream calls are undici's spans (src/process/tracing.ts), named
// here after what they call.
//
// Loaded only when tracing is on (src/process/tracing.ts imports it); app.ts knows the
// RequestTracer interface alone, so without OTEL_EXPORTER_OTLP_ENDPOINT nothing of OpenTelemetry
// is loaded or run on a request.
import { context, type Span, SpanStatusCode, trace } from '@opentelemetry/api';
import type { FastifyRequest } from 'fastify';
import type { GatewayRequestState } from './lifecycle.ts';

/** Where app.ts hands a request to tracing (only when tracing is on). */
export interface RequestTracer {
  /** onRequest, after @fastify/otel opened the request span. */
  begin(request: FastifyRequest): void;
  /** At the request's accounting: ends the span if @fastify/otel has not (it ends it at onSend or onResponse). */
  finish(state: GatewayRequestState, status: number): void;
}

/** The fields of undici's request that name an upstream call (undici's diagnostics_channel object). */
export interface UpstreamRequestFacts {
  method: string;
  path: string;
}

/** Paths of the token endpoints: IBM Cloud IAM, Cloud Pak for Data, watsonx on AWS. */
const TOKEN_PATHS = [/\/identity\/token$/, /\/authorize$/, /\/apikeys\/token$/];

interface Traced {
  span: Span;
  state: GatewayRequestState;
  /** The last status watsonx answered (after a 401 and its retry: the retry's). */
  upstreamStatus?: number;
}

/** Span attributes: OpenTelemetry's gen_ai conventions where they exist, `gateway.*` otherwise. */
export const TRACE_ATTRIBUTES = {
  route: 'gateway.route',
  provider: 'gen_ai.provider.name',
  requestModel: 'gen_ai.request.model',
  upstreamModel: 'gen_ai.response.model',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  stream: 'gateway.stream',
  timeToFirstToken: 'gateway.time_to_first_token_ms',
  upstreamStatus: 'gateway.upstream.status_code',
  upstreamCall: 'gateway.upstream.call',
  statusCode: 'http.response.status_code',
  errorCode: 'gateway.error.code',
  clientClosed: 'gateway.client_closed',
} as const;

export class GatewayRequestTracer implements RequestTracer {
  /** Requests in flight by their request span's id, for the upstream calls made under them. */
  private readonly bySpanId = new Map<string, Traced>();
  private readonly byState = new WeakMap<GatewayRequestState, Traced>();
  /** Each traced undici request's gateway request, for its response status. */
  private readonly byUpstreamRequest = new WeakMap<object, Traced>();

  begin(request: FastifyRequest): void {
    const telemetry = (request as { opentelemetry?: () => { span: Span | null } }).opentelemetry?.();
    const span = telemetry?.span;
    if (!span) return;
    const traced: Traced = { span, state: request.gateway };
    this.byState.set(request.gateway, traced);
    this.bySpanId.set(span.spanContext().spanId, traced);
    span.setAttribute(TRACE_ATTRIBUTES.route, request.gateway.route);
    // @fastify/otel ends the span at onSend (an answer) or at onResponse (a stream, once its last
    // byte left); the gateway's facts are final by then and are written just before.
    const end = span.end.bind(span);
    span.end = (endTime) => {
      this.close(traced);
      end(endTime);
    };
  }

  finish(state: GatewayRequestState, status: number): void {
    // Still here: @fastify/otel did not end the span (the client left before the answer, or the
    // sampler dropped the trace); ended now, through close().
    const traced = this.byState.get(state);
    if (!traced) return;
    if (traced.span.isRecording()) traced.span.setAttribute(TRACE_ATTRIBUTES.statusCode, status);
    traced.span.end();
  }

  /** The span's last attributes and status; forgets the request. */
  private close(traced: Traced): void {
    const { span, state } = traced;
    if (!this.byState.has(state)) return;
    this.byState.delete(state);
    this.bySpanId.delete(span.spanContext().spanId);
    if (!span.isRecording()) return;
    this.describe(traced);
    if (state.abort.signal.aborted) span.setAttribute(TRACE_ATTRIBUTES.clientClosed, true);
    if (state.streamError) {
      const code = state.streamError.code ?? state.streamError.kind;
      span.setAttribute(TRACE_ATTRIBUTES.errorCode, code);
      span.setStatus({ code: SpanStatusCode.ERROR, message: code });
    }
  }

  /** undici's requestHook: names the call and ties it to the gateway request it serves. */
  upstreamRequest(span: Span, request: UpstreamRequestFacts & object): void {
    const path = request.path.split('?')[0] ?? request.path;
    const call = TOKEN_PATHS.some((pattern) => pattern.test(path)) ? 'auth' : 'watsonx';
    span.updateName(`${request.method} ${path}`);
    span.setAttribute(TRACE_ATTRIBUTES.upstreamCall, call);
    if (call !== 'watsonx') return;
    const traced = this.owner();
    if (traced) this.byUpstreamRequest.set(request, traced);
  }

  /** undici's responseHook: watsonx's status, on the gateway request's span. */
  upstreamResponse(request: object, status: number): void {
    const traced = this.byUpstreamRequest.get(request);
    if (traced) traced.upstreamStatus = status;
  }

  /** The gateway request whose context is active: its request span, or the handler span under it. */
  private owner(): Traced | undefined {
    const active = trace.getSpan(context.active());
    if (!active) return undefined;
    const own = this.bySpanId.get(active.spanContext().spanId);
    if (own) return own;
    const parent = (active as { parentSpanContext?: { spanId: string } }).parentSpanContext;
    return parent ? this.bySpanId.get(parent.spanId) : undefined;
  }

  private describe(traced: Traced): void {
    const { span, state } = traced;
    const usage = state.usage ?? state.upstreamUsage;
    span.setAttribute(TRACE_ATTRIBUTES.provider, 'ibm.watsonx.ai');
    if (state.model !== undefined) span.setAttribute(TRACE_ATTRIBUTES.requestModel, state.model);
    if (state.upstreamModel !== undefined)
      span.setAttribute(TRACE_ATTRIBUTES.upstreamModel, state.upstreamModel);
    span.setAttribute(TRACE_ATTRIBUTES.stream, state.stream === true);
    if (usage?.prompt_tokens !== undefined)
      span.setAttribute(TRACE_ATTRIBUTES.inputTokens, usage.prompt_tokens);
    if (usage?.completion_tokens !== undefined) {
      span.setAttribute(TRACE_ATTRIBUTES.outputTokens, usage.completion_tokens);
    }
    if (state.firstTokenAt !== undefined) {
      const ms = Math.round((state.firstTokenAt - state.startedAt) * 1000) / 1000;
      span.setAttribute(TRACE_ATTRIBUTES.timeToFirstToken, ms);
    }
    if (traced.upstreamStatus !== undefined) {
      span.setAttribute(TRACE_ATTRIBUTES.upstreamStatus, traced.upstreamStatus);
    }
  }
}
