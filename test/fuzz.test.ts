// A generated corpus of malformed and hostile requests (issue 5, "Bad input and security"). Every
// case is built from a seeded PRNG, so a failure names a case that reproduces. Each must get a 4xx
// in the OpenAI error shape (HEAD and refused CORS preflights have no JSON body), within a time
// bound, and none may reach watsonx. Most go through inject; what inject cannot express (bytes that
// are not HTTP, lying Content-Length, methods llhttp refuses, oversize headers) goes through a real
// socket. Afterwards the gateway must still serve a valid request.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import type { TSchema } from 'typebox';
import { Value } from 'typebox/value';
import { ChatCompletionRequestSchema } from '../src/openai/schemas/chat.ts';
import { CompletionRequestSchema } from '../src/openai/schemas/completions.ts';
import { EmbeddingRequestSchema } from '../src/openai/schemas/embeddings.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const SEED = 0x5eed_f022;
const CASE_TIMEOUT_MS = 10_000;
const SOCKET_TIMEOUT_MS = 3_000;
const SMALL_LIMIT_KEY = 'fuzz-gateway-key';
const CHAT_MODEL = 'ibm/granite-4-h-small';
const TEXT_MODEL = 'ibm/granite-3-3-8b-instruct';
const EMBEDDING_MODEL = 'ibm/granite-embedding-278m-multilingual';
/** Not in the simulator's catalogue: such requests must stop at the model check (404). */
const UNKNOWN_MODEL = 'fuzz/no-such-model';

/** mulberry32: small, fast and the same on every machine. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = prng(SEED);
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
const between = (min: number, max: number): number => min + Math.floor(random() * (max - min + 1));

type Expect =
  /** 4xx with `{error:{message,type,param,code}}`. */
  | 'error'
  /** 4xx, no body (HEAD). */
  | 'empty'
  /** 4xx, any body (a refused CORS preflight answers in text/plain). */
  | 'status';

interface Case {
  category: string;
  label: string;
  method: string;
  url: string;
  headers?: Record<string, string | string[]>;
  payload?: string | Buffer;
  expect?: Expect;
  /** Exact status when the category is specific (400 for bad JSON, 413 for oversize…). */
  status?: number;
  /** Expected error code when the category is specific. */
  code?: string;
  /** Send to the small-body-limit gateway (which also requires a key). */
  small?: boolean;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

interface Route {
  name: 'chat' | 'completions' | 'embeddings';
  paths: readonly [string, string];
  schema: TSchema;
  /** Valid against the schema, with every field of the schema present somewhere. */
  base: Record<string, unknown>;
  /** A minimal valid body. */
  simple: Record<string, unknown>;
}

const CHAT_BASE = {
  model: CHAT_MODEL,
  messages: [
    { role: 'system', content: 'Be brief.', name: 'rules' },
    {
      role: 'user',
      content: [
        { type: 'text', text: 'What is this?' },
        { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA', detail: 'low' } },
        { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } },
      ],
    },
    {
      role: 'assistant',
      content: null,
      refusal: null,
      tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'add', arguments: '{"a":1}' } }],
    },
    { role: 'tool', content: '2', tool_call_id: 'call_1' },
    { role: 'assistant', content: [{ type: 'refusal', refusal: 'No.' }] },
  ],
  temperature: 1,
  top_p: 0.5,
  n: 1,
  stop: ['\n'],
  max_tokens: 10,
  max_completion_tokens: 10,
  presence_penalty: 0,
  frequency_penalty: 0,
  logit_bias: { '50256': -100 },
  logprobs: false,
  top_logprobs: 0,
  seed: 1,
  stream: false,
  stream_options: { include_usage: true },
  tools: [
    {
      type: 'function',
      function: { name: 'add', description: 'Add', parameters: { type: 'object' }, strict: true },
    },
  ],
  tool_choice: { type: 'function', function: { name: 'add' } },
  parallel_tool_calls: true,
  response_format: {
    type: 'json_schema',
    json_schema: { name: 'out', description: 'Output', schema: { type: 'object' }, strict: true },
  },
  reasoning_effort: 'low',
  modalities: ['text'],
  audio: {},
  functions: [{}],
  function_call: 'auto',
  user: 'u-1',
  store: false,
  metadata: {},
};

const ROUTES: readonly Route[] = [
  {
    name: 'chat',
    paths: ['/v1/chat/completions', '/chat/completions'],
    schema: ChatCompletionRequestSchema,
    base: CHAT_BASE,
    simple: { model: CHAT_MODEL, messages: [{ role: 'user', content: 'hi' }] },
  },
  {
    name: 'completions',
    paths: ['/v1/completions', '/completions'],
    schema: CompletionRequestSchema,
    base: {
      model: TEXT_MODEL,
      prompt: ['Once', 'upon'],
      max_tokens: 5,
      temperature: 1,
      top_p: 1,
      n: 1,
      stream: false,
      stream_options: { include_usage: true },
      logprobs: 0,
      echo: false,
      stop: 'x',
      presence_penalty: 0,
      frequency_penalty: 0,
      best_of: 1,
      logit_bias: {},
      seed: 1,
      suffix: '',
      user: 'u-1',
    },
    simple: { model: TEXT_MODEL, prompt: 'Once upon a time' },
  },
  {
    name: 'embeddings',
    paths: ['/v1/embeddings', '/embeddings'],
    schema: EmbeddingRequestSchema,
    base: {
      model: EMBEDDING_MODEL,
      input: ['one', 'two'],
      encoding_format: 'float',
      dimensions: 768,
      user: 'u-1',
    },
    simple: { model: EMBEDDING_MODEL, input: 'hello' },
  },
];
const POST_PATHS = ROUTES.flatMap((route) => route.paths);
const GET_PATHS = [
  '/v1/models',
  '/models',
  `/v1/models/${CHAT_MODEL}`,
  `/models/${EMBEDDING_MODEL}`,
  '/health',
  '/',
  '/docs',
  '/docs/json',
];

// ---------------------------------------------------------------------------------------------
// JSON paths: enumerate, read and write (arrays and objects, by key or index)

type Path = ReadonlyArray<string | number>;

function pathName(path: Path): string {
  return path.reduce<string>(
    (name, part) => (typeof part === 'number' ? `${name}[${part}]` : name ? `${name}.${part}` : part),
    '',
  );
}

