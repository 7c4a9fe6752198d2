// POST /v1/completions (also /completions), legacy text completions:
// route → translate request → watsonx text/generation(_stream) → translate response or stream → reply.
// watsonx generates one text per call, so a prompt array and n > 1 become one call per choice.
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { targetModel } from '../../models/target.ts';
import { randomHex } from '../../server/ids.ts';
import type { GatewayRequestState } from '../../server/lifecycle.ts';
import { sendEventStream, streamFailure } from '../../server/sse.ts';
import type { SurfaceContext, SurfaceRoute } from '../../server/surface.ts';
import { callOptions, relaySettlement, runBounded } from '../../server/upstream-call.ts';
import { openAIErrors } from '../errors.ts';
import { type CompletionRequest, CompletionRequestSchema } from '../schemas/completions.ts';
import { jsonOrEventStream, TextCompletionSchema } from '../schemas/answers.ts';
import { SSE_DONE, SSE_KEEP_ALIVE, sseData, sseFailure } from '../sse.ts';
import { toWatsonxGenerationRequests } from '../translate/completions-request.ts';
import { toTextCompletion } from '../translate/completions-response.ts';
import { CompletionStreamTranslator } from '../translate/completions-stream.ts';
import type { WatsonxGenerationRequest, WatsonxGenerationResponse } from '../../watsonx/types.ts';

/** Upstream calls in flight at once for one request (prompt arrays, n > 1). */
const UPSTREAM_CONCURRENCY = 4;

export function newTextCompletionId(): string {
  return `cmpl-${randomHex(16)}`;
}

export function completionsRoute(options: SurfaceContext): SurfaceRoute<CompletionRequest> {
  const { upstream } = options;

  const handle = async (request: FastifyRequest<{ Body: CompletionRequest }>, reply: FastifyReply) => {
    const body = request.body;
    const found = targetModel(options, request, body.model, 'text_generation');
    const target = found instanceof Promise ? await found : found;
    const { modelId, model } = target;
    const bodies = toWatsonxGenerationRequests(body, {
      modelId,
      // Never ask for more than the model can write: watsonx would refuse the request.
      defaultMaxTokens: Math.min(options.defaultMaxTokens, model?.maxOutputTokens ?? Infinity),
    });
    const echo = body.echo === true;
    const logprobs = body.logprobs != null;
    const call = callOptions(options, request, target);
    const abort = request.gateway.abort;

    if (body.stream !== true) {
      // Any failure fails the request: the calls still running are aborted.
      const responses = await runBounded(
        bodies,
        UPSTREAM_CONCURRENCY,
        abort.signal,
        (watsonxRequest, signal) => upstream.client.generation(watsonxRequest, { ...call, signal }),
      );
      const completion = toTextCompletion(
        bodies.map((watsonxRequest, index) => ({
          prompt: watsonxRequest.input,
          response: responses[index]!,
        })),
        { id: newTextCompletionId(), created: options.now(), model: body.model, echo, logprobs },
      );
      request.gateway.usage = completion.usage;
      return completion;
    }

    // Several choices stream one after another. Only the first call is made before the status is
    // fixed: a refusal of a later one arrives as an error frame, as any failure after the first byte.
    const first = await upstream.client.generationStream(bodies[0]!, call);
    request.gateway.stream = true;
    const translator = new CompletionStreamTranslator({
      id: newTextCompletionId(),
      created: options.now(),
      model: body.model,
      includeUsage: body.stream_options?.include_usage === true,
      logprobs,
    });
    const frames = relay({
      first,
      bodies,
      open: (watsonxRequest) => upstream.client.generationStream(watsonxRequest, call),
      echo,
      translator,
      request,
      signal: abort.signal,
      settled: relaySettlement(request.gateway),
    });
    return sendEventStream(reply, frames, SSE_KEEP_ALIVE, options.streams, request.gateway);
  };

  return {
    path: '/completions',
    schema: CompletionRequestSchema,
    response: { 200: jsonOrEventStream(TextCompletionSchema, 'text_completion') },
    tags: ['OpenAI'],
    errors: openAIErrors,
    summary: 'Creates a completion for the provided prompt (legacy; streaming or not).',
    handle,
  };
}

interface RelayOptions {
  /** The stream of choice 0, opened before the reply started. */
  first: AsyncGenerator<WatsonxGenerationResponse[]>;
  /** One body per choice, in choice order. */
  bodies: WatsonxGenerationRequest[];
  open: (body: WatsonxGenerationRequest) => Promise<AsyncGenerator<WatsonxGenerationResponse[]>>;
  echo: boolean;
  translator: CompletionStreamTranslator;
  request: { gateway: GatewayRequestState; log: FastifyBaseLogger };
  signal: AbortSignal;
  /** Called once the relay's usage is final (a client that left is accounted then). */
  settled: () => void;
}

/** Upstream events → SSE frames, choice after choice. After the first byte, failures become an error frame + [DONE]. */
async function* relay(options: RelayOptions): AsyncGenerator<string> {
  const { bodies, translator, request, signal } = options;
  let events: AsyncGenerator<WatsonxGenerationResponse[]> | undefined = options.first;
  try {
    // watsonx accepted the request: commit the headers now rather than at the first token, so that
    // clients see the stream open and keep-alives can flow while the model is still silent.
    yield SSE_KEEP_ALIVE;
    for (let index = 0; index < bodies.length; index++) {
      const body = bodies[index]!;
      events ??= await options.open(body);
      for (const chunk of translator.begin(index, options.echo ? body.input : undefined)) {
        yield sseData(chunk);
      }
      for await (const batch of events) {
        let frames = '';
        for (const event of batch) {
          for (const frame of translator.push(event)) frames += sseData(frame);
          // Stop reading once the stop reason arrived, even if watsonx keeps the connection open.
          if (translator.finished) break;
        }
        if (frames !== '') {
          request.gateway.firstTokenAt ??= performance.now();
          yield frames;
        }
        if (translator.finished) break;
      }
      await events.return(undefined);
      events = undefined;
      translator.end();
      request.gateway.upstreamUsage = translator.usage;
    }
    for (const frame of translator.finish()) yield sseData(frame);
    yield SSE_DONE;
  } catch (error) {
    if (signal.aborted) return;
    yield sseFailure(streamFailure(request, error));
  } finally {
    // Cut short, the choices begun still used tokens: the rate limits count them.
    request.gateway.upstreamUsage = translator.usage;
    options.settled();
    await events?.return(undefined);
  }
}
