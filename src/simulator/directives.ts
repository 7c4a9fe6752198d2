// `[[sim:KEY=VALUE]]` markers in the last user message (chat) or the input (text generation): let
// users' own CI trigger the simulator's quirks and failures through an unmodified client. Unknown
// keys and bad values are ignored.

/** `token_limit` is a text-generation stop_reason only; chat ignores it. */
export type SimulatedFinishReason = 'cancelled' | 'error' | 'time_limit' | 'token_limit';
const FINISH_REASONS: readonly string[] = ['cancelled', 'error', 'time_limit', 'token_limit'];

export interface Directives {
  /** Answer this HTTP status with a watsonx error body. */
  errorStatus?: number;
  streamErrorAfter?: number;
  truncateAfter?: number;
  stallMs?: number;
  /** 2024: running usage, `chat-` ids, no object/model, name in the second tool delta, close event. */
  framing: 2024 | 2025;
  closeEvent: boolean;
  finish?: SimulatedFinishReason;
  /** The arguments JSON of every tool call made (instead of values built from the schema). */
  toolArguments?: string;
}

const MARKER = /\s*\[\[sim:([a-z0-9_-]+)(?:=([^\]]*))?\]\]/gi;

function nonNegativeInteger(value: string | undefined): number | undefined {
  return value !== undefined && /^\d+$/.test(value.trim()) ? Number(value.trim()) : undefined;
}

function isJsonObject(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
}

/** Reads the markers of a text and returns the text without them. */
export function parseDirectives(text: string): { directives: Directives; text: string } {
  const directives: Directives = { framing: 2025, closeEvent: false };
  for (const match of text.matchAll(MARKER)) {
    const key = match[1]!.toLowerCase();
    const value = match[2];
    const number = nonNegativeInteger(value);
    switch (key) {
      case 'error':
        if (number !== undefined && number >= 400 && number <= 599) directives.errorStatus = number;
        break;
      case 'stream-error-after':
        if (number !== undefined) directives.streamErrorAfter = number;
        break;
      case 'truncate-after':
        if (number !== undefined) directives.truncateAfter = number;
        break;
      case 'stall':
        if (number !== undefined) directives.stallMs = number;
        break;
      case 'framing':
        if (number === 2024 || number === 2025) directives.framing = number;
        break;
      case 'close-event':
        directives.closeEvent = true;
        break;
      case 'tool-args':
        if (value !== undefined && isJsonObject(value)) directives.toolArguments = value;
        break;
      case 'finish':
        if (value !== undefined && FINISH_REASONS.includes(value))
          directives.finish = value as SimulatedFinishReason;
        break;
    }
  }
  return { directives, text: text.replace(MARKER, '').trim() };
}
