// OpenTelemetry start-up, when OTEL_EXPORTER_OTLP_ENDPOINT is set (main.ts imports this module only
// then, so without it nothing of OpenTelemetry is loaded): a tracer provider exporting OTLP over
// HTTP with JSON bodies (batched), W3C trace context, and two maintained instrumentations:
// - @fastify/otel: a span per request, parented on the client's `traceparent`; it registers itself
//   on every Fastify instance created afterwards (the `fastify.initialization` diagnostics channel),
//   so this runs before buildApp;
// - @opentelemetry/instrumentation-undici: a span per upstream call (watsonx, IAM and the other
//   token endpoints) with `traceparent` sent on, through undici's diagnostics channels: no import
//   hooks, whatever dispatcher the call uses.
// One tracer provider per process (OpenTelemetry's globals); WORKERS processes each start their own.
import { context, diag, type DiagLogger, DiagLogLevel, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { UndiciInstrumentation } from '@opentelemetry/instrumentation-undici';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type Sampler,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace-base';
import { FastifyOtelInstrumentation } from '@fastify/otel';
import type { TracingConfig } from './config.ts';
import { GatewayRequestTracer, type RequestTracer } from '../server/tracing.ts';

export interface Tracing {
  /** For buildApp: the gateway's facts on each request span. */
  requests: RequestTracer;
  /** Exports the spans still buffered, then stops (on shutdown). */
  shutdown(): Promise<void>;
}

/** Probes and scrapes are not traced: they would outnumber the traffic. */
const UNTRACED = /^\/(health|ready|metrics)(\?|$)/;

let started = false;

export function startTracing(settings: TracingConfig, version: string): Tracing {
  if (started) throw new Error('tracing is already started in this process (OpenTelemetry globals)');
  started = true;
  diag.setLogger(diagnostics, DiagLogLevel.WARN);
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());

  const exporter = new OTLPTraceExporter({ url: settings.tracesUrl, headers: { ...settings.headers } });
  const provider = new BasicTracerProvider({
    resource: defaultResource().merge(
      resourceFromAttributes({
        ...settings.resourceAttributes,
        'service.name': settings.serviceName,
        'service.version': version,
      }),
    ),
    sampler: sampler(settings),
    spanProcessors: [new BatchSpanProcessor(exporter)],
  });
  trace.setGlobalTracerProvider(provider);

  const requests = new GatewayRequestTracer();
  // Both are enabled as they are built (the global provider is set above).
  const undici = new UndiciInstrumentation({
    requestHook: (span, request) => requests.upstreamRequest(span, request),
    responseHook: (_span, { request, response }) => requests.upstreamResponse(request, response.statusCode),
  });
  const fastify = new FastifyOtelInstrumentation({
    registerOnInitialization: true,
    // The request span and the handler's (under which the upstream calls are made); no span per hook.
    instrumentHooks: false,
    ignorePaths: ({ url }) => UNTRACED.test(url),
    requestHook: (span, request) => {
      span.updateName(`${request.method} ${request.routeOptions.url ?? ''}`.trim());
    },
  });
  undici.setTracerProvider(provider);
  fastify.setTracerProvider(provider);

  return {
    requests,
    async shutdown() {
      fastify.disable();
      undici.disable();
      await provider.shutdown();
    },
  };
}

function sampler(settings: TracingConfig): Sampler {
  const ratio = () => new TraceIdRatioBasedSampler(settings.samplerRatio);
  switch (settings.sampler) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio();
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio() });
    case 'parentbased_always_on':
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/**
 * OpenTelemetry's own warnings (a collector that refuses or cannot be reached) as log lines in the
 * gateway's format; they never carry the exporter's headers.
 */
const write =
  (level: number) =>
  (message: string, ...args: unknown[]) => {
    const detail = args
      .map((arg) => (arg instanceof Error ? arg.message : typeof arg === 'string' ? arg : ''))
      .filter((text) => text !== '')
      .join(' ');
    process.stdout.write(
      `${JSON.stringify({ level, time: Date.now(), pid: process.pid, msg: `opentelemetry: ${message}${detail ? ` ${detail}` : ''}` })}\n`,
    );
  };
const ignore = () => {};
const diagnostics: DiagLogger = {
  error: write(50),
  warn: write(40),
  info: ignore,
  debug: ignore,
  verbose: ignore,
};
