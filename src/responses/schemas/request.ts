// Request schema of POST /v1/responses. Loose on purpose, like the chat schema: unknown fields are
// kept and ignored, and the items of `input` and `tools` are checked by the translator, which can
// name the exact item in its errors (and drops what a bridge cannot serve instead of refusing it).
import { Type, type Static } from 'typebox';
import { MAX_MESSAGES, MAX_TOOLS } from '../../server/request-limits.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()]);

/** Any JSON object: input items, tools, formats (checked by the translator). */
const Loose = (
  title: string,
  description: string,
  properties: Record<string, ReturnType<typeof Nullable>> = {},
) =>
  Type.Object(
    { type: Type.Optional(Type.String()), ...mapOptional(properties) },
    { title, description, additionalProperties: true },
  );

/** A list of JSON objects (content parts, a namespace's tools): the translator reads each as one. */
const Objects = Nullable(
  Type.Union([Type.String(), Type.Array(Type.Object({}, { additionalProperties: true }))]),
);
const ObjectList = Nullable(Type.Array(Type.Object({}, { additionalProperties: true })));

function mapOptional(properties: Record<string, ReturnType<typeof Nullable>>) {
  return Object.fromEntries(
    Object.entries(properties).map(([name, schema]) => [name, Type.Optional(schema)]),
  ) as Record<string, ReturnType<typeof Type.Optional<ReturnType<typeof Nullable>>>>;
}

export const CreateResponseRequestSchema = Type.Object(
  {
    model: Type.String({ minLength: 1, description: 'watsonx model id, or a MODEL_MAP_ alias' }),
    input: Type.Optional(
      Type.Union([
        Type.String({ description: 'one user message' }),
        Type.Array(
          Loose(
            'InputItem',
            'message (input_text, input_image, output_text parts), function_call, function_call_output, custom_tool_call(_output), reasoning, item_reference',
            { content: Objects, output: Objects },
          ),
          { maxItems: MAX_MESSAGES },
        ),
      ]),
    ),
    instructions: Type.Optional(Nullable(Type.String())),
    tools: Type.Optional(
      Nullable(
        Type.Array(
          Loose('Tool', 'function, custom, namespace; hosted tools are dropped', { tools: ObjectList }),
          { maxItems: MAX_TOOLS },
        ),
      ),
    ),
    tool_choice: Type.Optional(
      Nullable(
        Type.Union([
          Type.String({ description: 'none, auto or required' }),
          Loose('ToolChoice', '{type: function|custom, name}, {type: allowed_tools, mode, tools}', {
            tools: ObjectList,
          }),
        ]),
      ),
    ),
    parallel_tool_calls: Type.Optional(Nullable(Type.Boolean())),
    text: Type.Optional(
      Nullable(
        Type.Object(
          {
            format: Type.Optional(
              Nullable(Loose('TextFormat', 'text, json_object, json_schema {name, schema, strict}')),
            ),
          },
          { additionalProperties: true },
        ),
      ),
    ),
    reasoning: Type.Optional(
      Nullable(
        Type.Object(
          {
            effort: Type.Optional(Nullable(Type.String())),
            summary: Type.Optional(Nullable(Type.String())),
          },
          { additionalProperties: true },
        ),
      ),
    ),
    max_output_tokens: Type.Optional(Nullable(Type.Integer({ minimum: 1 }))),
    temperature: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 2 }))),
    top_p: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 1 }))),
    stream: Type.Optional(Nullable(Type.Boolean())),
    store: Type.Optional(Nullable(Type.Boolean())),
    previous_response_id: Type.Optional(Nullable(Type.String())),
    include: Type.Optional(Nullable(Type.Array(Type.String()))),
    metadata: Type.Optional(Nullable(Type.Record(Type.String(), Type.String()))),
    user: Type.Optional(Nullable(Type.String())),
  },
  {
    title: 'CreateResponseRequest',
    description: 'Unknown fields are accepted and ignored.',
    examples: [{ model: 'ibm/granite-4-h-small', input: 'Hello! What can you do?', stream: false }],
  },
);

export type CreateResponseRequest = Static<typeof CreateResponseRequestSchema>;
