// An estimate of a prompt's tokens, for /v1/messages/count_tokens and message_start's input_tokens.
// Pure. watsonx's own count comes only with the answer; this is documented as an estimate.
import type { WatsonxChatRequest } from '../../watsonx/types.ts';

/** Characters per token of the estimate: the usual rule of thumb for English text and code. */
const CHARACTERS_PER_TOKEN = 4;
/** A chat template's tokens around each message (role markers, separators). */
const TOKENS_PER_MESSAGE = 4;

/**
 * Tokens of the watsonx request the messages call would send: its messages' text (tool calls and
 * results included) and tool definitions at 4 characters a token, plus 4 a message. At least 1:
 * Claude Code trusts a count of 0 and would never compact its context.
 */
export function estimateInputTokens(body: WatsonxChatRequest): number {
  let characters = 0;
  for (const message of body.messages) {
    if (typeof message.content === 'string') characters += message.content.length;
    else if (Array.isArray(message.content)) {
      for (const part of message.content) {
        // An image costs what watsonx says; a flat guess keeps the estimate honest in size.
        characters += part.type === 'text' ? part.text.length : 1000 * CHARACTERS_PER_TOKEN;
      }
    }
    if (message.role === 'assistant') {
      for (const call of message.tool_calls ?? []) {
        characters += call.function.name.length + call.function.arguments.length;
      }
    }
  }
  if (body.tools) characters += JSON.stringify(body.tools).length;
  const tokens = Math.ceil(characters / CHARACTERS_PER_TOKEN) + TOKENS_PER_MESSAGE * body.messages.length;
  return Math.max(1, tokens);
}
