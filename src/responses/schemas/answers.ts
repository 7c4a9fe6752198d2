// Answer schemas of the Responses routes, for the OpenAPI document only (answers are written with
// JSON.stringify, never filtered by these): loose on purpose.
import { Type } from 'typebox';

const Item = Type.Object(
  {
    type: Type.String({ description: 'message, reasoning, function_call, custom_tool_call' }),
    id: Type.String(),
  },
  { additionalProperties: true },
);

export const ResponseSchema = Type.Object(
  {
    id: Type.String({ description: 'resp_…' }),
    object: Type.Literal('response'),
    created_at: Type.Integer(),
    status: Type.String({ description: 'completed, incomplete, failed (in_progress only in stream events)' }),
    model: Type.String(),
    output: Type.Array(Item),
    usage: Type.Union([
      Type.Object(
        { input_tokens: Type.Integer(), output_tokens: Type.Integer(), total_tokens: Type.Integer() },
        { additionalProperties: true },
      ),
      Type.Null(),
    ]),
  },
  { title: 'Response', additionalProperties: true },
);

export const DeletedResponseSchema = Type.Object(
  { id: Type.String(), object: Type.Literal('response'), deleted: Type.Literal(true) },
  { title: 'DeletedResponse' },
);

export const responseOrEventStream = {
  description:
    'The response; with `stream: true`, an event stream (`event: response.created` … `event: response.completed`)',
  content: {
    'application/json': { schema: ResponseSchema },
    'text/event-stream': { schema: Type.String() },
  },
};
