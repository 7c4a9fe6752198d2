// The watsonx model catalogue (GET /ml/v1/foundation_model_specs, all pages), cached with a TTL,
// refreshed by one caller at a time and served stale while it refreshes. It backs /v1/models and
// the check, before each request, that a model exists and can do what is asked of it.
import { GatewayError, modelNotFound } from '../server/errors.ts';
import type { WatsonxClient } from '../watsonx/client.ts';
import type { WatsonxFoundationModel } from '../watsonx/types.ts';

/** watsonx `functions[].id` values the gateway asks for. */
export type ModelFunction = 'text_chat' | 'text_generation' | 'embedding' | 'rerank';

export interface CatalogueModel {
  id: string;
  provider: string;
  /** Unix seconds, from the lifecycle's `available` start date (0 when unknown). */
  created: number;
  functions: readonly string[];
  tasks: readonly string[];
  contextLength: number | undefined;
  maxOutputTokens: number | undefined;
  embeddingDimension: number | undefined;
  deprecated: { since: string | undefined; alternatives: readonly string[] } | undefined;
  withdrawn: boolean;
}

export interface CatalogueOptions {
  client: Pick<WatsonxClient, 'listModels'>;
  /** How long a fetched catalogue counts as fresh (ms). */
  ttlMs: number;
  /** On a miss, refresh at most this often before answering "unknown model" (ms). */
  missRefreshMs?: number;
  now?: () => number;
  onError?: (error: unknown) => void;
}

const FAILURE_PAUSE_MS = 30_000;
const FETCH_TIMEOUT_MS = 10_000;

const FUNCTION_LABEL: Record<ModelFunction, string> = {
  text_chat: 'chat (/v1/chat/completions)',
  text_generation: 'text generation (/v1/completions)',
  embedding: 'embeddings (/v1/embeddings)',
  rerank: 'rerank (/v1/rerank)',
};

export class ModelCatalogue {
  private readonly options: CatalogueOptions;
  private readonly now: () => number;
  private models: Map<string, CatalogueModel> | undefined;
  private fetchedAt = 0;
  private lastMissRefresh = -Infinity;
  private inFlight: Promise<Map<string, CatalogueModel>> | undefined;
  /** After a failed fetch with nothing cached, requests skip the catalogue until then (no pile-up). */
  private failedUntil = 0;
  private lastFailure: unknown;

  constructor(options: CatalogueOptions) {
    this.options = options;
    this.now = options.now ?? Date.now;
  }

  /** Every available or deprecated model (withdrawn ones are left out). */
  async list(): Promise<CatalogueModel[]> {
    const models = await this.current();
    return [...models.values()].filter((model) => !model.withdrawn);
  }

  /** The model, refreshing the catalogue first (at most once per missRefreshMs) when it is unknown. */
  async get(id: string): Promise<CatalogueModel | undefined> {
    let models = await this.current();
    let model = models.get(id);
    if (!model && this.now() - this.lastMissRefresh >= (this.options.missRefreshMs ?? 60_000)) {
      this.lastMissRefresh = this.now();
      models = await this.refresh();
      model = models.get(id);
    }
    return model && !model.withdrawn ? model : undefined;
  }

  /**
   * The hot path: a model found in a fresh catalogue, checked for `fn` without any await; undefined
   * when the slow path (`require`) must decide.
   */
  requireCached(id: string, fn: ModelFunction): CatalogueModel | undefined {
    if (!this.models || this.now() - this.fetchedAt >= this.options.ttlMs) return undefined;
    const model = this.models.get(id);
    return model && !model.withdrawn ? checkFunction(model, fn) : undefined;
  }

  /**
   * Refuses a request for a model watsonx does not offer (404) or that cannot do `fn` (400).
   * When the catalogue itself cannot be read, it lets the request through: watsonx will judge.
   */
  async require(id: string, fn: ModelFunction): Promise<CatalogueModel | undefined> {
    let model: CatalogueModel | undefined;
    try {
      model = await this.get(id);
    } catch (error) {
      this.options.onError?.(error);
      return undefined;
    }
    if (!model) {
      throw modelNotFound(`The model '${id}' does not exist or is not available in this watsonx.ai region.`);
    }
    return checkFunction(model, fn);
  }