/** Every node under the root, depth first. */
function nodePaths(value: unknown, prefix: Path = []): Path[] {
  if (value === null || typeof value !== 'object') return [];
  const entries = Array.isArray(value)
    ? value.map((item, index) => [index, item] as const)
    : Object.entries(value as Record<string, unknown>);
  return entries.flatMap(([key, item]) => [[...prefix, key], ...nodePaths(item, [...prefix, key])]);
}

function withValue(root: unknown, path: Path, value: unknown, remove = false): unknown {
  const copy = structuredClone(root) as Record<string | number, unknown>;
  let node = copy;
  for (const part of path.slice(0, -1)) node = node[part] as Record<string | number, unknown>;
  const last = path[path.length - 1]!;
  if (remove) {
    if (Array.isArray(node)) node.splice(last as number, 1);
    else Reflect.deleteProperty(node, last);
  } else {
    node[last] = value;
  }
  return copy;
}

/** Property paths the schema declares, arrays as `[]` (`messages[].content[].image_url.url`). */
function schemaPaths(schema: Record<string, unknown>, prefix = ''): string[] {
  const out: string[] = [];
  const properties = schema.properties as Record<string, Record<string, unknown>> | undefined;
  for (const [key, child] of Object.entries(properties ?? {})) {
    const name = prefix ? `${prefix}.${key}` : key;
    out.push(name, ...schemaPaths(child, name));
  }
  if (schema.items && typeof schema.items === 'object') {
    out.push(...schemaPaths(schema.items as Record<string, unknown>, `${prefix}[]`));
  }
  for (const branch of (schema.anyOf ?? schema.oneOf ?? []) as Record<string, unknown>[]) {
    out.push(...schemaPaths(branch, prefix));
  }
  return [...new Set(out)];
}

const abstractName = (path: Path): string =>
  path.reduce<string>(
    (name, part) => (typeof part === 'number' ? `${name}[]` : name ? `${name}.${part}` : part),
    '',
  );

// ---------------------------------------------------------------------------------------------
// The corpus

const corpus: Case[] = [];
const add = (entry: Case): void => void corpus.push(entry);
const postJson = (category: string, label: string, url: string, payload: string | Buffer, extra = {}) =>
  add({ category, label, method: 'POST', url, headers: JSON_HEADERS, payload, ...extra });

function throwsOnParse(text: string): boolean {
  try {
    JSON.parse(text);
    return false;
  } catch {
    return true;
  }
}

/** Offsets of structural characters outside strings. */
function structuralOffsets(text: string): number[] {
  const offsets: number[] = [];
  let inString = false;
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!;
    if (inString) {
      if (char === '\\') index++;
      else if (char === '"') inString = false;
      continue;
    }
    if (char === '"') inString = true;
    if ('{}[]:,"'.includes(char)) offsets.push(index);
  }
  return offsets;
}

// 1. Invalid JSON: truncations, structural deletions and insertions of every route's base body,
//    then classic malformations.
const CLASSIC_INVALID_JSON = [
  '{',
  '}',
  '{{}}',
  '{"model"}',
  '{"model":}',
  "{'model':'x'}",
  '{model:"x"}',
  '{"a":1,}',
  '[1,]',
  '{"a":01}',
  '{"a":.5}',
  '{"a":+1}',
  '{"a":0x10}',
  '{"a":"\\q"}',
  '{"a":"\\u12"}',
  '{"a":"unterminated',
  '{"a":"raw\ttab"}',
  '{"a":"raw\nnewline"}',
  '{"a":"raw\u0001control"}',
  'NaN',
  'Infinity',
  'undefined',
  'nul',
  'tru',
  '{"a":True}',
  '{"a":None}',
  '{"a":[}',
  '{"a":1}{"b":2}',
  '{"a":1} trailing',
  '""""',
  '   ',
  '\n\r\t',
  '// comment\n{}',
  '/* c */ {}',
  '\ufeff{',
  '{"a":1e}',
  '{"a":-}',
  '{"model":"x",,"messages":[]}',
  '\u0000',
  '{"a"\u0000:1}',
];
for (const route of ROUTES) {
  const text = JSON.stringify(route.base);
  const category = 'invalid JSON';
  for (let index = 0; index < 14; index++) {
    const cut = index === 0 ? 1 : between(2, text.length - 1);
    postJson(category, `${route.name}: cut at ${cut}`, pick(route.paths), text.slice(0, cut));
  }
  const offsets = structuralOffsets(text);
  for (let index = 0; index < 14; index++) {
    const at = pick(offsets);
    const broken = text.slice(0, at) + text.slice(at + 1);
    if (throwsOnParse(broken)) {
      postJson(category, `${route.name}: '${text[at]}' at ${at} deleted`, pick(route.paths), broken);
    }
  }
  const garbage = [',', '}', ']', ':', "'", 'NaN', 'undefined', '//c', '/*c*/', '\u0000', '\u0001', '@', '"'];
  for (let index = 0; index < 14; index++) {
    const at = pick(offsets) + 1;
    const junk = pick(garbage);
    const broken = text.slice(0, at) + junk + text.slice(at);
    if (throwsOnParse(broken)) {
      postJson(category, `${route.name}: ${JSON.stringify(junk)} at ${at}`, pick(route.paths), broken);
    }
  }
  for (const bad of CLASSIC_INVALID_JSON) {
    postJson(category, `${route.name}: ${JSON.stringify(bad)}`, pick(route.paths), bad);
  }
}

// 2. JSON that is not an object.
const NOT_OBJECTS = ['[]', '[{}]', '[null]', '"text"', '""', '0', '-1.5', '1e999', 'true', 'false', 'null'];
for (const url of POST_PATHS) {
  for (const text of NOT_OBJECTS) postJson('JSON not an object', `${url}: ${text}`, url, text);
}

// 3. Wrong types in every field: each node of each base body set to each value the schema refuses
//    there, and each required property removed.
const WRONG_VALUES: readonly unknown[] = [
  '',
  'text',
  0,
  -1,
  0.5,
  3.5,
  1e300,
  -1e300,
  true,
  false,
  null,
  [],
  [1],
  ['x'],
  {},
  { x: 1 },
  [[[]]],
];
for (const route of ROUTES) {
  for (const path of nodePaths(route.base)) {
    const candidates = [...WRONG_VALUES, `${'x'.repeat(between(1, 40))}\u0000`, between(-1e9, 1e9)];
    for (const value of candidates) {
      const mutated = withValue(route.base, path, value);
      if (Value.Check(route.schema, mutated)) continue;
      postJson(
        `wrong type (${route.name})`,
        `${pathName(path)} = ${JSON.stringify(value)}`,
        pick(route.paths),
        JSON.stringify(mutated),
        { status: 400 },
      );
    }
    const without = withValue(route.base, path, undefined, true);
    if (!Value.Check(route.schema, without)) {
      postJson(
        `wrong type (${route.name})`,
        `${pathName(path)} removed`,
        pick(route.paths),
        JSON.stringify(without),
        { status: 400 },
      );
    }
  }
}

