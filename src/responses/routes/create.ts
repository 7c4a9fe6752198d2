// POST /v1/responses (also /responses): route → translate request → watsonx chat → translate the
// answer or relay the stream → reply (and keep it when `store` is not false).
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify';
import { targetModel } from '../../models/target.ts';
import { GatewayError, invalidRequest } from '../../server/errors.ts';
import { randomHex } from '../../server/ids.ts';
import type { GatewayRequestState } from '../../server/lifecycle.ts';
import { sendEventStream, streamFailure } from '../../server/sse.ts';
import type { SurfaceContext, SurfaceRoute } from '../../server/surface.ts';
import { callOptions, relaySettlement } from '../../server/upstream-call.ts';
import { ChatEventReader, readChatAnswer } from '../../watsonx/chat-events.ts';
import type { WatsonxChatChunk, WatsonxChatRequest, WatsonxUsage } from '../../watsonx/types.ts';
import { responsesErrors, streamError } from '../errors.ts';
import { responseOrEventStream } from '../schemas/answers.ts';
import { type CreateResponseRequest, CreateResponseRequestSchema } from '../schemas/request.ts';
import type { InputItem, ResponseObject } from '../schemas/types.ts';
import { SSE_KEEP_ALIVE, sseEvents } from '../sse.ts';
import { storeOwner } from '../owner.ts';
import type { ResponseStore } from '../store.ts';
import { toWatsonxChatRequest } from '../translate/request.ts';
import { responseShell, toResponse } from '../translate/response.ts';
import { ResponseStreamTranslator } from '../translate/stream.ts';

export const newResponseId = (): string => `resp_${randomHex(24)}`;
export const newItemId = (prefix: string): string => `${prefix}_${randomHex(24)}`;
export const newToolCallId = (): string => `call_${randomHex(12)}`;

export function createResponseRoute(
  context: SurfaceContext,
  store: ResponseStore,
): SurfaceRoute<CreateResponseRequest> {
  const { upstream } = context;

  const handle = async (request: FastifyRequest<{ Body: CreateResponseRequest }>, reply: FastifyReply) => {
    const body = request.body;
    refuseUnsupported(body as Record<string, unknown>);
    const found = targetModel(context, request, body.model, 'text_chat');
    const target = found instanceof Promise ? await found : found;
    const { modelId, model } = target;

    const owner = storeOwner(request);
    const history = await previousConversation(store, owner, body.previous_response_id);
    const references = await referencedItems(store, owner, body.input);
    const translated = toWatsonxChatRequest(body, {
      modelId,
      // Codex never sends max_output_tokens: a small default would cut long agent answers.
      defaultMaxOutputTokens: model?.maxOutputTokens ?? context.defaultMaxTokens,
      history,
      resolveItem: (id) => references.get(id),
    });
    if (model && !model.functions.includes('image_chat') && hasImage(translated.body)) {
      throw invalidRequest(
        `the model '${modelId}' does not accept images; use a vision model`,
        'input',
        'unsupported_content',
      );
    }
    if (translated.dropped.length > 0) {
      request.log.info({ dropped: translated.dropped }, 'responses: left out what watsonx chat cannot serve');
    }
    const shell = responseShell(body, { id: newResponseId(), createdAt: context.now() });
    const keep = async (response: ResponseObject) => {
      if (response.store) await store.put({ owner, response, items: translated.items });
    };
    const call = callOptions(context, request, target);

    if (body.stream !== true) {
      const answer = readChatAnswer(await upstream.client.chat(translated.body, call), newToolCallId);
      if (answer.finishReason === 'failed') {
        throw new GatewayError(
          502,
          `watsonx.ai ended the generation with finish_reason '${answer.rawFinishReason}'`,
          { code: 'upstream_generation_failed' },
        );
      }
      const response = toResponse(answer, { response: shell, tools: translated.tools, newItemId });
      request.gateway.usage = gatewayUsage(answer.usage);
      await keep(response);
      return response;
    }

    // Errors up to here (watsonx refusing the request included) are HTTP errors with a status.
    const chunks = await upstream.client.chatStream(translated.body, call);
    request.gateway.stream = true;
    const translator = new ResponseStreamTranslator({ response: shell, tools: translated.tools, newItemId });
    const frames = relay(chunks, translator, {
      request,
      signal: request.gateway.abort.signal,
      settled: relaySettlement(request.gateway),
      keep,
    });
    return sendEventStream(reply, frames, SSE_KEEP_ALIVE, context.streams, request.gateway);
  };

  return {
    path: '/responses',
    schema: CreateResponseRequestSchema,
    response: { 200: responseOrEventStream },
    tags: ['OpenAI'],
    errors: responsesErrors,
    summary:
      'Creates a model response (OpenAI Responses API: Codex CLI, the AI SDK, openai-node), streaming or not.',
    handle,
  };
}

