// The 200 answers of the Anthropic routes, for the OpenAPI document only (replies are written with
// JSON.stringify, never filtered by these). The TypeScript shapes are in types.ts.
import { Type } from 'typebox';

const UsageSchema = Type.Object({
  input_tokens: Type.Integer(),
  output_tokens: Type.Integer(),
  cache_creation_input_tokens: Type.Integer({ description: 'always 0' }),
  cache_read_input_tokens: Type.Integer({ description: 'always 0' }),
});

export const MessageSchema = Type.Object(
  {
    id: Type.String({ description: 'msg_…' }),
    type: Type.Literal('message'),
    role: Type.Literal('assistant'),
    model: Type.String({ description: 'the model name the client sent' }),
    content: Type.Array(
      Type.Object(
        { type: Type.String({ description: 'text, thinking (when asked for) or tool_use' }) },
        { additionalProperties: true },
      ),
    ),
    stop_reason: Type.String({ description: 'end_turn, max_tokens, stop_sequence or tool_use' }),
    stop_sequence: Type.Union([Type.String(), Type.Null()]),
    usage: UsageSchema,
  },
  { title: 'Message' },
);

export const MessageAnswerSchema = {
  description:
    'The message (JSON), or with `stream: true` server-sent events: `event: <type>` and `data: <json>` ' +
    'lines (message_start, content_block_start/delta/stop, message_delta, message_stop; ping).',
  content: {
    'application/json': { schema: MessageSchema },
    'text/event-stream': { schema: Type.String() },
  },
};

export const CountTokensSchema = Type.Object(
  { input_tokens: Type.Integer({ minimum: 1 }) },
  { title: 'MessageTokensCount' },
);

export const AnthropicModelListSchema = Type.Object(
  {
    data: Type.Array(
      Type.Object({
        type: Type.Literal('model'),
        id: Type.String(),
        display_name: Type.String(),
        created_at: Type.String(),
      }),
    ),
    has_more: Type.Boolean(),
    first_id: Type.Union([Type.String(), Type.Null()]),
    last_id: Type.Union([Type.String(), Type.Null()]),
  },
  { title: 'AnthropicModelList' },
);