// 4. Huge strings (MBs).
const MB = 1024 * 1024;
const chatWith = (patch: Record<string, unknown>) => JSON.stringify({ ...CHAT_BASE, ...patch });
{
  const category = 'huge string';
  const big = (size: number) => 'x'.repeat(size);
  postJson(category, '2 MB model name', '/v1/chat/completions', chatWith({ model: big(2 * MB) }));
  postJson(
    category,
    '4 MB content, bad role',
    '/v1/chat/completions',
    chatWith({ messages: [{ role: 'wizard', content: big(4 * MB) }] }),
  );
  postJson(category, '3 MB temperature', '/v1/chat/completions', chatWith({ temperature: big(3 * MB) }));
  postJson(
    category,
    '2 MB role',
    '/v1/chat/completions',
    chatWith({ messages: [{ role: big(2 * MB), content: 'hi' }] }),
  );
  postJson(
    category,
    '1 MB key, no model',
    '/v1/chat/completions',
    JSON.stringify({ [big(MB)]: 1, messages: [] }),
  );
  postJson(
    category,
    '4 MB prompt, numeric model',
    '/v1/completions',
    JSON.stringify({ model: 2, prompt: big(4 * MB) }),
  );
  postJson(
    category,
    '200k inputs, dimensions 0',
    '/v1/embeddings',
    JSON.stringify({ model: EMBEDDING_MODEL, input: new Array(200_000).fill('abc'), dimensions: 0 }),
  );
  postJson(
    category,
    '2 MB input, unknown model',
    '/v1/embeddings',
    JSON.stringify({ model: UNKNOWN_MODEL, input: big(2 * MB) }),
  );
  postJson(
    category,
    '100k messages of the wrong type',
    '/v1/chat/completions',
    chatWith({ messages: new Array(100_000).fill(1) }),
  );
  add({ category, label: '1 MB URL', method: 'GET', url: `/v1/${big(MB)}` });
  add({ category, label: '1 MB model id in the URL', method: 'GET', url: `/v1/models/${big(MB)}` });
  postJson(category, '100 KB x-request-id, invalid body', '/v1/chat/completions', '{', {
    headers: { ...JSON_HEADERS, 'x-request-id': big(100_000) },
  });
}

// 5. Deep nesting (10k levels; 100k for a whole-body array).
{
  const category = 'deep nesting';
  const DEPTH = 10_000;
  const arrays = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
  const objects = (depth: number, leaf = '1') => '{"a":'.repeat(depth) + leaf + '}'.repeat(depth);
  const chatText = JSON.stringify(CHAT_BASE);
  const splice = (field: string, raw: string, model = CHAT_MODEL) =>
    `{"model":${JSON.stringify(model)},${chatText
      .slice(1)
      .replace(`"model":${JSON.stringify(CHAT_MODEL)},`, '')
      .replace(/}$/, '')},"${field}":${raw}}`;
  postJson(category, 'body: 10k arrays', '/v1/chat/completions', arrays(DEPTH));
  postJson(category, 'body: 100k arrays', '/v1/chat/completions', arrays(100_000));
  postJson(category, 'body: 10k objects', '/v1/chat/completions', objects(DEPTH));
  postJson(category, 'messages: 10k arrays', '/v1/chat/completions', splice('messages', arrays(DEPTH)));
  postJson(category, 'metadata: 10k arrays', '/v1/chat/completions', splice('metadata', arrays(DEPTH)));
  postJson(category, 'stop: 10k arrays', '/v1/chat/completions', splice('stop', arrays(DEPTH)));
  postJson(
    category,
    'tool_choice: 10k objects',
    '/v1/chat/completions',
    splice('tool_choice', objects(DEPTH)),
  );
  postJson(
    category,
    'metadata: 10k objects, unknown model',
    '/v1/chat/completions',
    splice('metadata', objects(DEPTH), UNKNOWN_MODEL),
  );
  postJson(
    category,
    'json_schema.schema: 10k objects, unknown model',
    '/v1/chat/completions',
    splice(
      'response_format',
      `{"type":"json_schema","json_schema":{"name":"x","schema":${objects(DEPTH)}}}`,
      UNKNOWN_MODEL,
    ),
  );
  postJson(
    category,
    'tool parameters: 10k objects, unknown model',
    '/v1/chat/completions',
    splice(
      'tools',
      `[{"type":"function","function":{"name":"f","parameters":${objects(DEPTH)}}}]`,
      UNKNOWN_MODEL,
    ),
  );
  postJson(
    category,
    'content: 10k arrays',
    '/v1/chat/completions',
    `{"model":"${CHAT_MODEL}","messages":[{"role":"user","content":${arrays(DEPTH)}}]}`,
  );
  postJson(category, 'unterminated 10k arrays', '/v1/chat/completions', `{"model":${'['.repeat(DEPTH)}`);
  postJson(
    category,
    '__proto__ 10k levels down',
    '/v1/chat/completions',
    splice('metadata', objects(DEPTH, '{"__proto__":{"polluted":1}}')),
  );
  postJson(
    category,
    'prompt: 10k arrays',
    '/v1/completions',
    `{"model":"${TEXT_MODEL}","prompt":${arrays(DEPTH)}}`,
  );
  postJson(
    category,
    'input: 10k arrays',
    '/v1/embeddings',
    `{"model":"${EMBEDDING_MODEL}","input":${arrays(DEPTH)}}`,
  );
  // The same depths inside fields that are passed on to watsonx, with a model it serves: before the
  // depth limit these reached JSON.stringify of the watsonx body and overflowed the stack (500).
  const deep = { code: 'json_too_deep' };
  for (const [field, raw] of [
    ['tools', `[{"type":"function","function":{"name":"f","parameters":${objects(DEPTH)}}}]`],
    ['response_format', `{"type":"json_schema","json_schema":{"name":"x","schema":${objects(DEPTH)}}}`],
    ['metadata', objects(DEPTH)],
    ['tool_choice', objects(DEPTH)],
    ['stop', arrays(DEPTH)],
  ] as const) {
    postJson(
      category,
      `${field}: 10k levels, served model`,
      '/v1/chat/completions',
      splice(field, raw),
      deep,
    );
  }
  postJson(
    category,
    'assistant tool_calls: 10k levels, served model',
    '/v1/chat/completions',
    splice(
      'messages',
      `[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"id":"c","type":"function","function":{"name":"f","arguments":"{}","extra":${objects(DEPTH)}}}]},{"role":"tool","tool_call_id":"c","content":"ok"}]`,
    ),
    deep,
  );
  postJson(category, 'whole body: 100k objects', '/v1/chat/completions', objects(100_000), deep);
  postJson(
    category,
    'completions prompt array: 10k levels, served model',
    '/v1/completions',
    `{"model":"${TEXT_MODEL}","prompt":${arrays(DEPTH)}}`,
    deep,
  );
}

