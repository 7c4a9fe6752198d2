// Request schemas of POST /v1/messages and /v1/messages/count_tokens. Loose on purpose: Claude Code
// adds fields and block types over time (context_management, output_config, tool keys such as
// input_examples), and a gateway that refuses them stops it. The shapes every translation needs are
// checked here; block-level rules live in the translator, which names the exact block in errors.
import { type Static, Type } from 'typebox';
import { MAX_MESSAGES, MAX_STOP_SEQUENCES, MAX_TOOLS } from '../../server/request-limits.ts';

/** A free-form JSON object (JSON Schemas, metadata, blocks read by the translator). */
const JsonObject = Type.Record(Type.String(), Type.Unknown());

export const ContentBlockSchema = Type.Object(
  {
    type: Type.String({
      description:
        'text, image, tool_use, tool_result, thinking, redacted_thinking, document (text source); server-tool blocks are dropped',
    }),
  },
  { title: 'ContentBlock', additionalProperties: true },
);

export const MessageParamSchema = Type.Object(
  {
    role: Type.Enum(['user', 'assistant', 'system'], {
      description: 'system entries are folded into the system prompt',
    }),
    content: Type.Union([Type.String(), Type.Array(ContentBlockSchema)]),
  },
  { title: 'MessageParam' },
);

export const ToolSchema = Type.Object(
  {
    name: Type.String({ minLength: 1 }),
    description: Type.Optional(Type.String()),
    input_schema: Type.Optional(JsonObject),
    type: Type.Optional(Type.String({ description: 'custom, or a dated server tool (dropped)' })),
  },
  { title: 'Tool', additionalProperties: true },
);

const SystemSchema = Type.Union([Type.String(), Type.Array(ContentBlockSchema)]);

const ToolChoiceSchema = Type.Object(
  {
    type: Type.String({ description: 'auto, any, tool or none' }),
    name: Type.Optional(Type.String()),
    disable_parallel_tool_use: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: true },
);

const ThinkingSchema = Type.Object(
  {
    type: Type.String({ description: 'enabled, adaptive or disabled' }),
    budget_tokens: Type.Optional(Type.Integer()),
    display: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);

const OutputConfigSchema = Type.Object(
  {
    effort: Type.Optional(Type.String()),
    format: Type.Optional(
      Type.Union([
        Type.Null(),
        Type.Object(
          { type: Type.String(), schema: Type.Optional(JsonObject) },
          { additionalProperties: true },
        ),
      ]),
    ),
  },
  { additionalProperties: true },
);

const common = {
  model: Type.String({ minLength: 1, description: 'a watsonx model id, or a MODEL_MAP_ alias' }),
  messages: Type.Array(MessageParamSchema, { maxItems: MAX_MESSAGES }),
  system: Type.Optional(SystemSchema),
  tools: Type.Optional(Type.Array(ToolSchema, { maxItems: MAX_TOOLS })),
  tool_choice: Type.Optional(ToolChoiceSchema),
  thinking: Type.Optional(ThinkingSchema),
  output_config: Type.Optional(OutputConfigSchema),
};

export const MessagesRequestSchema = Type.Object(
  {
    ...common,
    max_tokens: Type.Integer({ minimum: 1, description: 'clamped to the model’s output limit' }),
    stream: Type.Optional(Type.Boolean()),
    stop_sequences: Type.Optional(Type.Array(Type.String(), { maxItems: MAX_STOP_SEQUENCES })),
    temperature: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    top_p: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
    top_k: Type.Optional(
      Type.Integer({ minimum: 0, description: 'accepted, not sent (watsonx chat has none)' }),
    ),
    metadata: Type.Optional(JsonObject),
  },
  {
    title: 'CreateMessageRequest',
    description: 'Unknown fields (context_management, service_tier, …) are accepted and ignored.',
    examples: [
      {
        model: 'ibm/granite-4-h-small',
        max_tokens: 1024,
        messages: [{ role: 'user', content: 'Hello! What can you do?' }],
        stream: false,
      },
    ],
  },
);

export const CountTokensRequestSchema = Type.Object(common, {
  title: 'CountTokensRequest',
  description: 'The request a messages call would make (max_tokens and sampling fields are ignored).',
  examples: [{ model: 'ibm/granite-4-h-small', messages: [{ role: 'user', content: 'Hello!' }] }],
});

/** A content block: `type` checked here, the rest read by the translator. */
export type ContentBlockParam = { type: string } & Record<string, unknown>;
export interface MessageParam {
  role: 'user' | 'assistant' | 'system';
  content: string | ContentBlockParam[];
}
type WithBlocks<T> = Omit<T, 'messages' | 'system'> & {
  messages: MessageParam[];
  system?: string | ContentBlockParam[];
};
export type MessagesRequest = WithBlocks<Static<typeof MessagesRequestSchema>>;
export type CountTokensRequest = WithBlocks<Static<typeof CountTokensRequestSchema>>;
export type ToolParam = Static<typeof ToolSchema>;
