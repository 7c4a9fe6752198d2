// watsonx tool-call arguments as the JSON text every protocol needs (a watsonx quirk, not a protocol rule).
/**
 * Tool-call `arguments` as clients need them: always a JSON-encoded string, `{}` when empty.
 * watsonx sometimes returns an object, an empty string, or (Granite) a double-encoded JSON string.
 */
export function normalizeToolArguments(value: unknown): string {
  if (value == null) return '{}';
  if (typeof value !== 'string') return JSON.stringify(value);
  const trimmed = value.trim();
  if (trimmed === '') return '{}';
  if (trimmed.startsWith('"')) {
    try {
      const inner: unknown = JSON.parse(trimmed);
      if (typeof inner === 'string') {
        const innerTrimmed = inner.trim();
        if (innerTrimmed.startsWith('{') || innerTrimmed.startsWith('[')) return innerTrimmed;
      }
    } catch {
      // not double-encoded JSON: leave it as sent
    }
  }
  return value;
}
