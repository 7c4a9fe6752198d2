// Request schema of POST /v1/rerank (/rerank, /v2/rerank) and the answer the gateway writes: the
// de-facto rerank shape of Cohere, Jina, vLLM and LiteLLM (docs/rerank-and-more.md §2), plus the
// `object`/`data` keys Continue reads. Loose like the OpenAI schemas: unknown fields are accepted and
// ignored. The answer schema is documentation only (replies are written with JSON.stringify).
import { Type, type Static } from 'typebox';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()]);

// Any item passes the schema: the translator refuses what is neither a string nor an object with a
// string `text`, with a message that says so (ajv's first union branch would only say "must be string").
const DocumentSchema = Type.Unknown({
  description: 'a text, or an object with a string `text` (its other keys are accepted and ignored)',
});

/** The largest token count accepted (int32, what watsonx's services parse). */
const MAX_TOKENS = 2_147_483_647;

export const RerankRequestSchema = Type.Object(
  {
    model: Type.String({ minLength: 1, description: 'watsonx rerank model id, or a MODEL_MAP_ alias' }),
    query: Type.String({ description: 'the search query (not empty)' }),
    documents: Type.Array(DocumentSchema, {
      description: 'the texts to rank: 1 to 1000 non-empty strings or {text} objects',
    }),
    top_n: Type.Optional(
      Nullable(Type.Integer({ minimum: 0, description: 'return only the best N (absent or 0: all)' })),
    ),
    top_k: Type.Optional(Nullable(Type.Integer({ minimum: 0, description: "Continue's name for top_n" }))),
    return_documents: Type.Optional(
      Nullable(
        Type.Boolean({
          description:
            "add each result's `document: {text}`; default true on /v1/rerank and /rerank, false on /v2/rerank",
        }),
      ),
    ),
    max_tokens_per_doc: Type.Optional(
      Nullable(
        Type.Integer({
          minimum: 1,
          maximum: MAX_TOKENS,
          description: 'cut each document to N tokens (Cohere v2)',
        }),
      ),
    ),
    truncate_prompt_tokens: Type.Optional(
      Nullable(
        Type.Integer({
          maximum: MAX_TOKENS,
          description: "vLLM's name for max_tokens_per_doc (0 or less: the default)",
        }),
      ),
    ),
  },
  {
    title: 'RerankRequest',
    description:
      'Cohere/Jina/vLLM rerank request. rank_fields, max_chunks_per_doc and other unknown fields are accepted and ignored.',
    // The default body of "Try it out" on /docs: the rerank model of the simulator and watsonx.ai.
    examples: [
      {
        model: 'cross-encoder/ms-marco-minilm-l-12-v2',
        query: 'How do I reset my password?',
        documents: [
          'Billing happens on the first day of each month.',
          "Use 'Forgot password' on the login page to reset your password.",
          { text: 'Passwords must have at least twelve characters.' },
        ],
        top_n: 2,
      },
    ],
  },
);

export type RerankRequest = Static<typeof RerankRequestSchema>;

export interface RerankResult {
  index: number;
  /** watsonx's raw score (see docs/translation.md): higher is more relevant, may be negative. */
  relevance_score: number;
  document?: { text: string };
}

export interface RerankResponse {
  id: string;
  model: string;
  results: RerankResult[];
  /** Continue's reading of the same ranking (Voyage-style). */
  object: 'list';
  data: Array<{ index: number; relevance_score: number }>;
  usage: { prompt_tokens: number; total_tokens: number };
  meta: {
    api_version: { version: string };
    billed_units: { search_units: number };
    tokens: { input_tokens: number; output_tokens: number };
  };
}

const ScoredSchema = {
  index: Type.Integer({ description: 'the position in `documents`' }),
  relevance_score: Type.Number({
    description: "watsonx's raw score: higher is more relevant; can be negative (not 0-1)",
  }),
};

export const RerankResponseSchema = Type.Object(
  {
    id: Type.String({ description: 'rerank-<uuid>' }),
    model: Type.String({ description: 'the model name the client sent' }),
    results: Type.Array(
      Type.Object({
        ...ScoredSchema,
        document: Type.Optional(
          Type.Object({ text: Type.String() }, { description: 'with return_documents' }),
        ),
      }),
      { description: 'best first' },
    ),
    object: Type.Literal('list'),
    data: Type.Array(Type.Object(ScoredSchema), { description: '`results` without documents, for Continue' }),
    usage: Type.Object({ prompt_tokens: Type.Integer(), total_tokens: Type.Integer() }),
    meta: Type.Object({
      api_version: Type.Object({ version: Type.String() }),
      billed_units: Type.Object({ search_units: Type.Integer() }),
      tokens: Type.Object({ input_tokens: Type.Integer(), output_tokens: Type.Integer() }),
    }),
  },
  { title: 'RerankResponse' },
);
