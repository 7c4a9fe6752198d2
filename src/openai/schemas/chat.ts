// Request schema of POST /v1/chat/completions. One TypeBox schema gives the validator, the
// TypeScript type and the OpenAPI document. It is deliberately loose: unknown fields are kept
// (and ignored by the translator), because strict validation of vendor fields is the most common
// way OpenAI-compatible servers break clients. Role-specific rules live in the translator, which
// can name the exact message in its errors.
import { Type, type Static } from 'typebox';
import { MAX_MESSAGES, MAX_STOP_SEQUENCES, MAX_TOOLS } from '../../server/request-limits.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()]);

/** A free-form JSON object (JSON Schemas, metadata). */
const JsonObject = Type.Record(Type.String(), Type.Unknown());

export const ContentPartSchema = Type.Object(
  {
    type: Type.String({ description: 'text, image_url, input_audio (file and others are refused)' }),
    text: Type.Optional(Type.String()),
    image_url: Type.Optional(
      Type.Object(
        { url: Type.String(), detail: Type.Optional(Type.String()) },
        { description: 'image part' },
      ),
    ),
    input_audio: Type.Optional(Type.Object({ data: Type.String(), format: Type.String() })),
    refusal: Type.Optional(Type.String()),
  },
  { title: 'ContentPart' },
);

export const ToolCallSchema = Type.Object(
  {
    id: Type.Optional(Type.String()),
    type: Type.Optional(Type.String()),
    function: Type.Object({
      name: Type.String(),
      arguments: Type.Optional(Type.Union([Type.String(), Type.Object({})])),
    }),
  },
  { title: 'ToolCall' },
);

export const MessageSchema = Type.Object(
  {
    role: Type.Enum(['system', 'developer', 'user', 'assistant', 'tool', 'function'], {
      description: 'developer is sent to watsonx as system',
    }),
    content: Type.Optional(Nullable(Type.Union([Type.String(), Type.Array(ContentPartSchema)]))),
    name: Type.Optional(Type.String()),
    tool_calls: Type.Optional(Nullable(Type.Array(ToolCallSchema))),
    tool_call_id: Type.Optional(Type.String()),
    refusal: Type.Optional(Nullable(Type.String())),
  },
  { title: 'ChatMessage' },
);

export const ToolSchema = Type.Object(
  {
    type: Type.String({ description: 'only function tools are supported' }),
    function: Type.Optional(
      Type.Object({
        name: Type.String({ minLength: 1 }),
        description: Type.Optional(Type.String()),
        parameters: Type.Optional(JsonObject),
        strict: Type.Optional(Nullable(Type.Boolean())),
      }),
    ),
  },
  { title: 'Tool' },
);

export const ChatCompletionRequestSchema = Type.Object(
  {
    model: Type.String({ minLength: 1, description: 'watsonx model id, or a MODEL_MAP_ alias' }),
    messages: Type.Array(MessageSchema, { minItems: 1, maxItems: MAX_MESSAGES }),
    temperature: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 2 }))),
    top_p: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 1 }))),
    n: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 128 }))),
    stop: Type.Optional(
      Nullable(Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: MAX_STOP_SEQUENCES })])),
    ),
    max_tokens: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
    max_completion_tokens: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
    presence_penalty: Type.Optional(Nullable(Type.Number({ minimum: -2, maximum: 2 }))),
    frequency_penalty: Type.Optional(Nullable(Type.Number({ minimum: -2, maximum: 2 }))),
    logit_bias: Type.Optional(Nullable(Type.Record(Type.String(), Type.Number()))),
    logprobs: Type.Optional(Nullable(Type.Boolean())),
    top_logprobs: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 20 }))),
    seed: Type.Optional(Nullable(Type.Integer())),
    stream: Type.Optional(Nullable(Type.Boolean())),
    stream_options: Type.Optional(
      Nullable(Type.Object({ include_usage: Type.Optional(Nullable(Type.Boolean())) })),
    ),
    tools: Type.Optional(Nullable(Type.Array(ToolSchema, { maxItems: MAX_TOOLS }))),
    tool_choice: Type.Optional(
      Nullable(
        Type.Union([
          Type.String({ description: 'none, auto or required' }),
          Type.Object({
            type: Type.String(),
            function: Type.Optional(Type.Object({ name: Type.String() })),
          }),
        ]),
      ),
    ),
    parallel_tool_calls: Type.Optional(Nullable(Type.Boolean())),
    response_format: Type.Optional(
      Nullable(
        Type.Object({
          type: Type.String({ description: 'text, json_object or json_schema' }),
          json_schema: Type.Optional(
            Type.Object({
              name: Type.String(),
              description: Type.Optional(Type.String()),
              schema: Type.Optional(JsonObject),
              strict: Type.Optional(Nullable(Type.Boolean())),
            }),
          ),
        }),
      ),
    ),
    reasoning_effort: Type.Optional(Nullable(Type.String())),
    modalities: Type.Optional(Nullable(Type.Array(Type.String()))),
    audio: Type.Optional(Nullable(Type.Object({}))),
    functions: Type.Optional(Nullable(Type.Array(Type.Object({})))),
    function_call: Type.Optional(Nullable(Type.Union([Type.String(), Type.Object({})]))),
    user: Type.Optional(Nullable(Type.String())),
    store: Type.Optional(Nullable(Type.Boolean())),
    metadata: Type.Optional(Nullable(Type.Object({}))),
  },
  {
    title: 'CreateChatCompletionRequest',
    description: 'Unknown fields are accepted and ignored.',
    // The default body of "Try it out" on /docs: a model the simulator and watsonx.ai both serve.
    examples: [
      {
        model: 'ibm/granite-4-h-small',
        messages: [{ role: 'user', content: 'Hello! What can you do?' }],
        stream: false,
      },
    ],
  },
);

export type ChatCompletionRequest = Static<typeof ChatCompletionRequestSchema>;
export type ChatMessage = Static<typeof MessageSchema>;
export type ContentPart = Static<typeof ContentPartSchema>;
