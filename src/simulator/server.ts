// The simulator's HTTP side: routing, recording, auth, faults. Answers come from the pure modules
// (chat*, generation*, embeddings.ts, catalogue.ts); this file only decides which one and when.
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { isSimulatedError } from './body-checks.ts';
import { CATALOGUE_PATH, cataloguePage } from './catalogue.ts';
import { planChat, type ChatPlan } from './chat.ts';
import {
  type DeploymentOperation,
  deploymentBody,
  deploymentsPage,
  DEPLOYMENTS_LIST_PATH,
  findDeployment,
  MORE_INFO_DEPLOYMENTS_CHAT,
  MORE_INFO_DEPLOYMENTS_GENERATION,
  parseDeploymentPath,
} from './deployments.ts';
import { validateChatBody } from './chat-request.ts';
import { toChatResponse, type ResponseMeta } from './chat-response.ts';
import { chatStreamEvents } from './chat-stream.ts';
import type { Directives } from './directives.ts';
import {
  planEmbeddings,
  toEmbeddingsResponse,
  validateEmbeddingsBody,
  type EmbeddingsPlan,
} from './embeddings.ts';
import {
  errorForStatus,
  MORE_INFO_BASE,
  MORE_INFO_TEXT_CHAT,
  MORE_INFO_TEXT_EMBEDDINGS,
  MORE_INFO_TEXT_GENERATION,
  watsonxErrorBody,
  type SimulatedError,
} from './errors.ts';
import { FaultQueue } from './faults.ts';
import {
  planGeneration,
  toGenerationResponse,
  validateGenerationBody,
  type GenerationPlan,
} from './generation.ts';
import { generationStreamEvents } from './generation-stream.ts';
import {
  MORE_INFO_TEXT_RERANK,
  planRerank,
  toRerankResponse,
  validateRerankBody,
  type RerankPlan,
} from './rerank.ts';
import { handleIamToken, iamFault, type IamReply, iamKeyAccepted } from './iam.ts';
import { handleAwsToken, handleCp4dAuthorize, zenApiKeyAccepted, type AuthReply } from './auth.ts';
import { writeEventStream, type StreamEvent } from './sse.ts';
import type { RecordedRequest, Simulator, SimulatorFault, SimulatorOptions } from './types.ts';
import http from 'node:http';

const { createServer } = http;

interface Exchange {
  url: URL;
  request: IncomingMessage;
  response: ServerResponse;
  record: RecordedRequest;
  text: string;
  /** Aborted when the client goes away or the simulator closes. */
  signal: AbortSignal;
}

type Handler = (exchange: Exchange) => Promise<void> | void;

/** One inference endpoint: body → plan (or the error answered first) → JSON body or stream events. */
interface InferenceRoute<P> {
  /** `more_info` of its error bodies (the API-doc anchor of the operation). */
  moreInfo: string;
  plan: (body: unknown) => P | SimulatedError;
  directives?: (plan: P) => Partial<Directives>;
  json: (plan: P, meta: ResponseMeta) => unknown;
  /** Absent: the endpoint has no stream variant. */
  events?: (plan: P, meta: ResponseMeta) => StreamEvent[];
}