/** Fields a bridge onto watsonx chat cannot honour and must not pretend to. */
function refuseUnsupported(body: Record<string, unknown>): void {
  if (body.conversation != null) {
    throw invalidRequest(
      'Conversation objects are not supported; chain turns with previous_response_id or send the whole input.',
      'conversation',
      'unsupported_parameter',
    );
  }
  if (body.background === true) {
    throw invalidRequest('Background responses are not supported.', 'background', 'unsupported_parameter');
  }
  if (body.prompt != null) {
    throw invalidRequest('Stored prompt templates are not supported.', 'prompt', 'unsupported_parameter');
  }
}

async function previousConversation(
  store: ResponseStore,
  owner: string,
  id: string | null | undefined,
): Promise<InputItem[]> {
  if (id == null) return [];
  const stored = await store.get(id, owner);
  if (!stored) {
    throw new GatewayError(
      404,
      `Previous response with id '${id}' not found (it expired, was deleted, or was created with store: false).`,
      { code: 'previous_response_not_found', param: 'previous_response_id' },
    );
  }
  return [...stored.items, ...(stored.response.output as InputItem[])];
}

async function referencedItems(
  store: ResponseStore,
  owner: string,
  input: CreateResponseRequest['input'],
): Promise<Map<string, InputItem>> {
  const found = new Map<string, InputItem>();
  if (!Array.isArray(input)) return found;
  for (const item of input as InputItem[]) {
    if (item.type !== 'item_reference' || typeof item.id !== 'string') continue;
    const stored = await store.getItem(item.id, owner);
    if (stored) found.set(item.id, stored);
  }
  return found;
}

function hasImage(body: WatsonxChatRequest): boolean {
  return body.messages.some(
    (message) =>
      message.role === 'user' &&
      Array.isArray(message.content) &&
      message.content.some((part) => part.type === 'image_url'),
  );
}

function gatewayUsage(usage: WatsonxUsage | undefined) {
  const prompt = usage?.prompt_tokens ?? 0;
  const completion = usage?.completion_tokens ?? 0;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: usage?.total_tokens ?? prompt + completion,
  };
}

interface RelayContext {
  request: { gateway: GatewayRequestState; log: FastifyBaseLogger };
  signal: AbortSignal;
  settled: () => void;
  keep: (response: ResponseObject) => Promise<void>;
}

/**
 * Upstream chunks → Responses events, one write per upstream read. After the first byte, a failure
 * becomes `error` + `response.failed`; an upstream that ends without a finish reason is a failure.
 */
async function* relay(
  batches: AsyncGenerator<WatsonxChatChunk[]>,
  translator: ResponseStreamTranslator,
  { request, signal, settled, keep }: RelayContext,
): AsyncGenerator<string> {
  const reader = new ChatEventReader({ newToolCallId });
  let sentEvents = 0;
  try {
    yield sseEvents(translator.start());
    let complete = false;
    for await (const batch of batches) {
      let frames = '';
      for (const chunk of batch) {
        for (const event of reader.push(chunk)) {
          const out = translator.push(event);
          sentEvents += out.length;
          frames += sseEvents(out);
        }
        // Some models keep the connection open after the last chunk; stop once nothing more is due.
        if ((complete = reader.complete)) break;
      }
      if (frames !== '') {
        request.gateway.firstTokenAt ??= performance.now();
        yield frames;
      }
      if (complete) break;
    }
    for (const event of reader.end()) translator.push(event);
    const terminal = sseEvents(translator.finish(reader.usage));
    // Kept before the last event goes out: a client may ask for it as soon as it has read it.
    await keep(translator.response);
    yield terminal;
  } catch (error) {
    if (signal.aborted) return;
    yield sseEvents(translator.fail(streamError(streamFailure(request, error)), reader.usage));
  } finally {
    // A stream cut short never got watsonx's usage: count at least one token per event sent, so that
    // hanging up early does not escape the per-key token budget.
    request.gateway.upstreamUsage = reader.usage ?? {
      prompt_tokens: 0,
      completion_tokens: sentEvents,
      total_tokens: sentEvents,
    };
    settled();
    await batches.return(undefined);
  }
}
