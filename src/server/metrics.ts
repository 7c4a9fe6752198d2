// Prometheus metrics (GET /metrics). One registry per gateway instance: no module-level state.
// The series written on every request (requests, duration, time to first token, tokens) are kept
// by the small classes at the end (nested Maps, no key string per update): prom-client's own hash
// their labels on each update, a visible share of a request's CPU (bench/README.md). The rest are
// prom-client's.
import { Counter, collectDefaultMetrics, Gauge, type Metric, Registry } from 'prom-client';

export class Metrics {
  readonly registry = new Registry();
  readonly requests = new LabelledCounter(this.registry, {
    name: 'gateway_requests_total',
    help: 'Requests answered, by route, status and client model name',
    labelNames: ['route', 'status', 'model'],
  });
  readonly duration = new LabelledHistogram(this.registry, {
    name: 'gateway_request_duration_seconds',
    help: 'Time from request to the end of the response, by route',
    labelNames: ['route'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
  });
  readonly timeToFirstToken = new LabelledHistogram(this.registry, {
    name: 'gateway_stream_time_to_first_token_seconds',
    help: 'Time from request to the first generated text of a stream, by route',
    labelNames: ['route'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300],
  });
  readonly tokens = new LabelledCounter(this.registry, {
    name: 'gateway_tokens_total',
    help: 'Tokens reported by watsonx, by model and kind (prompt or completion)',
    labelNames: ['model', 'kind'],
  });
  readonly upstreamErrors = new Counter({
    name: 'gateway_upstream_errors_total',
    help: 'Error answers from watsonx, by HTTP status and watsonx error code',
    labelNames: ['status', 'code'] as const,
    registers: [this.registry],
  });
  readonly retries = new Counter({
    name: 'gateway_upstream_retries_total',
    help: 'Retried watsonx calls, by operation and reason (status or connection)',
    labelNames: ['operation', 'reason'] as const,
    registers: [this.registry],
  });
  readonly iamFetches = new Counter({
    name: 'gateway_iam_token_fetches_total',
    help: 'IBM Cloud IAM token exchanges, by outcome (success or failure)',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });
  readonly streamsInFlight = new Gauge({
    name: 'gateway_streams_in_flight',
    help: 'Streaming responses currently open',
    registers: [this.registry],
  });
  readonly rejected = new Counter({
    name: 'gateway_rejected_requests_total',
    help: 'Requests refused by the gateway limits, by reason (concurrency, requests, tokens)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }
}

type Labels<L extends string> = Readonly<Record<L, string>>;

interface SeriesOptions<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
}

interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/**
 * Label combinations and their values, in one nested Map per label: an update builds no key
 * string (a joined key made a new string to flatten and hash on every request).
 */
class SeriesTable<L extends string, T> {
  readonly entries: T[] = [];
  private readonly root = new Map<string, unknown>();
  private readonly labelNames: readonly L[];
  private readonly create: (labels: Labels<L>) => T;

  constructor(labelNames: readonly L[], create: (labels: Labels<L>) => T) {
    this.labelNames = labelNames;
    this.create = create;
  }

  get(labels: Labels<L>): T {
    let level = this.root;
    const last = this.labelNames.length - 1;
    for (let index = 0; index < last; index++) {
      const value = labels[this.labelNames[index] as L];
      let next = level.get(value) as Map<string, unknown> | undefined;
      if (next === undefined) {
        next = new Map();
        level.set(value, next);
      }
      level = next;
    }
    const value = labels[this.labelNames[last] as L];
    let entry = level.get(value) as T | undefined;
    if (entry === undefined) {
      entry = this.create({ ...labels });
      level.set(value, entry);
      this.entries.push(entry);
    }
    return entry;
  }

  clear(): void {
    this.root.clear();
    this.entries.length = 0;
  }
}

/** A counter: one Map lookup per update; exposition through prom-client's registry. */
class LabelledCounter<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'counter';
  readonly aggregator = 'sum';
  private readonly series: SeriesTable<L, { labels: Labels<L>; value: number }>;

  constructor(registry: Registry, options: SeriesOptions<L>) {
    this.name = options.name;
    this.help = options.help;
    this.series = new SeriesTable(options.labelNames, (labels) => ({ labels, value: 0 }));
    registry.registerMetric(this as unknown as Metric);
  }

  inc(labels: Labels<L>, value = 1): void {
    this.series.get(labels).value += value;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: MetricValue[] } {
    const values = this.series.entries.map(({ labels, value }) => ({ labels, value }));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.series.clear();
  }
}

/** A histogram: per-bucket counts, made cumulative (with _sum and _count) only when scraped. */
class LabelledHistogram<L extends string> {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  private readonly buckets: readonly number[];
  private readonly series: SeriesTable<
    L,
    { labels: Labels<L>; counts: number[]; sum: number; count: number }
  >;

  constructor(registry: Registry, options: SeriesOptions<L> & { buckets: readonly number[] }) {
    this.name = options.name;
    this.help = options.help;
    this.buckets = options.buckets;
    this.series = new SeriesTable(options.labelNames, (labels) => ({
      labels,
      counts: new Array<number>(options.buckets.length).fill(0),
      sum: 0,
      count: 0,
    }));
    registry.registerMetric(this as unknown as Metric);
  }

  observe(labels: Labels<L>, value: number): void {
    const entry = this.series.get(labels);
    const index = this.buckets.findIndex((bound) => value <= bound);
    if (index >= 0) entry.counts[index] = (entry.counts[index] as number) + 1;
    entry.sum += value;
    entry.count += 1;
  }

  get(): { name: string; help: string; type: string; aggregator: string; values: MetricValue[] } {
    const values: MetricValue[] = [];
    for (const { labels, counts, sum, count } of this.series.entries) {
      let cumulative = 0;
      this.buckets.forEach((bound, index) => {
        cumulative += counts[index] as number;
        values.push({
          labels: { ...labels, le: bound },
          value: cumulative,
          metricName: `${this.name}_bucket`,
        });
      });
      values.push({ labels: { ...labels, le: '+Inf' }, value: count, metricName: `${this.name}_bucket` });
      values.push({ labels, value: sum, metricName: `${this.name}_sum` });
      values.push({ labels, value: count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.series.clear();
  }
}
