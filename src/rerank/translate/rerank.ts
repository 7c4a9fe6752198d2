// Cohere-style rerank ⇄ watsonx text/rerank, as pure functions (docs/rerank-and-more.md §3). The
// request becomes one watsonx body; the answer becomes `results` best first, with watsonx's raw
// scores as `relevance_score`, the documents' texts taken from the request, and the same ranking as
// Continue's `data`.
import { GatewayError, invalidRequest, upstreamInvalidResponse } from '../../server/errors.ts';
import type { WatsonxRerankRequest, WatsonxRerankResponse } from '../../watsonx/types.ts';
import type { RerankRequest, RerankResponse, RerankResult } from '../schemas/rerank.ts';

/**
 * Most documents one request may carry. watsonx's own cap is not published; 1000 is its embeddings
 * cap and Cohere's recommended maximum, and bounds the work one small body can ask for.
 */
export const MAX_RERANK_DOCUMENTS = 1000;

export interface RerankRequestContext {
  /** The watsonx model id (after MODEL_MAP). */
  modelId: string;
  /** The model's max_sequence_length, when the catalogue knows it (rerank models often have none). */
  contextLength?: number | undefined;
  /** `return_documents` when the client sends none: true on /v1/rerank and /rerank, false on /v2/rerank. */
  returnDocumentsDefault: boolean;
}

export interface TranslatedRerank {
  body: WatsonxRerankRequest;
  /** The documents' texts in request order: what `document.text` and the checks of the answer use. */
  texts: string[];
  /** How many results to return (every document when the client asked for all). */
  topN: number;
  returnDocuments: boolean;
}

/** The client's request → the watsonx body. Throws a 400 GatewayError naming the field at fault. */
export function toWatsonxRerankRequest(
  request: RerankRequest,
  context: RerankRequestContext,
): TranslatedRerank {
  if (request.query.length === 0) throw invalidRequest("'query' must not be an empty string.", 'query');
  const texts = documentTexts(request.documents);
  // top_n (Cohere, Jina, vLLM, LiteLLM) wins over top_k (Continue); 0 or absent: every document.
  const requested = request.top_n ?? request.top_k ?? 0;
  const topN = requested > 0 ? Math.min(requested, texts.length) : texts.length;
  const returnDocuments = request.return_documents ?? context.returnDocumentsDefault;
  const truncate = truncateInputTokens(request, context.contextLength);
  const body: WatsonxRerankRequest = {
    model_id: context.modelId,
    query: request.query,
    inputs: texts.map((text) => ({ text })),
  };
  // The documents' texts are known here: watsonx is not asked to echo them (inputs: false).
  const returnOptions = topN < texts.length ? { top_n: topN } : undefined;
  if (truncate !== undefined || returnOptions !== undefined) {
    body.parameters = {
      ...(truncate !== undefined && { truncate_input_tokens: truncate }),
      ...(returnOptions !== undefined && { return_options: returnOptions }),
    };
  }
  return { body, texts, topN, returnDocuments };
}

/** `documents` → their texts: 1..MAX_RERANK_DOCUMENTS, none empty; objects give their `text`. */
export function documentTexts(documents: RerankRequest['documents']): string[] {
  if (documents.length === 0) {
    throw invalidRequest(
      "'documents' must not be an empty array: send at least one text to rank.",
      'documents',
    );
  }
  if (documents.length > MAX_RERANK_DOCUMENTS) {
    throw invalidRequest(
      `'documents' may hold at most ${MAX_RERANK_DOCUMENTS} items (got ${documents.length}); split the request.`,
      'documents',
      'too_many_documents',
    );
  }
  const texts: string[] = [];
  for (let index = 0; index < documents.length; index++) {
    const document = documents[index];
    const text: unknown =
      typeof document === 'string'
        ? document
        : typeof document === 'object' && document !== null && !Array.isArray(document)
          ? (document as { text?: unknown }).text
          : undefined;
    if (typeof text !== 'string') {
      throw invalidRequest(
        `'documents[${index}]' must be a string or an object with a string 'text'.`,
        `documents[${index}]`,
      );
    }
    if (text.length === 0) {
      throw invalidRequest(`'documents[${index}]' must not be empty.`, `documents[${index}]`);
    }
    texts.push(text);
  }
  return texts;
}

/**
 * truncate_input_tokens: the client's max_tokens_per_doc (Cohere v2) or truncate_prompt_tokens
 * (vLLM), else the model's max_sequence_length when the catalogue knows it (long documents are cut
 * instead of failing the call, as for embeddings), never more than that length; else none (watsonx
 * then refuses a document longer than the model reads, a 400 passed on).
 */
function truncateInputTokens(request: RerankRequest, contextLength: number | undefined): number | undefined {
  const vllm = request.truncate_prompt_tokens;
  const asked = request.max_tokens_per_doc ?? (vllm != null && vllm > 0 ? vllm : undefined);
  if (asked == null) return contextLength;
  return contextLength === undefined ? asked : Math.min(asked, contextLength);
}

export interface RerankResponseContext {
  /** The request's document texts (TranslatedRerank.texts). */
  texts: readonly string[];
  topN: number;
  returnDocuments: boolean;
  /** The model name as the client sent it. */
  model: string;
  /** `rerank-<uuid>`, made by the route. */
  id: string;
  /** meta.api_version.version: "2" on /v2/rerank, else "1". */
  apiVersion: string;
}

/**
 * The watsonx answer → the client's answer. Checked, since it comes straight from watsonx's JSON:
 * `results` an array of distinct in-range indices with finite scores (else 502); sorted again by
 * score (best first, equal scores in document order) and cut to top_n, whatever watsonx did.
 */
export function toRerankResponse(
  answer: WatsonxRerankResponse,
  context: RerankResponseContext,
): RerankResponse {
  const raw: unknown = (answer as { results?: unknown } | null)?.results;
  if (!Array.isArray(raw)) throw invalidUpstream('no results');
  const seen = new Set<number>();
  const ranked: RerankResult[] = [];
  for (const item of raw as unknown[]) {
    const { index, score } = (item ?? {}) as { index?: unknown; score?: unknown };
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= context.texts.length) {
      throw invalidUpstream(`a result for document ${JSON.stringify(index)} of ${context.texts.length}`);
    }
    if (seen.has(index)) throw invalidUpstream(`two results for document ${index}`);
    seen.add(index);
    if (typeof score !== 'number' || !Number.isFinite(score)) {
      throw invalidUpstream(`result for document ${index} has no score`);
    }
    ranked.push({ index, relevance_score: score });
  }
  if (ranked.length < context.topN) {
    throw invalidUpstream(`${ranked.length} results where ${context.topN} were asked for`);
  }
  ranked.sort((a, b) => b.relevance_score - a.relevance_score || a.index - b.index);
  const best = ranked.slice(0, context.topN);
  const tokens = typeof answer.input_token_count === 'number' ? answer.input_token_count : 0;
  return {
    id: context.id,
    model: context.model,
    results: context.returnDocuments
      ? best.map((result) => ({ ...result, document: { text: context.texts[result.index] ?? '' } }))
      : best,
    object: 'list',
    data: best.map(({ index, relevance_score }) => ({ index, relevance_score })),
    usage: { prompt_tokens: tokens, total_tokens: tokens },
    meta: {
      api_version: { version: context.apiVersion },
      billed_units: { search_units: 1 },
      tokens: { input_tokens: tokens, output_tokens: 0 },
    },
  };
}

function invalidUpstream(detail: string): GatewayError {
  return upstreamInvalidResponse(`watsonx.ai sent a rerank answer the gateway could not use: ${detail}.`);
}
