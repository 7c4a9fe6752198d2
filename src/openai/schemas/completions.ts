// POST /v1/completions (legacy text completions): the request schema and the response shapes.
// Loose like the chat schema: unknown fields are accepted and ignored. Token-id prompts are let
// through the schema on purpose, so that the translator can refuse them with `param: "prompt"` and
// a clear message instead of an opaque union-validation error.
import { Type, type Static } from 'typebox';
import type { OpenAIFinishReason, OpenAIUsage } from './types.ts';
import { MAX_STOP_SEQUENCES } from '../../server/request-limits.ts';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()]);

export const CompletionRequestSchema = Type.Object(
  {
    model: Type.String({ minLength: 1, description: 'watsonx model id, or a MODEL_MAP_ alias' }),
    prompt: Type.Union(
      [
        Type.String(),
        Type.Array(Type.String()),
        Type.Array(Type.Integer()),
        Type.Array(Type.Array(Type.Integer())),
      ],
      { description: 'a string or an array of strings; token-id arrays are refused' },
    ),
    max_tokens: Type.Optional(Nullable(Type.Integer({ minimum: 0 }))),
    temperature: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 2 }))),
    top_p: Type.Optional(Nullable(Type.Number({ minimum: 0, maximum: 1 }))),
    n: Type.Optional(Nullable(Type.Integer({ minimum: 1, maximum: 128 }))),
    stream: Type.Optional(Nullable(Type.Boolean())),
    stream_options: Type.Optional(
      Nullable(Type.Object({ include_usage: Type.Optional(Nullable(Type.Boolean())) })),
    ),
    logprobs: Type.Optional(Nullable(Type.Integer({ minimum: 0, maximum: 5 }))),
    echo: Type.Optional(Nullable(Type.Boolean())),
    stop: Type.Optional(
      Nullable(Type.Union([Type.String(), Type.Array(Type.String(), { maxItems: MAX_STOP_SEQUENCES })])),
    ),
    presence_penalty: Type.Optional(Nullable(Type.Number({ minimum: -2, maximum: 2 }))),
    frequency_penalty: Type.Optional(Nullable(Type.Number({ minimum: -2, maximum: 2 }))),
    best_of: Type.Optional(
      Nullable(Type.Integer({ minimum: 0, maximum: 20, description: 'only 1 or equal to n' })),
    ),
    logit_bias: Type.Optional(
      Nullable(Type.Record(Type.String(), Type.Number(), { description: 'refused unless empty' })),
    ),
    seed: Type.Optional(Nullable(Type.Integer())),
    suffix: Type.Optional(Nullable(Type.String({ description: 'refused unless empty' }))),
    user: Type.Optional(Nullable(Type.String())),
  },
  {
    title: 'CreateCompletionRequest',
    description: 'Unknown fields are accepted and ignored.',
    // The default body of "Try it out" on /docs: a text_generation model of the simulator and watsonx.ai.
    examples: [
      {
        model: 'ibm/granite-4-h-small',
        prompt: 'Write a haiku about the sea.',
        max_tokens: 64,
        stream: false,
      },
    ],
  },
);

export type CompletionRequest = Static<typeof CompletionRequestSchema>;

/** OpenAI's legacy logprobs object; `text_offset` counts from the start of the choice's text. */
export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: Array<number | null>;
  top_logprobs: Array<Record<string, number>>;
  text_offset: number[];
}

export interface CompletionChoice {
  text: string;
  index: number;
  logprobs: CompletionLogprobs | null;
  finish_reason: OpenAIFinishReason | null;
}

export interface TextCompletion {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  system_fingerprint: null;
  choices: CompletionChoice[];
  usage: OpenAIUsage;
}

export interface TextCompletionChunk {
  id: string;
  object: 'text_completion';
  created: number;
  model: string;
  system_fingerprint: null;
  choices: CompletionChoice[];
  usage?: OpenAIUsage | null;
}