  private async current(): Promise<Map<string, CatalogueModel>> {
    if (!this.models) {
      if (this.now() < this.failedUntil) throw this.lastFailure;
      return this.refresh();
    }
    if (this.now() - this.fetchedAt >= this.options.ttlMs) {
      // Stale: answer from what we have and refresh in the background.
      this.refresh().catch((error: unknown) => this.options.onError?.(error));
    }
    return this.models;
  }

  private refresh(): Promise<Map<string, CatalogueModel>> {
    this.inFlight ??= this.fetchAll()
      .catch((error: unknown) => {
        this.failedUntil = this.now() + FAILURE_PAUSE_MS;
        this.lastFailure = error;
        throw error;
      })
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }

  private async fetchAll(): Promise<Map<string, CatalogueModel>> {
    const models = new Map<string, CatalogueModel>();
    let start: string | undefined;
    for (let page = 0; page < 100; page++) {
      // A short bound: requests wait on the first fetch, and fail open if it does not come.
      const result = await this.options.client.listModels({
        start,
        signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
      });
      for (const resource of result.resources ?? []) {
        if (typeof resource?.model_id === 'string') models.set(resource.model_id, toCatalogueModel(resource));
      }
      start = nextStart(result.next?.href);
      if (!start) break;
    }
    this.models = models;
    this.fetchedAt = this.now();
    return models;
  }
}

function checkFunction(model: CatalogueModel, fn: ModelFunction): CatalogueModel {
  if (model.functions.includes(fn)) return model;
  const can = model.functions
    .filter((name): name is ModelFunction => name in FUNCTION_LABEL)
    .map((name) => FUNCTION_LABEL[name]);
  throw new GatewayError(
    400,
    `The model '${model.id}' does not support ${FUNCTION_LABEL[fn]}` +
      (can.length > 0 ? `; it supports ${can.join(', ')}.` : '.'),
    { code: 'model_not_supported', param: 'model' },
  );
}

function nextStart(href: string | undefined): string | undefined {
  if (!href) return undefined;
  try {
    return new URL(href, 'http://placeholder').searchParams.get('start') ?? undefined;
  } catch {
    return undefined;
  }
}

/** watsonx foundation model spec → the facts the gateway uses. Tolerates missing model_limits. */
export function toCatalogueModel(resource: WatsonxFoundationModel): CatalogueModel {
  const lifecycle = resource.lifecycle ?? [];
  const available = lifecycle.find((state) => state.id === 'available');
  const deprecated = lifecycle.find((state) => state.id === 'deprecated' || state.id === 'constricted');
  const withdrawn = lifecycle.find((state) => state.id === 'withdrawn');
  const today = new Date().toISOString().slice(0, 10);
  const startDate = available?.start_date ?? resource.versions?.[0]?.available_date;
  const created = startDate ? Math.floor(Date.parse(startDate) / 1000) : 0;
  return {
    id: resource.model_id,
    provider: resource.provider ?? resource.model_id.split('/')[0] ?? 'unknown',
    created: Number.isFinite(created) ? created : 0,
    functions: (resource.functions ?? []).map((entry) => entry.id),
    tasks: resource.task_ids ?? (resource.tasks ?? []).map((entry) => entry.id),
    contextLength: resource.model_limits?.max_sequence_length,
    maxOutputTokens: resource.model_limits?.max_output_tokens,
    embeddingDimension: resource.model_limits?.embedding_dimension,
    deprecated:
      deprecated && (!deprecated.start_date || deprecated.start_date <= today)
        ? { since: deprecated.start_date, alternatives: deprecated.alternative_model_ids ?? [] }
        : undefined,
    withdrawn: withdrawn !== undefined && (!withdrawn.start_date || withdrawn.start_date <= today),
  };
}