// 6. Prototype pollution: keys the parser must refuse, and names that are Object.prototype members.
{
  const category = 'prototype pollution';
  const hostile = [
    '{"__proto__":{"polluted":"yes"}}',
    '{"constructor":{"prototype":{"polluted":"yes"}}}',
    '{"\\u005f\\u005fproto\\u005f\\u005f":{"polluted":"yes"}}',
    '{"a":1,"__proto__":[]}',
  ];
  const positions = [
    '',
    'messages[0]',
    'messages[1].content[0]',
    'metadata',
    'logit_bias',
    'tools[0].function',
    'tools[0].function.parameters',
    'response_format.json_schema.schema',
    'stream_options',
    'tool_choice',
  ];
  const placeholder = '"__FUZZ_SLOT__"';
  for (const position of positions) {
    for (const value of hostile) {
      // The hostile object is spliced in as text: JSON.stringify would drop or rename its keys.
      const path = position === '' ? [] : position.split(/[.[\]]+/).filter(Boolean);
      let text: string;
      if (path.length === 0) {
        text = `${value.slice(0, -1)},${JSON.stringify(CHAT_BASE).slice(1)}`;
      } else {
        const typed = path.map((part) => (/^\d+$/.test(part) ? Number(part) : part));
        text = JSON.stringify(withValue(CHAT_BASE, typed, '__FUZZ_SLOT__')).replace(placeholder, value);
      }
      postJson(category, `${position || 'top level'}: ${value}`, pick(POST_PATHS.slice(0, 2)), text, {
        status: 400,
        code: 'invalid_json',
      });
    }
  }
  for (const name of ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf']) {
    for (const route of ROUTES) {
      postJson(
        category,
        `${route.name} model ${name}`,
        route.paths[0],
        JSON.stringify({ ...route.simple, model: name }),
      );
    }
    add({ category, label: `GET /v1/models/${name}`, method: 'GET', url: `/v1/models/${name}`, status: 404 });
    // A `constructor` key without `prototype` passes the parser: it must stay an inert unknown field.
    postJson(
      category,
      `${name} as an unknown field, unknown model`,
      '/v1/chat/completions',
      JSON.stringify({ ...ROUTES[0]!.simple, model: UNKNOWN_MODEL, [name]: { polluted: 'yes' } }),
    );
  }
}

// 7. Invalid UTF-8 in the body (inject sends bytes as given).
{
  const category = 'invalid UTF-8';
  const SEQUENCES: Record<string, number[]> = {
    FF: [0xff],
    'FE FF': [0xfe, 0xff],
    'overlong /': [0xc0, 0xaf],
    surrogate: [0xed, 0xa0, 0x80],
    '5-byte': [0xf8, 0x88, 0x80, 0x80, 0x80],
    'truncated 2-byte': [0xc3],
    'truncated 3-byte': [0xe2, 0x82],
    'lone continuation': [0x80],
    'above U+10FFFF': [0xf4, 0x90, 0x80, 0x80],
  };
  for (const route of ROUTES) {
    const text = JSON.stringify(route.simple);
    const modelValue = `"${String(route.simple.model)}"`;
    for (const [name, bytes] of Object.entries(SEQUENCES)) {
      const raw = Buffer.from(bytes);
      const at = (needle: string, offset: number) => {
        const index = text.indexOf(needle) + offset;
        return Buffer.concat([Buffer.from(text.slice(0, index)), raw, Buffer.from(text.slice(index))]);
      };
      postJson(category, `${route.name}: ${name} between tokens`, route.paths[0], at(',', 1));
      postJson(category, `${route.name}: ${name} in the model name`, route.paths[1], at(modelValue, 4));
      postJson(category, `${route.name}: ${name} in the "model" key`, route.paths[0], at('"model"', 3));
      postJson(category, `${route.name}: ${name} as the whole body`, route.paths[1], raw);
    }
    postJson(
      category,
      `${route.name}: UTF-16LE body`,
      route.paths[0],
      Buffer.from(`\ufeff${text}`, 'utf16le'),
    );
    postJson(category, `${route.name}: UTF-16LE body, no BOM`, route.paths[1], Buffer.from(text, 'utf16le'));
  }
  postJson(
    category,
    'role with invalid bytes',
    '/v1/chat/completions',
    Buffer.concat([
      Buffer.from(`{"model":"${CHAT_MODEL}","messages":[{"role":"us`),
      Buffer.from([0xff, 0xfe]),
      Buffer.from('er","content":"hi"}]}'),
    ]),
  );
}

// 8. Wrong content types, each with an otherwise valid body.
{
  const category = 'content type';
  const TYPES = [
    'text/plain',
    'text/plain; charset=utf-8',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=fuzz',
    'application/xml',
    'text/xml',
    'application/octet-stream',
    'text/json',
    'application/jsonp',
    'application/json-patch+json',
    'application/x-ndjson',
    'text/html',
    'image/png',
    '*/*',
    'application',
    'application/',
    ';',
    'json',
  ];
  for (const route of ROUTES) {
    const body = JSON.stringify(route.simple);
    for (const type of TYPES) {
      add({
        category,
        label: `${route.name}: ${type}`,
        method: 'POST',
        url: pick(route.paths),
        headers: { 'content-type': type },
        payload: body,
      });
    }
    add({ category, label: `${route.name}: none`, method: 'POST', url: route.paths[0], payload: body });
    add({
      category,
      label: `${route.name}: multipart form with the JSON as a field`,
      method: 'POST',
      url: route.paths[1],
      headers: { 'content-type': 'multipart/form-data; boundary=XyZ' },
      payload: `--XyZ\r\nContent-Disposition: form-data; name="body"\r\n\r\n${body}\r\n--XyZ--\r\n`,
    });
    add({
      category,
      label: `${route.name}: form-encoded fields`,
      method: 'POST',
      url: route.paths[0],
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ model: String(route.simple.model), body }).toString(),
    });
    // The gateway does not decode Content-Encoding: compressed bytes are not JSON.
    add({
      category,
      label: `${route.name}: gzip-encoded body`,
      method: 'POST',
      url: route.paths[0],
      headers: { ...JSON_HEADERS, 'content-encoding': 'gzip' },
      payload: gzipSync(body),
    });
  }
}

