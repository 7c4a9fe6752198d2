// What an API surface (src/openai/, and the coming Responses and Anthropic Messages folders) gets
// from the server, and what it gives back: its routes are Fastify routes registered with
// `surfaceRoute`, and it renders the one error policy's GatewayError in its own protocol.
import type { FastifyInstance, FastifyReply, FastifyRequest, RouteShorthandOptions } from 'fastify';
import type { TSchema } from 'typebox';
import type { ModelCatalogue } from '../models/catalogue.ts';
import type { DeploymentDirectory } from '../models/deployments.ts';
import type { Upstream } from '../process/upstream.ts';
import type { ContainerSettings } from './container.ts';
import type { GatewayError } from './errors.ts';
import type { StreamSettings } from './sse.ts';

/** How one protocol writes the gateway's errors. */
export interface ErrorRenderer {
  /** The JSON body of an error answer (the status and headers come from the error). */
  errorBody(error: GatewayError, requestId: string): object;
  /** The JSON Schema of that body: the OpenAPI document's `default` (4xx/5xx) answer. */
  schema: TSchema;
  /**
   * The HTTP status, where the protocol's clients expect another than the policy's (Anthropic's SDKs
   * retry 529 `overloaded_error`); default: `error.status`.
   */
  status?(error: GatewayError): number;
}

/** What every inference route needs, built once by buildApp. */
export interface SurfaceContext {
  upstream: Upstream;
  catalogue: ModelCatalogue;
  modelMap: ReadonlyMap<string, string>;
  /** Check each request's model against the catalogue (MODEL_VALIDATION). */
  modelValidation: boolean;
  /** DEPLOYMENT_ALIASES: client model name → deployment id or serving name. */
  deploymentAliases: ReadonlyMap<string, string>;
  /** The deployments of each project or space (cached), for /v1/models and deployment calls. */
  deployments: DeploymentDirectory;
  /** The configured project or space and the allow-lists of the request headers (container.ts). */
  containers: ContainerSettings;
  defaultMaxTokens: number;
  /** truncate_input_tokens for embeddings (EMBEDDINGS_TRUNCATE_INPUT_TOKENS). */
  embeddingsTruncateInputTokens: number | 'max';
  /** How streams are sent (src/server/sse.ts `sendEventStream`). */
  streams: StreamSettings;
  /** Seconds clock for `created`. */
  now: () => number;
}

export interface SurfaceRoute<Body> {
  /** The path without the /v1 prefix (`/chat/completions`); served at both, documented with /v1. */
  path: string;
  /** Served at `path` alone, as it is (`/v2/rerank`), not also under /v1. */
  exactPath?: boolean;
  /** The request body: validated, and documented with `examples[0]` as /docs' "Try it out" body. */
  schema: TSchema;
  summary: string;
  tags: string[];
  /**
   * The answers by status (200: a schema, or `{ description, content }` per media type), for the
   * OpenAPI document only: replies are written with JSON.stringify, never filtered by these. The
   * error answer (`default`) is added from `errors.schema`.
   */
  response: Record<string, unknown>;
  errors: ErrorRenderer;
  /** The JSON answer, or nothing when the handler wrote a stream itself (`sendEventStream`). */
  handle(request: FastifyRequest<{ Body: Body }>, reply: FastifyReply): Promise<object | undefined>;
}

/**
 * Registers an inference route at `/v1<path>` and `<path>` (`exactPath`: at `path` alone): POST,
 * the gateway key required, the body validated against `schema`, errors rendered by the route's
 * surface.
 */
export function surfaceRoute<Body>(app: FastifyInstance, route: SurfaceRoute<Body>): void {
  const label = route.exactPath ? route.path : `/v1${route.path}`;
  const options: RouteShorthandOptions = {
    config: { requiresKey: true, label, errors: route.errors },
    schema: {
      summary: route.summary,
      tags: route.tags,
      body: route.schema,
      security: [{ bearer: [] }],
      response: { ...route.response, default: route.errors.schema },
    },
  };
  const handler = route.handle as (request: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
  app.post(label, options, handler);
  if (!route.exactPath)
    app.post(route.path, { ...options, schema: { ...options.schema, hide: true } }, handler);
}
