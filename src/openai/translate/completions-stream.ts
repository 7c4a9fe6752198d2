// watsonx generation_stream events → OpenAI text_completion chunks. The stateful translator of
// /v1/completions: it sees parsed JSON events (never SSE text) and returns the chunks to send.
//
// Choices are streamed one after another (prompt arrays, n > 1): begin(index) starts the next one,
// end() closes it. watsonx sends a text delta per event, generated_token_count cumulative,
// input_token_count on the first event only, and the real stop_reason on the last event; an empty
// first event may carry only warnings.
import { GatewayError } from '../../server/errors.ts';
import type { CompletionChoice, TextCompletionChunk } from '../schemas/completions.ts';
import type { OpenAIUsage } from '../schemas/types.ts';
import type { WatsonxGenerationResponse } from '../../watsonx/types.ts';
import { toOpenAIUsage } from './chat-response.ts';
import { mapStopReason, toCompletionLogprobs } from './completions-response.ts';

export interface CompletionStreamContext {
  /** The response id and creation time shared by every chunk. */
  id: string;
  created: number;
  model: string;
  /** stream_options.include_usage: add `usage: null` to every chunk and a final usage chunk. */
  includeUsage: boolean;
  /** logprobs was asked for: text chunks carry a logprobs object for their tokens. */
  logprobs: boolean;
}

interface ChoiceState {
  index: number;
  /** Characters of the choice's text sent so far (echoed prompt included): the next text_offset. */
  sentLength: number;
  promptTokens: number;
  completionTokens: number;
  finished: boolean;
}

export class CompletionStreamTranslator {
  private readonly context: CompletionStreamContext;
  private choice: ChoiceState | undefined;
  private promptTokens = 0;
  private completionTokens = 0;

  constructor(context: CompletionStreamContext) {
    this.context = context;
  }

  /** True once the current choice got its stop reason: nothing more is expected from its stream. */
  get finished(): boolean {
    return this.choice?.finished ?? false;
  }

  /** Usage so far, over every choice begun. */
  get usage(): OpenAIUsage {
    return toOpenAIUsage({
      prompt_tokens: this.promptTokens + (this.choice?.promptTokens ?? 0),
      completion_tokens: this.completionTokens + (this.choice?.completionTokens ?? 0),
    });
  }

  /** Starts choice `index`; with echo, its prompt is its first chunk. */
  begin(index: number, echo: string | undefined): TextCompletionChunk[] {
    if (this.choice) throw new Error('CompletionStreamTranslator: end() the previous choice first');
    this.choice = { index, sentLength: 0, promptTokens: 0, completionTokens: 0, finished: false };
    if (echo === undefined || echo === '') return [];
    this.choice.sentLength = echo.length;
    return [this.chunk({ text: echo, index, logprobs: null, finish_reason: null })];
  }

  push(event: WatsonxGenerationResponse): TextCompletionChunk[] {
    const choice = this.choice;
    if (!choice) throw new Error('CompletionStreamTranslator: begin() a choice first');
    const result = event.results?.[0];
    if (!result || choice.finished) return [];
    if (typeof result.input_token_count === 'number' && result.input_token_count > 0) {
      choice.promptTokens ||= result.input_token_count;
    }
    if (typeof result.generated_token_count === 'number') {
      choice.completionTokens = Math.max(choice.completionTokens, result.generated_token_count);
    }

    const out: TextCompletionChunk[] = [];
    const text = result.generated_text ?? '';
    // Empty fragments are skipped: some clients keep only chunks whose text is non-empty anyway.
    if (text !== '') {
      const logprobs = this.context.logprobs
        ? toCompletionLogprobs(result.generated_tokens, choice.sentLength)
        : null;
      choice.sentLength += text.length;
      out.push(this.chunk({ text, index: choice.index, logprobs, finish_reason: null }));
    }
    const reason = result.stop_reason?.toLowerCase();
    if (reason && reason !== 'not_finished') {
      // cancelled/error throw here: the relay turns that into an error frame.
      const finishReason = mapStopReason(reason);
      choice.finished = true;
      out.push(this.chunk({ text: '', index: choice.index, logprobs: null, finish_reason: finishReason }));
    }
    return out;
  }

  /** The current choice's stream ended: a GatewayError when it ended without a real stop reason. */
  end(): void {
    const choice = this.choice;
    if (!choice?.finished) {
      throw new GatewayError(502, 'watsonx.ai ended the stream before the answer was complete', {
        code: 'upstream_stream_incomplete',
      });
    }
    this.promptTokens += choice.promptTokens;
    this.completionTokens += choice.completionTokens;
    this.choice = undefined;
  }

  /** Every choice ended: the usage chunk when it was asked for. */
  finish(): TextCompletionChunk[] {
    if (this.choice) throw new Error('CompletionStreamTranslator: end() the last choice first');
    if (!this.context.includeUsage) return [];
    return [{ ...this.chunk(undefined), usage: this.usage }];
  }

  private chunk(choice: CompletionChoice | undefined): TextCompletionChunk {
    const chunk: TextCompletionChunk = {
      id: this.context.id,
      object: 'text_completion',
      created: this.context.created,
      model: this.context.model,
      system_fingerprint: null,
      choices: choice ? [choice] : [],
    };
    if (this.context.includeUsage) chunk.usage = null;
    return chunk;
  }
}