// 9. Oversize bodies (the small gateway accepts 10 KB and wants a key).
{
  const category = 'oversize body';
  const keyed = { ...JSON_HEADERS, authorization: `Bearer ${SMALL_LIMIT_KEY}` };
  for (const size of [11 * 1024, 100 * 1024, MB, 8 * MB]) {
    for (const route of ROUTES) {
      add({
        category,
        label: `${route.name}: ${size} bytes`,
        method: 'POST',
        url: route.paths[0],
        headers: keyed,
        payload: JSON.stringify({ ...route.simple, user: 'x'.repeat(size) }),
        status: 413,
        code: 'request_too_large',
        small: true,
      });
    }
  }
  add({
    category,
    // The media type is checked before the length (Fastify's order): not JSON at all → 415.
    label: 'text/plain over the limit',
    method: 'POST',
    url: '/v1/chat/completions',
    headers: { ...keyed, 'content-type': 'text/plain' },
    payload: 'x'.repeat(20 * 1024),
    status: 415,
    small: true,
  });
}

// 10. Gateway-key abuse (the small gateway requires a key).
{
  const category = 'gateway key';
  const body = JSON.stringify(ROUTES[0]!.simple);
  const attempts: Record<string, string | string[]>[] = [
    {},
    { authorization: '' },
    { authorization: 'Bearer' },
    { authorization: 'Bearer ' },
    { authorization: `Bearer ${'k'.repeat(100_000)}` },
    { authorization: `Basic ${Buffer.from(`user:${SMALL_LIMIT_KEY}`).toString('base64')}` },
    { authorization: `Bearer ${SMALL_LIMIT_KEY}x` },
    { authorization: `Bearer ${SMALL_LIMIT_KEY.slice(0, -1)}` },
    { authorization: `Bearer ${SMALL_LIMIT_KEY.toUpperCase()}` },
    { authorization: `Bearer ${SMALL_LIMIT_KEY}\u00e9` },
    { authorization: 'Bearer null' },
    { authorization: 'Bearer undefined' },
    { 'api-key': ['one', 'two'] },
    { 'api-key': ' ' },
    { 'x-api-key': 'nope' },
    { cookie: `api-key=${SMALL_LIMIT_KEY}` },
  ];
  for (const headers of attempts) {
    for (const url of ['/v1/chat/completions', '/v1/models', '/v1/embeddings']) {
      add({
        category,
        label: `${url} ${JSON.stringify(headers).slice(0, 60)}`,
        method: url === '/v1/models' ? 'GET' : 'POST',
        url,
        headers: url === '/v1/models' ? headers : { ...JSON_HEADERS, ...headers },
        payload: url === '/v1/models' ? undefined : body,
        status: 401,
        code: 'invalid_api_key',
        small: true,
      });
    }
  }
}

// 11. Odd methods on every route.
{
  const category = 'odd method';
  const METHODS = [
    'PUT',
    'DELETE',
    'PATCH',
    'TRACE',
    'PROPFIND',
    'PROPPATCH',
    'MKCOL',
    'COPY',
    'MOVE',
    'LOCK',
    'UNLOCK',
    'SEARCH',
    'REPORT',
    'PURGE',
  ];
  for (const url of [...POST_PATHS, ...GET_PATHS]) {
    for (const method of METHODS) add({ category, label: `${method} ${url}`, method, url, status: 404 });
    add({
      category,
      label: `OPTIONS ${url} (no preflight headers)`,
      method: 'OPTIONS',
      url,
      expect: 'status',
    });
    add({
      category,
      label: `OPTIONS ${url} (origin only)`,
      method: 'OPTIONS',
      url,
      headers: { origin: 'https://evil.example' },
      expect: 'status',
    });
  }
  for (const url of POST_PATHS) {
    add({ category, label: `GET ${url}`, method: 'GET', url, status: 404 });
    add({ category, label: `HEAD ${url}`, method: 'HEAD', url, expect: 'empty', status: 404 });
    add({
      category,
      label: `DELETE ${url} with a body`,
      method: 'DELETE',
      url,
      headers: JSON_HEADERS,
      payload: '{}',
    });
  }
  for (const url of GET_PATHS) {
    add({
      category,
      label: `POST ${url}`,
      method: 'POST',
      url,
      headers: JSON_HEADERS,
      payload: '{}',
      status: 404,
    });
  }
}

// 12. Unknown paths, traversal and NUL bytes in the URL.
{
  const category = 'unknown path';
  const FIXED = [
    '/v1/../x',
    '/v1/%2e%2e/x',
    '/%2e%2e/%2e%2e/etc/passwd',
    '/v1/chat/completions/../../../etc/passwd',
    '/docs/../package.json',
    '/docs/static/..%2f..%2fpackage.json',
    '/docs/static/%2e%2e/%2e%2e/package.json',
    '/docs/static/%252e%252e/package.json',
    '/docs/static/nothing.js',
    '//etc/passwd',
    '/v1//chat/completions',
    '/v1/chat/completions%00',
    '/v1/chat%2fcompletions',
    '/V1/CHAT/COMPLETIONS',
    '/v1/chat/completions;.json',
    '/v1/chat/completions%20',
    '/v1/chat/completions%0d%0aSet-Cookie:%20x=1',
    '/v1/%00',
    '/%',
    '/v1/models/%E0%A4%A',
    '/v1/models/%ff%fe',
    '/v2/chat/completions',
    '/v1/responses',
    '/v1/images/generations',
    '/v1/audio/speech',
    '/.env',
    '/.git/config',
    '/node_modules/fastify/package.json',
    '/dist/cli.js',
    '/src/config.ts',
    '/package.json',
    '/%5c..%5c..%5cwindows%5cwin.ini',
  ];
  for (const url of FIXED) {
    add({ category, label: `GET ${url}`, method: 'GET', url });
    add({ category, label: `POST ${url}`, method: 'POST', url, headers: JSON_HEADERS, payload: '{}' });
  }
  const PREFIXES = ['', '/v1', '/v1/models', '/docs', '/docs/static', '/health', '/v1/chat'];
  const SEGMENTS = [
    '..',
    '%2e%2e',
    '%2E%2E',
    '.%2e',
    '..%2f',
    '%2f',
    '%5c',
    '%00',
    '%ff',
    '~',
    ';',
    '%252e%252e',
    '.',
  ];
  const FINAL = ['x', 'etc/passwd', '.env', 'package.json', 'admin', '%00', 'web.config'];
  for (let index = 0; index < 60; index++) {
    const middle = Array.from({ length: between(1, 4) }, () => pick(SEGMENTS));
    const url = [pick(PREFIXES), ...middle, pick(FINAL)].join('/');
    add({ category, label: `GET ${url}`, method: 'GET', url });
  }
}

