// Stream framing for OpenAI Chat Completions and completions: `data:` frames, `data: [DONE]` last,
// comment keep-alives — never `event:`, `id:` or `retry:` lines, which break openai-python and
// openai-node parsers. A failure after the first byte is an error frame, then [DONE].
import type { GatewayError } from '../server/errors.ts';
import { toOpenAIError } from './errors.ts';

export function sseData(value: unknown): string {
  return `data: ${JSON.stringify(value)}\n\n`;
}

export const SSE_DONE = 'data: [DONE]\n\n';
export const SSE_KEEP_ALIVE = ': keep-alive\n\n';

export function sseFailure(error: GatewayError): string {
  return sseData(toOpenAIError(error)) + SSE_DONE;
}
