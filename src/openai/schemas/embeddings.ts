// Request schema of POST /v1/embeddings and the response shape the gateway emits. Loose like the
// chat schema: unknown fields are accepted and ignored. Token-id inputs pass the schema on purpose,
// so the translator can refuse them with a message that says why instead of a bare type error.
import { Type, type Static } from 'typebox';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(schema: T) =>
  Type.Union([schema, Type.Null()]);

export const EmbeddingRequestSchema = Type.Object(
  {
    model: Type.String({ minLength: 1, description: 'watsonx embedding model id, or a MODEL_MAP_ alias' }),
    input: Type.Union(
      [
        Type.String(),
        Type.Array(Type.String()),
        Type.Array(Type.Integer()),
        Type.Array(Type.Array(Type.Integer())),
      ],
      { description: 'a string or an array of strings (token-id arrays are refused)' },
    ),
    encoding_format: Type.Optional(
      Nullable(Type.Enum(['float', 'base64'], { description: 'default float' })),
    ),
    dimensions: Type.Optional(
      Nullable(Type.Integer({ minimum: 1, description: "only the model's native dimension" })),
    ),
    user: Type.Optional(Nullable(Type.String())),
  },
  {
    title: 'CreateEmbeddingRequest',
    description: 'Unknown fields are accepted and ignored.',
    // The default body of "Try it out" on /docs: an embedding model of the simulator and watsonx.ai.
    examples: [{ model: 'ibm/granite-embedding-278m-multilingual', input: 'The quick brown fox' }],
  },
);

export type EmbeddingRequest = Static<typeof EmbeddingRequestSchema>;

export interface Embedding {
  object: 'embedding';
  index: number;
  /** Floats, or base64 of little-endian float32 bytes when `encoding_format` is base64. */
  embedding: number[] | string;
}

export interface EmbeddingResponse {
  object: 'list';
  data: Embedding[];
  model: string;
  usage: { prompt_tokens: number; total_tokens: number };
}