// 13. NUL bytes in bodies.
{
  const category = 'NUL byte';
  const simple = JSON.stringify(ROUTES[0]!.simple);
  postJson(category, 'raw NUL between tokens', '/v1/chat/completions', simple.replace(',', ',\u0000'));
  postJson(category, 'raw NUL inside a string', '/v1/chat/completions', simple.replace('hi', 'h\u0000i'));
  postJson(category, 'escaped NUL model', '/v1/chat/completions', simple.replace(CHAT_MODEL, '\\u0000'));
  postJson(
    category,
    'model with an escaped NUL',
    '/v1/chat/completions',
    simple.replace(CHAT_MODEL, `${CHAT_MODEL}\\u0000`),
  );
  postJson(
    category,
    'role with an escaped NUL',
    '/v1/chat/completions',
    simple.replace('"user"', '"user\\u0000"'),
  );
  postJson(category, 'NUL key only', '/v1/chat/completions', '{"\\u0000":1}');
  postJson(
    category,
    'embeddings model with NUL',
    '/v1/embeddings',
    `{"model":"${EMBEDDING_MODEL}\\u0000","input":"x"}`,
  );
  postJson(
    category,
    'completions model with NUL',
    '/v1/completions',
    `{"model":"\\u0000${TEXT_MODEL}","prompt":"x"}`,
  );
  postJson(category, 'body of NULs', '/v1/chat/completions', Buffer.alloc(64));
}

