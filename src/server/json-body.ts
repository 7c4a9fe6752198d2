// Request bodies are JSON: Fastify's own parser (prototype-poisoning refusal included) reads them,
// and two limits hold before anything is built from a body:
// - MAX_JSON_DEPTH: nesting deeper than this is refused with a 400 naming the field. Deeper JSON
//   would overflow the stack where a body is serialised for watsonx (JSON.stringify recurses).
//   Checked on the parsed body (V8's parser does not recurse), by an iterative walk.
// - MAX_JSON_CONTAINERS: objects and arrays per body. Each costs the heap ~60 bytes however small
//   its text (`{}` is 2 bytes), so a body within BODY_LIMIT_MB made of empty objects would grow
//   about 20 times when parsed. Bodies over PRESCAN_BYTES are counted on their text, without
//   building anything, before they are parsed; smaller ones cannot grow to more than a few MB.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GatewayError } from './errors.ts';

/** Deepest nesting of objects and arrays accepted in a request body. */
export const MAX_JSON_DEPTH = 128;
/** Most objects and arrays in one request body. */
export const MAX_JSON_CONTAINERS = 250_000;
/** Bodies longer than this are counted before they are parsed. */
export const PRESCAN_BYTES = 1024 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_OBJECT = 0x7b;
const OPEN_ARRAY = 0x5b;

/**
 * Whether the JSON text holds more than `max` objects and arrays: counts `{` and `[` outside
 * strings. The text need not be valid JSON: invalid text is refused by the parser afterwards.
 */
export function tooManyContainersIn(text: string, max = MAX_JSON_CONTAINERS): boolean {
  let containers = 0;
  const length = text.length;
  for (let index = 0; index < length; index++) {
    const code = text.charCodeAt(index);
    if (code === QUOTE) index = stringEnd(text, index);
    else if ((code === OPEN_OBJECT || code === OPEN_ARRAY) && ++containers > max) return true;
  }
  return false;
}

/** Whether objects and arrays nest more than `max` deep in a parsed value. Iterative. */
export function nestsDeeperThan(value: unknown, max = MAX_JSON_DEPTH): boolean {
  if (value === null || typeof value !== 'object') return false;
  const values: object[] = [value];
  const depths: number[] = [1];
  while (values.length > 0) {
    const current = values.pop()!;
    const depth = depths.pop()!;
    if (depth > max) return true;
    if (Array.isArray(current)) {
      for (const child of current as unknown[]) {
        if (child !== null && typeof child === 'object') {
          values.push(child);
          depths.push(depth + 1);
        }
      }
    } else {
      for (const key in current) {
        const child = (current as Record<string, unknown>)[key];
        if (child !== null && typeof child === 'object') {
          values.push(child);
          depths.push(depth + 1);
        }
      }
    }
  }
  return false;
}

/** Index of the quote closing the string opened at `start` (or the end of the text). */
function stringEnd(text: string, start: number): number {
  let quote = text.indexOf('"', start + 1);
  while (quote !== -1) {
    let backslashes = 0;
    while (text.charCodeAt(quote - 1 - backslashes) === BACKSLASH) backslashes++;
    if (backslashes % 2 === 0) return quote;
    quote = text.indexOf('"', quote + 1);
  }
  return text.length;
}

/**
 * The path (`tools[0].function.parameters.properties…`) to the first value nested deeper than
 * `maxDepth` in a parsed body, shortened for the error message. Iterative: the value may be deep.
 */
export function deepPath(value: unknown, maxDepth = MAX_JSON_DEPTH): string | undefined {
  const stack: Array<{ value: unknown; depth: number; path: readonly string[] }> = [
    { value, depth: 0, path: [] },
  ];
  while (stack.length > 0) {
    const entry = stack.pop()!;
    if (entry.value === null || typeof entry.value !== 'object') continue;
    const depth = entry.depth + 1;
    if (depth > maxDepth) return formatPath(entry.path);
    const children = Array.isArray(entry.value)
      ? entry.value.map((child, index) => [`[${index}]`, child] as const)
      : Object.entries(entry.value);
    for (let index = children.length - 1; index >= 0; index--) {
      const [key, child] = children[index]!;
      stack.push({ value: child, depth, path: [...entry.path.slice(0, PATH_SEGMENTS + 1), key] });
    }
  }
  return undefined;
}

/** Segments of the path named in the error; the rest is "…". */
const PATH_SEGMENTS = 6;

function formatPath(path: readonly string[]): string {
  let text = '';
  for (const segment of path.slice(0, PATH_SEGMENTS)) {
    text += segment.startsWith('[') || text === '' ? segment : `.${segment}`;
  }
  return path.length > PATH_SEGMENTS ? `${text}…` : text;
}

/** The 400 for a body nested too deeply, naming where. */
export function tooDeep(path: string | undefined): GatewayError {
  return new GatewayError(
    400,
    `The request body nests objects and arrays more than ${MAX_JSON_DEPTH} levels deep` +
      `${path ? ` (at ${path})` : ''}; the gateway accepts at most ${MAX_JSON_DEPTH}.`,
    { code: 'json_too_deep', param: path ?? null },
  );
}

export function tooManyContainers(): GatewayError {
  return new GatewayError(
    400,
    `The request body holds more than ${MAX_JSON_CONTAINERS} JSON objects and arrays; the gateway accepts at most ${MAX_JSON_CONTAINERS}.`,
    { code: 'json_too_complex' },
  );
}

/** Replaces Fastify's JSON parser by the same parser between the two checks. */
export function registerJsonBodyParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    (
      request: FastifyRequest,
      body: string | Buffer,
      done: (error: Error | null, value?: unknown) => void,
    ) => {
      const text = typeof body === 'string' ? body : body.toString('utf8');
      if (text.length > PRESCAN_BYTES && tooManyContainersIn(text)) return done(tooManyContainers());
      // Fastify's parser is synchronous and calls back inside its own try/catch: keep what it
      // gives, and answer outside it.
      let failure: Error | null = null;
      let value: unknown;
      parse(request, text, (error, parsed) => {
        failure = error;
        value = parsed;
      });
      if (failure) return done(failure);
      if (nestsDeeperThan(value)) return done(tooDeep(deepPath(value)));
      done(null, value);
    },
  );
}