function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  response.writeHead(status, { 'content-type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

function sendError(response: ServerResponse, error: SimulatedError, moreInfo: string) {
  sendJson(response, error.status, watsonxErrorBody(error, moreInfo), error.headers);
}

function recordedBody(text: string, contentType: string | undefined): unknown {
  if (text === '') return undefined;
  if (contentType?.includes('application/x-www-form-urlencoded')) {
    return Object.fromEntries(new URLSearchParams(text));
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

async function readText(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const now = options.now ?? Date.now;
  const chunkDelayMs = options.chunkDelayMs ?? 0;
  const tokens = new Map<string, { expiresAtMs: number; expired: boolean }>();
  const faults = new FaultQueue();
  const requests: RecordedRequest[] = [];
  const closing = new AbortController();
  let baseUrl = '';

  /** The version query, checked on every /ml/ route. */
  function checkVersion(exchange: Exchange): SimulatedError | undefined {
    const version = exchange.url.searchParams.get('version');
    if (version === null || !/^\d{4}-\d{2}-\d{2}$/.test(version)) {
      return {
        status: 400,
        code: 'invalid_input_argument',
        message: "Missing or invalid query parameter 'version': expected a date YYYY-MM-DD",
      };
    }
    return undefined;
  }

  /**
   * The credential, checked on every /ml/ route but the model catalogue: a Bearer token this
   * simulator issued (IAM, CP4D, AWS) or was given (`staticBearerTokens`), or a ZenApiKey of a
   * CP4D user's API key.
   */
  function checkToken(exchange: Exchange): SimulatedError | undefined {
    const authorization = exchange.request.headers.authorization ?? '';
    const zen = /^ZenApiKey\s+(\S+)$/i.exec(authorization);
    if (zen) {
      if (zenApiKeyAccepted(zen[1]!, options.cp4dUsers)) return undefined;
      return {
        status: 401,
        code: 'authentication_token_not_valid',
        message: 'Failed to authenticate the request due to an invalid ZenApiKey',
      };
    }
    const match = /^Bearer\s+(\S+)$/i.exec(authorization);
    if (match && options.staticBearerTokens?.includes(match[1]!)) return undefined;
    const token = match ? tokens.get(match[1]!) : undefined;
    if (!token) {
      return {
        status: 401,
        code: 'authentication_token_not_valid',
        message: 'Failed to authenticate the request due to invalid token',
      };
    }
    if (token.expired || now() >= token.expiresAtMs) {
      return {
        status: 401,
        code: 'authentication_token_expired',
        message: 'Failed to authenticate the request due to an expired token',
      };
    }
    return undefined;
  }

  function iamToken(exchange: Exchange) {
    const forced = faults.takeIamError();
    const reply: IamReply =
      forced === undefined
        ? handleIamToken(exchange.text, {
            acceptedApiKeys: options.acceptedApiKeys,
            ttlSeconds: options.tokenTtlSeconds ?? 3600,
            now,
            issuer: baseUrl,
            remember: (token, expiresAtMs) => tokens.set(token, { expiresAtMs, expired: false }),
          })
        : iamFault(forced, baseUrl);
    exchange.response.writeHead(reply.status, { 'content-type': reply.contentType });
    exchange.response.end(reply.body);
  }

  const tokenSettings = () => ({
    ttlSeconds: options.tokenTtlSeconds ?? 3600,
    now,
    issuer: baseUrl,
    remember: (token: string, expiresAtMs: number) => tokens.set(token, { expiresAtMs, expired: false }),
  });

  /** The other token endpoints share IAM's `iam-error` faults (a forced status, plain text). */
  function tokenEndpoint(answer: (exchange: Exchange) => AuthReply) {
    return (exchange: Exchange) => {
      const forced = faults.takeIamError();
      if (forced !== undefined) {
        const reply = iamFault(forced, baseUrl);
        exchange.response.writeHead(reply.status, { 'content-type': reply.contentType });
        return void exchange.response.end(reply.body);
      }
      const reply = answer(exchange);
      sendJson(exchange.response, reply.status, reply.body);
    };
  }

  const cp4dAuthorize = tokenEndpoint((exchange) =>
    handleCp4dAuthorize(exchange.text, {
      ...tokenSettings(),
      users: options.cp4dUsers,
      tokenField: options.cp4dTokenField ?? 'token',
    }),
  );
  const awsToken = tokenEndpoint((exchange) =>
    handleAwsToken(exchange.text, {
      ...tokenSettings(),
      accepts: (apiKey) => iamKeyAccepted(apiKey, options.acceptedApiKeys),
    }),
  );

  /** Everything an inference route shares: access, JSON, faults, directives, stall, stream writing. */
  async function inference<P>(exchange: Exchange, route: InferenceRoute<P>, streaming: boolean) {
    const { response } = exchange;
    const fail = (error: SimulatedError) => sendError(response, error, route.moreInfo);
    const denied = checkVersion(exchange) ?? checkToken(exchange);
    if (denied) return fail(denied);
    let body: unknown;
    try {
      body = JSON.parse(exchange.text);
    } catch {
      return fail({
        status: 400,
        code: 'json_type_error',
        message: 'Json document type error: body is not valid JSON',
      });
    }
    const plan = route.plan(body);
    if (isSimulatedError(plan)) return fail(plan);
    const directives = route.directives?.(plan) ?? {};

    const taken = faults.takeInference(streaming);
    const stallMs = taken.stallMs ?? directives.stallMs ?? 0;
    const directiveError = directives.errorStatus;
    const error =
      taken.httpError ?? (directiveError === undefined ? undefined : errorForStatus(directiveError));
    const meta = { idHex: randomBytes(16).toString('hex'), nowMs: now() };
    if (error || !streaming || !route.events) {
      await sleep(stallMs, undefined, { signal: exchange.signal }).catch(() => undefined);
      if (exchange.signal.aborted) return;
      return error ? fail(error) : sendJson(response, 200, route.json(plan, meta));
    }
    await writeEventStream(response, route.events(plan, meta), {
      stallMs,
      chunkDelayMs,
      errorAfter: taken.streamErrorAfter ?? directives.streamErrorAfter,
      truncateAfter: taken.truncateAfter ?? directives.truncateAfter,
      errorData: () =>
        watsonxErrorBody(
          {
            status: 500,
            code: 'internal_server_error',
            message: 'Simulated failure in the middle of the stream',
          },
          route.moreInfo,
        ),
      signal: exchange.signal,
    });
  }

  const chat: InferenceRoute<ChatPlan> = {
    moreInfo: MORE_INFO_TEXT_CHAT,
    plan: (body) => {
      const validated = validateChatBody(body);
      return isSimulatedError(validated) ? validated : planChat(validated.request, validated.model);
    },
    directives: (plan) => plan.directives,
    json: toChatResponse,
    events: chatStreamEvents,
  };
  const generation: InferenceRoute<GenerationPlan> = {
    moreInfo: MORE_INFO_TEXT_GENERATION,
    plan: (body) => {
      const validated = validateGenerationBody(body);
      return isSimulatedError(validated) ? validated : planGeneration(validated.request, validated.model);
    },
    directives: (plan) => plan.directives,
    json: toGenerationResponse,
    events: generationStreamEvents,
  };
  const embeddings: InferenceRoute<EmbeddingsPlan> = {
    moreInfo: MORE_INFO_TEXT_EMBEDDINGS,
    plan: (body) => {
      const validated = validateEmbeddingsBody(body);
      return isSimulatedError(validated) ? validated : planEmbeddings(validated.request, validated.model);
    },
    json: toEmbeddingsResponse,
  };

  const rerank: InferenceRoute<RerankPlan> = {
    moreInfo: MORE_INFO_TEXT_RERANK,
    plan: (body) => {
      const validated = validateRerankBody(body);
      return isSimulatedError(validated) ? validated : planRerank(validated.request, validated.model);
    },
    json: toRerankResponse,
  };

  // IBM serves the catalogue without auth, so a token (valid or not) is ignored here
  function modelSpecs(exchange: Exchange) {
    const denied = checkVersion(exchange);
    const page =
      denied ?? cataloguePage(exchange.url.searchParams, { baseUrl, pageSize: options.modelPageSize ?? 100 });
    if (isSimulatedError(page)) return sendError(exchange.response, page, MORE_INFO_BASE);
    sendJson(exchange.response, 200, page);
  }

  const routes = new Map<string, Handler>([
    ['POST /identity/token', iamToken],
    ['POST /icp4d-api/v1/authorize', cp4dAuthorize],
    ['POST /api/2.0/apikeys/token', awsToken],
    ['POST /ml/v1/text/chat', (exchange) => inference(exchange, chat, false)],
    ['POST /ml/v1/text/chat_stream', (exchange) => inference(exchange, chat, true)],
    ['POST /ml/v1/text/generation', (exchange) => inference(exchange, generation, false)],
    ['POST /ml/v1/text/generation_stream', (exchange) => inference(exchange, generation, true)],
    ['POST /ml/v1/text/embeddings', (exchange) => inference(exchange, embeddings, false)],
    ['POST /ml/v1/text/rerank', (exchange) => inference(exchange, rerank, false)],
    [`GET ${CATALOGUE_PATH}`, modelSpecs],
  ]);

  // Deployments (deployments.ts): the listing, and /ml/v1/deployments/{id_or_name}/text/<operation>,
  // whose body rules are checked before the foundation-model route takes over.
  function deploymentsList(exchange: Exchange) {
    const denied = checkVersion(exchange) ?? checkToken(exchange);
    const page = denied ?? deploymentsPage(exchange.url.searchParams, baseUrl);
    if (isSimulatedError(page)) return sendError(exchange.response, page, MORE_INFO_BASE);
    sendJson(exchange.response, 200, page);
  }
  function viaDeployment<P>(
    base: InferenceRoute<P>,
    target: { idOrName: string; operation: DeploymentOperation },
    moreInfo: string,
  ): InferenceRoute<P> {
    return {
      ...base,
      moreInfo,
      plan: (body) => {
        const deployment = findDeployment(target.idOrName);
        if (isSimulatedError(deployment)) return deployment;
        const handed = deploymentBody(deployment, target.operation, body);
        return isSimulatedError(handed) ? handed : base.plan(handed);
      },
    };
  }
  function deploymentInference(method: string, path: string): Handler | undefined {
    const target = method === 'POST' ? parseDeploymentPath(path) : undefined;
    if (!target) return undefined;
    const streaming = target.operation.endsWith('_stream');
    if (target.operation.startsWith('chat')) {
      const route = viaDeployment(chat, target, MORE_INFO_DEPLOYMENTS_CHAT);
      return (exchange) => inference(exchange, route, streaming);
    }
    const route = viaDeployment(generation, target, MORE_INFO_DEPLOYMENTS_GENERATION);
    return (exchange) => inference(exchange, route, streaming);
  }
  routes.set(`GET ${DEPLOYMENTS_LIST_PATH}`, deploymentsList);

  async function handle(request: IncomingMessage, response: ServerResponse) {
    const url = new URL(request.url ?? '/', 'http://simulator');
    const record: RecordedRequest = {
      method: request.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      headers: { ...request.headers },
      body: undefined,
      aborted: false,
      finished: false,
    };
    requests.push(record);
    const gone = new AbortController();
    response.on('finish', () => (record.finished = true));
    response.on('close', () => {
      if (!response.writableFinished) record.aborted = true;
      gone.abort();
    });
    let text: string;
    try {
      text = await readText(request);
    } catch {
      record.aborted = true;
      return;
    }
    record.body = recordedBody(text, request.headers['content-type']);
    const signal = AbortSignal.any([gone.signal, closing.signal]);
    const handler =
      routes.get(`${record.method} ${url.pathname}`) ?? deploymentInference(record.method, url.pathname);
    if (handler) return handler({ url, request, response, record, text, signal });
    const message = `No route for ${record.method} ${url.pathname}`;
    sendError(response, { status: 404, code: 'not_found', message }, MORE_INFO_BASE);
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (response.headersSent) return void response.destroy();
      const message = error instanceof Error ? error.message : String(error);
      sendError(response, { status: 500, code: 'internal_server_error', message }, MORE_INFO_BASE);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    // exclusive: under node:cluster (WORKERS > 1) each worker needs its own simulator, not a port
    // shared with the other workers' simulators (their tokens would not be recognised).
    server.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1', exclusive: true }, () =>
      resolve(),
    );
  });
  const address = server.address() as AddressInfo;
  const host = address.address.includes(':') ? `[${address.address}]` : address.address;
  baseUrl = `http://${host}:${address.port}`;

  return {
    url: baseUrl,
    requests,
    enqueueFault: (fault: SimulatorFault) => faults.enqueue(fault),
    expireTokens: () => tokens.forEach((token) => (token.expired = true)),
    issuedTokens: () => tokens.size,
    close: async () => {
      closing.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}