// 14. Through a real socket: what inject cannot send.
interface SocketCase {
  label: string;
  data: Buffer;
  /** Half-close after writing (the request is cut short on purpose). */
  end?: boolean;
  expect?: Expect;
  status?: number;
  code?: string;
  small?: boolean;
}
const socketCases: SocketCase[] = [];
{
  const request = (method: string, target: string, headers: string[], body: Buffer | string = '') =>
    Buffer.concat([
      Buffer.from(
        `${method} ${target} HTTP/1.1\r\nHost: gateway\r\n${headers.map((line) => `${line}\r\n`).join('')}\r\n`,
        'latin1',
      ),
      Buffer.isBuffer(body) ? body : Buffer.from(body),
    ]);
  const json = (body: Buffer | string, extra: string[] = []) => [
    'Content-Type: application/json',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    ...extra,
  ];
  const push = (entry: SocketCase) => void socketCases.push(entry);
  const chatPost = (body: Buffer | string, extra: string[] = []) =>
    request('POST', '/v1/chat/completions', json(body, extra), body);
  const simple = JSON.stringify(ROUTES[0]!.simple);

  const invalidUtf8 = [[0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xc3], [0x80, 0x80]];
  for (const bytes of invalidUtf8) {
    const hex = Buffer.from(bytes).toString('hex');
    push({
      label: `UTF-8 ${hex} in the JSON structure`,
      data: chatPost(Buffer.concat([Buffer.from('{'), Buffer.from(bytes), Buffer.from('}')])),
    });
    push({
      label: `UTF-8 ${hex} in the model name`,
      data: chatPost(
        Buffer.concat([
          Buffer.from('{"model":"ibm/'),
          Buffer.from(bytes),
          Buffer.from(simple.slice(simple.indexOf('granite'))),
        ]),
      ),
    });
    push({
      label: `UTF-8 ${hex} in the URL`,
      data: request('GET', `/v1/models/${Buffer.from(bytes).toString('latin1')}`, ['Connection: close']),
    });
    push({
      label: `UTF-8 ${hex} in a header value, invalid body`,
      data: chatPost('{', [`X-Title: ${Buffer.from(bytes).toString('latin1')}`]),
    });
  }
  push({
    label: 'body shorter than Content-Length, then EOF',
    data: request(
      'POST',
      '/v1/chat/completions',
      ['Content-Type: application/json', 'Content-Length: 100'],
      '{"model"',
    ),
    end: true,
  });
  push({
    label: 'body longer than Content-Length',
    data: request(
      'POST',
      '/v1/chat/completions',
      ['Content-Type: application/json', 'Content-Length: 5'],
      simple,
    ),
  });
  push({
    label: 'request cut inside the headers',
    data: Buffer.from('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Ty'),
    end: true,
  });
  push({ label: 'request cut inside the request line', data: Buffer.from('POST /v1/chat/comp'), end: true });
  push({
    label: 'chunked body cut short',
    data: request(
      'POST',
      '/v1/chat/completions',
      ['Content-Type: application/json', 'Transfer-Encoding: chunked'],
      '10\r\n{"model"',
    ),
    end: true,
  });
  push({
    label: 'PROPFIND',
    data: request('PROPFIND', '/v1/models', ['Connection: close', 'Depth: infinity']),
  });
  push({
    label: 'PROPFIND on chat',
    data: request('PROPFIND', '/v1/chat/completions', ['Connection: close']),
  });
  push({ label: 'method FOOBAR', data: request('FOOBAR', '/v1/models', ['Connection: close']) });
  push({ label: 'method in lower case', data: request('get', '/health', ['Connection: close']) });
  push({ label: 'TRACE', data: request('TRACE', '/health', ['Connection: close']) });
  push({
    label: 'header larger than 16 KB',
    data: request('GET', '/health', [`X-Big: ${'a'.repeat(20_000)}`, 'Connection: close']),
    status: 431,
  });
  push({
    label: '3000 headers',
    data: request('GET', '/health', [
      ...Array.from({ length: 3000 }, (_, index) => `X-H${index}: v`),
      'Connection: close',
    ]),
    status: 431,
  });
  push({
    label: 'control byte in a header value',
    data: request('GET', '/health', ['X-Bad: a\u0001b', 'Connection: close']),
  });
  push({
    label: 'NUL in a header value',
    data: request('GET', '/health', ['X-Bad: a\u0000b', 'Connection: close']),
  });
  push({
    label: 'CR inside a header value',
    data: request('GET', '/health', ['X-Bad: a\rb', 'Connection: close']),
  });
  push({ label: 'NUL in the path', data: request('GET', '/v1/mo\u0000dels', ['Connection: close']) });
  push({ label: 'space in the path', data: request('GET', '/v1/mo dels', ['Connection: close']) });
  push({ label: 'two Content-Length headers', data: chatPost('{}', ['Content-Length: 3']) });
  push({
    label: 'Content-Length and Transfer-Encoding',
    data: chatPost('{}', ['Transfer-Encoding: chunked']),
  });
  push({
    label: 'bad chunk size',
    data: request(
      'POST',
      '/v1/chat/completions',
      ['Content-Type: application/json', 'Transfer-Encoding: chunked', 'Connection: close'],
      'zz\r\n{}\r\n0\r\n\r\n',
    ),
  });
  push({
    label: 'negative Content-Length',
    data: request(
      'POST',
      '/v1/chat/completions',
      ['Content-Type: application/json', 'Content-Length: -1', 'Connection: close'],
      '{}',
    ),
  });
  push({
    label: 'Content-Length not a number',
    data: request(
      'POST',
      '/v1/chat/completions',
      ['Content-Type: application/json', 'Content-Length: abc', 'Connection: close'],
      '{}',
    ),
  });
  push({
    label: 'Transfer-Encoding: gzip only',
    data: request(
      'POST',
      '/v1/chat/completions',
      ['Content-Type: application/json', 'Transfer-Encoding: gzip', 'Connection: close'],
      '{}',
    ),
  });
  push({ label: 'HTTP/9.9', data: Buffer.from('GET /health HTTP/9.9\r\nHost: x\r\n\r\n') });
  push({
    label: 'LF-only line endings',
    data: Buffer.from('GET /health HTTP/1.1\nHost: x\nConnection: close\n\n'),
  });
  push({
    label: 'space before the header colon',
    data: request('GET', '/health', ['X-A : b', 'Connection: close']),
  });
  push({
    label: 'obsolete header folding',
    data: request('GET', '/health', ['X-A: b', ' c', 'Connection: close']),
  });
  push({ label: 'path without a leading slash', data: request('GET', 'v1/models', ['Connection: close']) });
  push({
    label: 'raw traversal /v1/../health',
    data: request('GET', '/v1/../health/x', ['Connection: close']),
  });
  push({
    label: 'raw traversal on docs',
    data: request('GET', '/docs/static/../../../package.json', ['Connection: close']),
  });
  push({
    label: 'backslash traversal',
    data: request('GET', '/docs/static/..\\..\\package.json', ['Connection: close']),
  });
  push({
    label: 'absolute-form target',
    data: request('GET', 'http://evil.example/v1/nothing', ['Connection: close']),
  });
  push({ label: 'OPTIONS *', data: request('OPTIONS', '*', ['Connection: close']), expect: 'status' });
  // An HTTP/1.1 request without Host: 400 in the error shape (Node's own answer had no body).
  push({
    label: 'no Host header',
    data: Buffer.from('GET /v1/nothing HTTP/1.1\r\nConnection: close\r\n\r\n'),
    status: 400,
    code: 'invalid_http_request',
  });
  push({
    label: 'no Host header on a POST route',
    data: Buffer.from(
      'POST /v1/chat/completions HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}',
    ),
    status: 400,
    code: 'invalid_http_request',
  });

  push({
    label: 'binary garbage',
    data: Buffer.from(Array.from({ length: 256 }, () => between(0, 255))),
    end: true,
  });
  push({
    label: 'TLS ClientHello on the plain port',
    data: Buffer.from('16030100a5010000a10303', 'hex'),
    end: true,
  });
  push({ label: 'HTTP/2 preface', data: Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), end: true });
  push({
    label: 'Content-Length over the body limit',
    data: request(
      'POST',
      '/v1/chat/completions',
      [
        'Content-Type: application/json',
        'Content-Length: 999999999',
        `Authorization: Bearer ${SMALL_LIMIT_KEY}`,
        'Connection: close',
      ],
      '{}',
    ),
    status: 413,
    small: true,
  });
  const chunk = `${(64 * 1024).toString(16)}\r\n${' '.repeat(64 * 1024)}\r\n`;
  push({
    label: 'chunked body over the body limit',
    data: request(
      'POST',
      '/v1/chat/completions',
      [
        'Content-Type: application/json',
        'Transfer-Encoding: chunked',
        `Authorization: Bearer ${SMALL_LIMIT_KEY}`,
        'Connection: close',
      ],
      `${chunk}${chunk}0\r\n\r\n`,
    ),
    status: 413,
    small: true,
  });
}

// ---------------------------------------------------------------------------------------------
// Running and checking

let gateway: TestGateway;
let small: TestGateway;

before(async () => {
  [gateway, small] = await Promise.all([
    startTestGateway({ listen: true }),
    startTestGateway({ listen: true, env: { BODY_LIMIT_MB: '0.01', API_KEY: SMALL_LIMIT_KEY } }),
  ]);
});
after(async () => {
  await Promise.all([gateway?.close(), small?.close()]);
});

