// Reading JSON that watsonx or IAM sent: what arrives may be anything (an HTML error page, a cut
// body), so no reader throws a SyntaxError; each decides what "not JSON" means for it.

/** The parsed value, or undefined when `text` is not JSON. */
export function parseJsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

/** The parsed value when `text` is a JSON object; else undefined. */
export function parseJsonObject(text: string): Record<string, unknown> | undefined {
  const parsed = parseJsonOrUndefined(text);
  return parsed && typeof parsed === 'object' && !Array.isArray(parsed)
    ? (parsed as Record<string, unknown>)
    : undefined;
}
