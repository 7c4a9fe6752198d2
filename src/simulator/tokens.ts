// The simulator's token rule: a token is a run of word characters (\w+) or one punctuation
// character; whitespace is free. Prompt and completion usage, max_completion_tokens truncation and
// stream deltas all use this one rule, so a client can predict every number.

const TOKEN = /\w+|[^\w\s]/g;
/** One stream piece: a token with the whitespace before it, or trailing whitespace. */
const PIECE = /\s*(?:\w+|[^\w\s])|\s+$/g;

export function estimateTokens(text: string): number {
  return text.match(TOKEN)?.length ?? 0;
}

/** Splits text into stream pieces (one token each); joining the pieces gives back the text. */
export function splitIntoPieces(text: string): string[] {
  const pieces = text.match(PIECE) ?? [];
  const last = pieces.at(-1);
  // trailing whitespace rides on the last token so every piece counts as exactly one token
  if (last !== undefined && pieces.length > 1 && last.trim() === '') {
    pieces.pop();
    pieces[pieces.length - 1] += last;
  }
  return pieces;
}

/** The text up to the end of its first `count` tokens (embeddings' right truncation). */
export function truncateToTokens(text: string, count: number): string {
  return splitIntoPieces(text).slice(0, count).join('');
}