function withTimeout<T>(promise: Promise<T>, ms: number, label: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms: ${label}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** What is wrong with an answer, or undefined. */
function problem(
  expect: Expect,
  wanted: { status?: number; code?: string },
  status: number,
  body: string,
): string | undefined {
  if (status < 400 || status >= 500) return `status ${status}: ${body.slice(0, 200)}`;
  if (wanted.status !== undefined && status !== wanted.status) {
    return `status ${status}, wanted ${wanted.status}: ${body.slice(0, 200)}`;
  }
  if (expect === 'status') return undefined;
  if (expect === 'empty')
    return body === '' ? undefined : `a body on a bodiless answer: ${body.slice(0, 100)}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return `not JSON: ${body.slice(0, 200)}`;
  }
  const error = (parsed as { error?: Record<string, unknown> } | null)?.error;
  const keys = error && typeof error === 'object' ? Object.keys(error).sort().join(',') : '';
  if (
    !error ||
    keys !== 'code,message,param,type' ||
    typeof error.message !== 'string' ||
    typeof error.type !== 'string' ||
    !(error.param === null || typeof error.param === 'string') ||
    !(error.code === null || typeof error.code === 'string')
  ) {
    return `not the OpenAI error shape: ${body.slice(0, 200)}`;
  }
  if (wanted.code !== undefined && error.code !== wanted.code) {
    return `code ${String(error.code)}, wanted ${wanted.code}`;
  }
  return undefined;
}

async function runCase(entry: Case): Promise<string | undefined> {
  const target = entry.small ? small : gateway;
  const label = `${entry.category} / ${entry.label.slice(0, 120)}`;
  try {
    const response = await withTimeout(
      target.inject({
        method: entry.method as 'GET',
        url: entry.url,
        headers: entry.headers,
        payload: entry.payload,
      }),
      CASE_TIMEOUT_MS,
      label,
    );
    const expect = entry.expect ?? (entry.method === 'HEAD' ? 'empty' : 'error');
    const found = problem(expect, entry, response.statusCode, response.body);
    return found && `${label}: ${found}`;
  } catch (error) {
    return `${label}: ${(error as Error).message}`;
  }
}

/** Writes raw bytes and reads until the server closes (or the bound passes). */
function sendRaw(port: number, entry: SocketCase): Promise<{ status: number; body: string } | 'closed'> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${SOCKET_TIMEOUT_MS} ms`));
    }, SOCKET_TIMEOUT_MS);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', () => undefined);
    socket.on('end', () => socket.end());
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      if (text === '') return resolve('closed');
      const head = text.slice(0, text.indexOf('\r\n\r\n'));
      const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1] ?? 0);
      let body = text.slice(head.length + 4);
      if (/^transfer-encoding:\s*chunked/im.test(head)) body = decodeChunked(body);
      resolve({ status, body: Buffer.from(body, 'latin1').toString('utf8') });
    });
    socket.write(entry.data);
    if (entry.end) socket.end();
  });
}

function decodeChunked(text: string): string {
  let out = '';
  let rest = text;
  for (;;) {
    const line = rest.indexOf('\r\n');
    const size = Number.parseInt(rest.slice(0, line), 16);
    if (!(size > 0)) return out;
    out += rest.slice(line + 2, line + 2 + size);
    rest = rest.slice(line + 4 + size);
  }
}

async function runAll(entries: Case[]): Promise<void> {
  const failures: string[] = [];
  for (const entry of entries) {
    const found = await runCase(entry);
    if (found) failures.push(found);
  }
  assert.deepEqual(failures.slice(0, 15), [], `${failures.length} of ${entries.length} cases failed`);
}

describe('fuzz corpus', () => {
  test('the corpus is generated, deterministic and large enough', () => {
    const total = corpus.length + socketCases.length;
    const categories = new Map<string, number>();
    for (const entry of corpus) categories.set(entry.category, (categories.get(entry.category) ?? 0) + 1);
    categories.set('raw socket', socketCases.length);
    console.log(`fuzz corpus: ${total} cases`, Object.fromEntries(categories));
    assert.ok(total >= 500, `only ${total} cases`);
    for (const category of [
      'invalid JSON',
      'wrong type (chat)',
      'huge string',
      'deep nesting',
      'invalid UTF-8',
    ]) {
      assert.ok((categories.get(category) ?? 0) > 0, category);
    }
  });

  test('the base bodies are valid and cover every field of each request schema', () => {
    for (const route of ROUTES) {
      assert.ok(Value.Check(route.schema, route.base), `${route.name} base is valid`);
      assert.ok(Value.Check(route.schema, route.simple), `${route.name} simple is valid`);
      const present = new Set(nodePaths(route.base).map(abstractName));
      const missing = schemaPaths(route.schema as Record<string, unknown>).filter(
        (name) => !present.has(name),
      );
      assert.deepEqual(missing, [], `${route.name}: add these schema fields to the fuzz base body`);
      const mutated = corpus.filter((entry) => entry.category === `wrong type (${route.name})`).length;
      assert.ok(mutated >= nodePaths(route.base).length, `${route.name}: ${mutated} wrong-type cases`);
    }
  });

  const categories = [...new Set(corpus.map((entry) => entry.category))];
  for (const category of categories) {
    test(`${category}: every case gets a 4xx in the OpenAI error shape`, async () => {
      await runAll(corpus.filter((entry) => entry.category === category));
    });
  }

  test('raw socket: every case gets a 4xx in the OpenAI error shape, or a closed connection', async () => {
    const failures: string[] = [];
    for (const entry of socketCases) {
      const port = Number(new URL((entry.small ? small : gateway).url).port);
      try {
        const answer = await sendRaw(port, entry);
        if (answer === 'closed') {
          // Only a request cut short by the client may go unanswered.
          if (!entry.end) failures.push(`${entry.label}: connection closed without an answer`);
          continue;
        }
        const found = problem(entry.expect ?? 'error', entry, answer.status, answer.body);
        if (found) failures.push(`${entry.label}: ${found}`);
      } catch (error) {
        failures.push(`${entry.label}: ${(error as Error).message}`);
      }
    }
    assert.deepEqual(failures, []);
  });

  test('no hostile request reached watsonx, and Object.prototype is untouched', () => {
    assert.equal(gateway.inferenceRequests().length, 0);
    assert.equal(small.inferenceRequests().length, 0);
    assert.equal((Object.prototype as Record<string, unknown>).polluted, undefined);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('the gateway still serves valid requests afterwards, over inject and over the socket', async () => {
    const chat = await gateway.inject({
      method: 'POST',
      url: '/v1/chat/completions',
      payload: ROUTES[0]!.simple,
    });
    assert.equal(chat.statusCode, 200, chat.body.slice(0, 300));
    assert.equal(chat.json().object, 'chat.completion');
    const health = await fetch(`${gateway.url}/health`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { status: string }).status, 'ok');
    const keyed = await fetch(`${small.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { ...JSON_HEADERS, authorization: `Bearer ${SMALL_LIMIT_KEY}` },
      body: JSON.stringify(ROUTES[0]!.simple),
    });
    assert.equal(keyed.status, 200);
  });
});
