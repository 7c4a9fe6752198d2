// The 200 answers of the OpenAI routes, for the OpenAPI document (/docs). Documentation only: the
// app writes replies with JSON.stringify (src/server/app.ts), so these never filter or reshape an
// answer. Loose on purpose: the fields a client reads, any others allowed. The TypeScript shapes the
// translators build are in types.ts, completions.ts and embeddings.ts.
import { Type } from 'typebox';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()]);

const FinishReason = Type.String({ description: 'stop, length, tool_calls or content_filter' });

export const UsageSchema = Type.Object(
  {
    prompt_tokens: Type.Integer(),
    completion_tokens: Type.Integer(),
    total_tokens: Type.Integer(),
  },
  { title: 'CompletionUsage' },
);

export const ChatCompletionSchema = Type.Object(
  {
    id: Type.String(),
    object: Type.Literal('chat.completion'),
    created: Type.Integer(),
    model: Type.String({ description: 'the model name the client sent' }),
    choices: Type.Array(
      Type.Object({
        index: Type.Integer(),
        message: Type.Object({
          role: Type.Literal('assistant'),
          content: Nullable(Type.String()),
          tool_calls: Type.Optional(
            Type.Array(
              Type.Object({
                id: Type.String(),
                type: Type.Literal('function'),
                function: Type.Object({ name: Type.String(), arguments: Type.String() }),
              }),
            ),
          ),
          reasoning_content: Type.Optional(Type.String({ description: 'reasoning models only' })),
        }),
        finish_reason: FinishReason,
      }),
    ),
    usage: UsageSchema,
  },
  { title: 'ChatCompletion' },
);

export const TextCompletionSchema = Type.Object(
  {
    id: Type.String(),
    object: Type.Literal('text_completion'),
    created: Type.Integer(),
    model: Type.String({ description: 'the model name the client sent' }),
    choices: Type.Array(
      Type.Object({
        text: Type.String(),
        index: Type.Integer(),
        logprobs: Nullable(Type.Object({})),
        finish_reason: FinishReason,
      }),
    ),
    usage: UsageSchema,
  },
  { title: 'TextCompletion' },
);

export const EmbeddingListSchema = Type.Object(
  {
    object: Type.Literal('list'),
    data: Type.Array(
      Type.Object({
        object: Type.Literal('embedding'),
        index: Type.Integer(),
        embedding: Type.Union([Type.Array(Type.Number()), Type.String()], {
          description: 'floats, or base64 of little-endian float32 with encoding_format: base64',
        }),
      }),
    ),
    model: Type.String({ description: 'the model name the client sent' }),
    usage: Type.Object({ prompt_tokens: Type.Integer(), total_tokens: Type.Integer() }),
  },
  { title: 'EmbeddingList' },
);

export const ModelSchema = Type.Object(
  {
    id: Type.String({
      description:
        'the watsonx model id, deployment/<serving name or id>, or a MODEL_MAP / DEPLOYMENT_ALIASES alias',
    }),
    object: Type.Literal('model'),
    created: Type.Integer(),
    owned_by: Type.String(),
    watsonx: Type.Object(
      {
        model_id: Type.String(),
        alias_of: Type.Optional(Type.String()),
        deployment: Type.Optional(
          Type.Object(
            {
              id: Type.String(),
              serving_name: Nullable(Type.String()),
              name: Nullable(Type.String()),
              base_model_id: Nullable(Type.String()),
              prompt_template: Type.Boolean(),
              asset_type: Nullable(Type.String()),
            },
            { description: 'set for a watsonx deployment (`deployment/<serving name or id>`)' },
          ),
        ),
        functions: Type.Array(Type.String(), { description: 'text_chat, text_generation, embedding, …' }),
        tool_calling: Type.Boolean(),
        vision: Type.Boolean(),
        context_length: Nullable(Type.Integer()),
        max_output_tokens: Nullable(Type.Integer()),
        embedding_dimension: Nullable(Type.Integer()),
        lifecycle: Type.Object({ status: Type.String({ description: 'available or deprecated' }) }),
      },
      { description: 'capabilities, limits and lifecycle from the watsonx catalogue' },
    ),
  },
  { title: 'Model' },
);

export const ModelListSchema = Type.Object(
  { object: Type.Literal('list'), data: Type.Array(ModelSchema) },
  { title: 'ModelList' },
);

/** A 200 that is JSON, or with `stream: true` a text/event-stream of `data:` lines (`chunk` objects). */
export function jsonOrEventStream(json: object, chunk: string): object {
  return {
    description: `JSON; with \`stream: true\`, an event stream of \`data: {${chunk}}\` lines ending with \`data: [DONE]\``,
    content: {
      'application/json': { schema: json },
      'text/event-stream': { schema: Type.String() },
    },
  };
}
