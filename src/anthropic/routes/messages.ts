// POST /v1/messages (also /messages; a query such as ?beta=true is ignored by the router):
// route → translate request → watsonx chat → translate the answer or relay the stream → reply.
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { invalidRequest } from '../../server/errors.ts';
import { randomHex } from '../../server/ids.ts';
import type { GatewayRequestState } from '../../server/lifecycle.ts';
import { sendEventStream, streamFailure } from '../../server/sse.ts';
import type { SurfaceContext, SurfaceRoute } from '../../server/surface.ts';
import { callOptions, relaySettlement } from '../../server/upstream-call.ts';
import { ChatEventReader, readChatAnswer } from '../../watsonx/chat-events.ts';
import type { WatsonxChatChunk } from '../../watsonx/types.ts';
import { anthropicErrors } from '../errors.ts';
import { MessageAnswerSchema } from '../schemas/answers.ts';
import { type MessagesRequest, MessagesRequestSchema } from '../schemas/messages.ts';
import { SSE_PING, sseEvent, sseFailure } from '../sse.ts';
import { estimateInputTokens } from '../translate/count-tokens.ts';
import { firstImageBlock, toWatsonxChatRequest, wantsThinking } from '../translate/messages-request.ts';
import { matchedStopSequence, toMessage } from '../translate/messages-response.ts';
import { MessageStreamTranslator } from '../translate/messages-stream.ts';
import { messagesTarget } from './model.ts';

export function newMessageId(): string {
  return `msg_${randomHex(12)}`;
}

export function newToolUseId(): string {
  return `toolu_${randomHex(12)}`;
}

export function messagesRoute(context: SurfaceContext): SurfaceRoute<MessagesRequest> {
  const { upstream } = context;

  const handle = async (request: FastifyRequest<{ Body: MessagesRequest }>, reply: FastifyReply) => {
    const body = request.body;
    // Anthropic's name for the request id header (x-request-id is sent too, as on every route).
    reply.header('request-id', request.id);
    const target = await messagesTarget(context, request, body.model);
    const { modelId, model } = target;
    if (model && !model.functions.includes('image_chat')) {
      const image = firstImageBlock(body.messages);
      if (image) {
        throw invalidRequest(
          `${image}: the model '${modelId}' does not accept images; use a vision model`,
          image,
        );
      }
    }
    const { body: watsonxRequest, dropped } = toWatsonxChatRequest(body, {
      modelId,
      maxOutputTokens: model?.maxOutputTokens,
    });
    if (dropped.length > 0)
      request.log.info({ dropped }, 'left out of the watsonx request: watsonx cannot run them');
    const estimatedInputTokens = estimateInputTokens(watsonxRequest);
    const thinking = wantsThinking(body);
    const call = callOptions(context, request, target);

    if (body.stream !== true) {
      const response = await upstream.client.chat(watsonxRequest, call);
      const answer = readChatAnswer(response, newToolUseId);
      request.gateway.upstreamUsage = answer.usage;
      return toMessage(answer, {
        id: newMessageId(),
        model: body.model,
        thinking,
        stopSequence: matchedStopSequence(response.choices?.[0], body.stop_sequences),
        estimatedInputTokens,
      });
    }

    // Errors up to here (watsonx refusing the request included) are HTTP errors with a status.
    const chunks = await upstream.client.chatStream(watsonxRequest, call);
    request.gateway.stream = true;
    const translator = new MessageStreamTranslator({
      id: newMessageId(),
      model: body.model,
      thinking,
      estimatedInputTokens,
    });
    const frames = relay(chunks, translator, request, {
      stopSequences: body.stop_sequences,
      signal: request.gateway.abort.signal,
      settled: relaySettlement(request.gateway),
    });
    return sendEventStream(reply, frames, SSE_PING, context.streams, request.gateway);
  };

  return {
    path: '/messages',
    schema: MessagesRequestSchema,
    response: { 200: MessageAnswerSchema },
    tags: ['Anthropic'],
    errors: anthropicErrors,
    summary: 'Creates a message (Anthropic Messages API; streaming or not) with a watsonx.ai chat model.',
    handle,
  };
}

/**
 * Upstream chunks → Anthropic SSE events, one write per upstream read. After the first byte, a
 * failure is an `error` event, and nothing follows it.
 */
async function* relay(
  batches: AsyncGenerator<WatsonxChatChunk[]>,
  translator: MessageStreamTranslator,
  request: { id: string; gateway: GatewayRequestState; log: FastifyBaseLogger },
  options: { stopSequences: string[] | undefined; signal: AbortSignal; settled: () => void },
): AsyncGenerator<string> {
  const reader = new ChatEventReader({ newToolCallId: newToolUseId });
  let stopSequence: string | null = null;
  try {
    // message_start at once (and a ping), so that clients see the answer begin while a model thinks.
    yield translator.start().map(sseEvent).join('') + SSE_PING;
    for await (const batch of batches) {
      let frames = '';
      for (const chunk of batch) {
        stopSequence ??= matchedStopSequence(chunk.choices?.[0], options.stopSequences);
        for (const event of translator.push(reader.push(chunk))) frames += sseEvent(event);
        if (chunk.usage) request.gateway.upstreamUsage = chunk.usage;
        // Some models keep the connection open after the last chunk; stop once nothing more is due.
        if (reader.complete) break;
      }
      if (frames !== '') {
        request.gateway.firstTokenAt ??= performance.now();
        yield frames;
      }
      if (reader.complete) break;
    }
    if (!reader.complete) reader.end();
    yield translator.end(reader.usage, stopSequence).map(sseEvent).join('');
  } catch (error) {
    if (options.signal.aborted) return;
    yield sseFailure(streamFailure(request, error), request.id);
  } finally {
    // A stream cut short never got watsonx's usage: count at least one token per delta sent, so
    // that hanging up early does not escape the per-key token budget.
    const sent = translator.sentDeltas;
    request.gateway.upstreamUsage ??= { prompt_tokens: 0, completion_tokens: sent, total_tokens: sent };
    options.settled();
    await batches.return(undefined);
  }
}
