// The vectors of a text/embeddings answer, left as watsonx wrote them. The answer's bytes are split
// into a small skeleton (each `"embedding": [...]` array replaced by `[]`), which is parsed as usual,
// and the bytes of each array, checked here to be a JSON array of numbers. Float answers relay those
// bytes; base64 answers parse one vector at a time. For 100 × 768 floats this keeps ~77,000 numbers
// and megabytes of garbage per request out of the JS heap (bench/README.md).
import type { WatsonxEmbeddingsResponse } from './types.ts';

/**
 * One vector as watsonx wrote it: the JSON array's bytes (numbers only, checked) and its length. A
 * class, so that nothing parsed from upstream JSON can pass for one.
 */
export class RawVector {
  readonly json: Buffer;
  readonly length: number;
  constructor(json: Buffer, length: number) {
    this.json = json;
    this.length = length;
  }
}

const KEY = Buffer.from('"embedding"');
const SPACE = 0x20;
const TAB = 0x09;
const LINE_FEED = 0x0a;
const CARRIAGE_RETURN = 0x0d;
const COLON = 0x3a;
const OPEN = 0x5b;
const CLOSE = 0x5d;

function isSpace(byte: number | undefined): boolean {
  return byte === SPACE || byte === LINE_FEED || byte === CARRIAGE_RETURN || byte === TAB;
}

/**
 * The answer with each vector replaced by `[i]`, its index (as text, to parse), and the vectors in
 * order; undefined when an `"embedding"` key is followed by something other than an array of
 * numbers (the caller then parses the whole answer). A key name inside a string cannot match: its
 * quotes would be escaped; a key spelled with escapes is caught by skeletonFits.
 */
export function splitEmbeddingVectors(body: Buffer): { skeleton: string; vectors: RawVector[] } | undefined {
  const pieces: Buffer[] = [];
  const vectors: RawVector[] = [];
  let cursor = 0;
  for (let key = body.indexOf(KEY); key >= 0; key = body.indexOf(KEY, cursor)) {
    let position = key + KEY.length;
    while (isSpace(body[position])) position += 1;
    if (body[position] !== COLON) {
      // "embedding" as a value, not a key.
      pieces.push(body.subarray(cursor, position));
      cursor = position;
      continue;
    }
    position += 1;
    while (isSpace(body[position])) position += 1;
    if (body[position] !== OPEN) return undefined;
    const close = body.indexOf(CLOSE, position);
    if (close < 0) return undefined;
    // The first vector's length is counted; every other vector must have the same (else the whole
    // answer is parsed, and its vectors of different lengths are refused there).
    const length = numberArrayLength(body.toString('latin1', position, close + 1), vectors[0]?.length);
    if (length < 0) return undefined;
    // The vector's place holds its index: the parsed skeleton must show each index where it belongs.
    pieces.push(body.subarray(cursor, position), Buffer.from(`[${vectors.length}]`));
    vectors.push(new RawVector(body.subarray(position, close + 1), length));
    cursor = close + 1;
  }
  pieces.push(body.subarray(cursor));
  return { skeleton: Buffer.concat(pieces).toString('utf8'), vectors };
}

/**
 * True when the parsed skeleton has one result per vector and `results[i].embedding` is `[i]`: the
 * split found exactly the vectors of `results`, in order, and JSON.parse read the same keys (an
 * `"embedd\u0069ng"` key or a repeated key would show another value).
 */
export function skeletonFits(response: WatsonxEmbeddingsResponse, vectors: readonly RawVector[]): boolean {
  const results = response.results;
  if (!Array.isArray(results) || results.length !== vectors.length) return false;
  for (let index = 0; index < results.length; index++) {
    const embedding = (results[index] as { embedding?: unknown } | null)?.embedding;
    if (!Array.isArray(embedding) || embedding.length !== 1 || embedding[0] !== index) return false;
  }
  return true;
}

/** A JSON number (RFC 8259 §6), and JSON's whitespace (not `\\s`, which also takes \\v, \\f, U+00A0…). */
const NUMBER = '-?(?:0|[1-9]\\d*)(?:\\.\\d+)?(?:[eE][+-]?\\d+)?';
const JSON_SPACE = '[ \\t\\n\\r]*';
const arrayPatterns = new Map<number, RegExp>();

/**
 * The pattern of a JSON array of exactly `count` numbers: one native pass checks both the spelling
 * and the length of a vector (a byte-by-byte reader in JS cost twice as much as JSON.parse).
 */
function arrayPattern(count: number): RegExp {
  let pattern = arrayPatterns.get(count);
  if (!pattern) {
    const items = count === 0 ? '' : `${NUMBER}(?:${JSON_SPACE},${JSON_SPACE}${NUMBER}){${count - 1}}`;
    pattern = new RegExp(`^\\[${JSON_SPACE}${items}${JSON_SPACE}\\]$`);
    if (arrayPatterns.size < 16) arrayPatterns.set(count, pattern);
  }
  return pattern;
}

/**
 * How many numbers `text` (a `[…]` array) holds when it is a JSON array of exactly that many numbers
 * and `expected` (when given) is that count; -1 otherwise.
 */
export function numberArrayLength(text: string, expected?: number): number {
  let count = expected;
  if (count === undefined) {
    let commas = 0;
    for (let at = text.indexOf(','); at >= 0; at = text.indexOf(',', at + 1)) commas += 1;
    count = commas > 0 || /\d/.test(text) ? commas + 1 : 0;
  }
  return arrayPattern(count).test(text) ? count : -1;
}
