// POST /v1/chat/completions (also /chat/completions):
// route → translate request → watsonx client → translate response or stream → reply.
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { targetModel } from '../../models/target.ts';
import { invalidRequest } from '../../server/errors.ts';
import { randomHex } from '../../server/ids.ts';
import type { GatewayRequestState } from '../../server/lifecycle.ts';
import { sendEventStream, streamFailure } from '../../server/sse.ts';
import type { SurfaceContext, SurfaceRoute } from '../../server/surface.ts';
import { callOptions, relaySettlement } from '../../server/upstream-call.ts';
import { openAIErrors } from '../errors.ts';
import { type ChatCompletionRequest, ChatCompletionRequestSchema } from '../schemas/chat.ts';
import { ChatCompletionSchema, jsonOrEventStream } from '../schemas/answers.ts';
import { SSE_DONE, SSE_KEEP_ALIVE, sseData, sseFailure } from '../sse.ts';
import { toChatCompletion } from '../translate/chat-response.ts';
import { ChatStreamTranslator } from '../translate/chat-stream.ts';
import { firstImagePart, toWatsonxChatRequest } from '../translate/chat-request.ts';
import type { WatsonxChatChunk } from '../../watsonx/types.ts';

export function newCompletionId(): string {
  return `chatcmpl-${randomHex(16)}`;
}

export function newToolCallId(): string {
  return `call_${randomHex(12)}`;
}

export function chatCompletionsRoute(options: SurfaceContext): SurfaceRoute<ChatCompletionRequest> {
  const { upstream } = options;

  const handle = async (request: FastifyRequest<{ Body: ChatCompletionRequest }>, reply: FastifyReply) => {
    const body = request.body;
    const found = targetModel(options, request, body.model, 'text_chat');
    const target = found instanceof Promise ? await found : found;
    const { modelId, model } = target;
    if (model && !model.functions.includes('image_chat')) {
      const image = firstImagePart(body.messages);
      if (image) {
        throw invalidRequest(
          `${image}: the model '${modelId}' does not accept images; use a vision model`,
          image,
          'unsupported_content',
        );
      }
    }
    const watsonxRequest = toWatsonxChatRequest(body, {
      modelId,
      // Never ask for more than the model can write: watsonx would refuse the request.
      defaultMaxTokens: Math.min(options.defaultMaxTokens, model?.maxOutputTokens ?? Infinity),
    });
    const call = callOptions(options, request, target);
    const abort = request.gateway.abort;
    const parallelToolCalls = body.parallel_tool_calls !== false;

    if (body.stream !== true) {
      const response = await upstream.client.chat(watsonxRequest, call);
      const completion = toChatCompletion(response, {
        model: body.model,
        parallelToolCalls,
        now: options.now,
        newCompletionId,
        newId: newToolCallId,
      });
      request.gateway.usage = completion.usage;
      return completion;
    }

    // Errors up to here (including watsonx refusing the request) become JSON errors with a status.
    const chunks = await upstream.client.chatStream(watsonxRequest, call);
    request.gateway.stream = true;
    const translator = new ChatStreamTranslator({
      id: newCompletionId(),
      created: options.now(),
      model: body.model,
      choices: body.n ?? 1,
      includeUsage: body.stream_options?.include_usage === true,
      parallelToolCalls,
      newId: newToolCallId,
    });
    const frames = relay(chunks, translator, request, abort.signal, relaySettlement(request.gateway));
    return sendEventStream(reply, frames, SSE_KEEP_ALIVE, options.streams, request.gateway);
  };

  return {
    path: '/chat/completions',
    schema: ChatCompletionRequestSchema,
    response: { 200: jsonOrEventStream(ChatCompletionSchema, 'chat.completion.chunk') },
    tags: ['OpenAI'],
    errors: openAIErrors,
    summary: 'Creates a model response for the given chat conversation (streaming or not).',
    handle,
  };
}

/**
 * Upstream chunks → SSE frames, one write per upstream read. After the first byte, failures become
 * an error frame + [DONE].
 */
async function* relay(
  batches: AsyncGenerator<WatsonxChatChunk[]>,
  translator: ChatStreamTranslator,
  request: { gateway: GatewayRequestState; log: FastifyBaseLogger },
  signal: AbortSignal,
  settled: () => void,
): AsyncGenerator<string> {
  let sentDeltas = 0;
  try {
    yield translator.start().map(sseData).join('');
    let complete = false;
    for await (const batch of batches) {
      let frames = '';
      for (const chunk of batch) {
        const out = translator.push(chunk);
        sentDeltas += out.length;
        for (const frame of out) frames += sseData(frame);
        if (chunk.usage) request.gateway.upstreamUsage = chunk.usage;
        // Some models keep the connection open after the last chunk; stop once nothing more is due.
        if ((complete = translator.complete)) break;
      }
      if (frames !== '') {
        request.gateway.firstTokenAt ??= performance.now();
        yield frames;
      }
      if (complete) break;
    }
    yield translator.finish().map(sseData).join('') + SSE_DONE;
  } catch (error) {
    if (signal.aborted) return;
    yield sseFailure(streamFailure(request, error));
  } finally {
    // A stream cut short never got watsonx's usage: count at least one token per delta sent, so
    // that hanging up early does not escape the per-key token budget.
    request.gateway.upstreamUsage ??= {
      prompt_tokens: 0,
      completion_tokens: sentDeltas,
      total_tokens: sentDeltas,
    };
    settled();
    await batches.return(undefined);
  }
}
