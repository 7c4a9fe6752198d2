// The vectors of a text/embeddings answer as watsonx wrote them: the JSON text of each
// `results[i].embedding` array, in order. Relaying that text spares formatting every number again
// (for 100 × 768 floats, re-serialising was the largest cost of the request; bench/README.md).

/** `"embedding"` as an object key (outside strings a quote cannot be escaped) and its array. */
const EMBEDDING_KEY = /"embedding"\s*:\s*\[/g;

/**
 * The text of each embedding array, or undefined unless exactly `expected` were found. An embedding
 * holds numbers only, so its first `]` closes it.
 */
export function embeddingTexts(body: string, expected: number): string[] | undefined {
  const texts: string[] = [];
  const key = new RegExp(EMBEDDING_KEY);
  for (let match = key.exec(body); match !== null; match = key.exec(body)) {
    const start = key.lastIndex - 1;
    const end = body.indexOf(']', start);
    if (end < 0) return undefined;
    texts.push(body.slice(start, end + 1));
    key.lastIndex = end + 1;
  }
  return texts.length === expected ? texts : undefined;
}
