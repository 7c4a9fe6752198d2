// GET /ml/v1/foundation_model_specs (docs/watsonx-api.md §7, sample #12): the model table as
// pages of foundation-model resources, with `filters` and opaque `start` tokens. Pure: the server
// passes the query, its own URL and the page-size cap.
import type { WatsonxFoundationModelsPage } from '../watsonx/types.ts';
import type { SimulatedError } from './errors.ts';
import { lifecycleState, SIMULATED_MODELS, toFoundationModel, type SimulatedModel } from './models.ts';

export const CATALOGUE_PATH = '/ml/v1/foundation_model_specs';
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 200;

export interface CatalogueSettings {
  /** The simulator's base URL, for `first.href` / `next.href`. */
  baseUrl: string;
  /** Caps the page size whatever `limit` asks (SimulatorOptions.modelPageSize). */
  pageSize: number;
  models?: readonly SimulatedModel[];
}

type Predicate = (model: SimulatedModel) => boolean;

function badArgument(message: string): SimulatedError {
  return { status: 400, code: 'invalid_input_argument', message };
}

const equalsIgnoringCase = (left: string, right: string) => left.toLowerCase() === right.toLowerCase();

// longest prefixes first: `input_tier_x` must not be read as `tier_…`
const FILTERS: Array<[prefix: string, test: (model: SimulatedModel, value: string) => boolean]> = [
  ['modelid_', (model, value) => model.model_id === value],
  ['provider_', (model, value) => equalsIgnoringCase(model.provider, value)],
  ['source_', (model, value) => equalsIgnoringCase(model.source, value)],
  // the simulated models carry no tiers, so tier filters match nothing
  ['input_tier_', () => false],
  ['output_tier_', () => false],
  ['tier_', () => false],
  ['task_', (model, value) => model.tasks.includes(value)],
  // "models that are currently in the specified lifecycle state"
  ['lifecycle_', (model, value) => lifecycleState(model) === value],
  ['function_', (model, value) => (model.functions as readonly string[]).includes(value)],
];

/** `tfilter[,tfilter][:(or|and)]`, `tfilter = filter | !filter`; the default operator is and. */
export function parseFilters(text: string): Predicate | SimulatedError {
  const operator = /:(and|or)$/i.exec(text);
  const list = operator ? text.slice(0, operator.index) : text;
  const terms: Predicate[] = [];
  for (const raw of list.split(',')) {
    const term = raw.trim();
    const negated = term.startsWith('!');
    const filter = negated ? term.slice(1) : term;
    const known = FILTERS.find(([prefix]) => filter.startsWith(prefix) && filter.length > prefix.length);
    if (!known) return badArgument(`Invalid filter '${term}' in query parameter 'filters'`);
    const [prefix, test] = known;
    const value = filter.slice(prefix.length);
    terms.push(negated ? (model) => !test(model, value) : (model) => test(model, value));
  }
  return operator?.[1]?.toLowerCase() === 'or'
    ? (model) => terms.some((term) => term(model))
    : (model) => terms.every((term) => term(model));
}

/** Opaque to clients; base64url of the offset of the next page. */
export function startToken(offset: number): string {
  return Buffer.from(JSON.stringify({ offset })).toString('base64url');
}

function readStart(token: string): number | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { offset?: unknown };
    return Number.isInteger(parsed.offset) && (parsed.offset as number) >= 0
      ? (parsed.offset as number)
      : undefined;
  } catch {
    return undefined;
  }
}

function href(baseUrl: string, query: URLSearchParams, start?: string): string {
  const params = new URLSearchParams([...query].filter(([name]) => name !== 'start'));
  if (start !== undefined) params.set('start', start);
  return `${baseUrl}${CATALOGUE_PATH}?${params}`;
}

export function cataloguePage(
  query: URLSearchParams,
  settings: CatalogueSettings,
): WatsonxFoundationModelsPage | SimulatedError {
  const limitText = query.get('limit');
  const limit = limitText === null ? DEFAULT_LIMIT : Number(limitText);
  if (!/^\d+$/.test(limitText ?? '0') || limit < 1 || limit > MAX_LIMIT) {
    return badArgument(`Invalid query parameter 'limit': expected an integer from 1 to ${MAX_LIMIT}`);
  }
  const startText = query.get('start');
  const offset = startText === null ? 0 : readStart(startText);
  if (offset === undefined) return badArgument("Invalid query parameter 'start': not a pagination token");
  const filtersText = query.get('filters');
  let models = settings.models ?? SIMULATED_MODELS;
  if (filtersText !== null && filtersText !== '') {
    const predicate = parseFilters(filtersText);
    if (typeof predicate !== 'function') return predicate;
    models = models.filter(predicate);
  }
  const pageSize = Math.max(1, Math.min(limit, settings.pageSize));
  const end = offset + pageSize;
  return {
    total_count: models.length,
    limit: pageSize,
    first: { href: href(settings.baseUrl, query) },
    ...(end < models.length ? { next: { href: href(settings.baseUrl, query, startToken(end)) } } : {}),
    resources: models.slice(offset, end).map(toFoundationModel),
  };
}
