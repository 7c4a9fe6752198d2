// Turns the interleaved measurements into bench/results/latest.md: medians over repetitions, the
// gateway/floor ratio or added time (the median of the per-repetition values, so that drift shared by
// a floor run and the gateway run beside it cancels out), and the targets.
import type { LoadResult } from './load.ts';

export interface LoadMeasurement extends LoadResult {
  cpuMicrosecondsPerRequest: number;
}

export interface SequentialStreams {
  firstByteMs: number[];
  lastByteMs: number[];
  frames: number[];
  failures: number;
  lastStatus: number;
  /** CPU of the serving process (the fake for the floor) per stream, sequential streams. */
  cpuMicrosecondsPerStream: number;
}

export interface Paired<T> {
  floor: T[];
  gateway: T[];
}

export interface MemoryMeasurement {
  idleRssMb: number;
  peakRssMb: number;
  peakSource: string;
  streams: number;
  chunksPerStream: number;
  delayMs: number;
  completed: number;
  failed: number;
  statuses: Record<string, number>;
  maxOpenWithHeaders: number;
  maxUpstreamStreams: number;
  durationMs: number;
}

/** prom-client's nodejs_eventloop_lag_*_seconds over the scenario's window, in ms. */
export interface EventLoopDelay {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** About the sampling interval (prom-client's eventLoopMonitoringPrecision): each sample includes it. */
  minMs: number;
  meanMs: number;
}

/** One side of the paced scenario: many long streams, each chunk its own upstream write. */
export interface PacedRun {
  streams: number;
  chunksPerStream: number;
  delayMs: number;
  holdSeconds: number;
  completed: number;
  failed: number;
  statuses: Record<string, number>;
  errorFrames: number;
  incomplete: number;
  /** SSE frames the clients received, all streams. */
  frames: number;
  durationMs: number;
  chunksPerSecond: number;
  cpuSeconds: number;
  /** CPU of the serving process (the fake for the floor, the gateway alone otherwise) per frame. */
  cpuMicrosecondsPerChunk: number;
  idleRssMb: number;
  peakRssMb: number;
  maxOpenWithHeaders: number;
  maxUpstreamStreams: number;
  /** Gateway only: from its /metrics; undefined when not exposed. */
  eventLoop?: EventLoopDelay;
}

/** One figure judged against the targets, kept as JSON beside the report for before/after. */
export interface TargetFigure {
  key: string;
  metric: string;
  display: string;
  target: string;
  /** undefined: informational, or not measured. */
  pass?: boolean;
}

export interface TargetSummary {
  date: string;
  commit: string;
  gateway: string;
  mode: string;
  loadAverage: string;
  figures: TargetFigure[];
}

export interface Measurements {
  chat32: Paired<LoadMeasurement>;
  chat1: Paired<LoadMeasurement>;
  stream: Paired<SequentialStreams>;
  relay: Paired<SequentialStreams>;
  embeddingsFloat: Paired<LoadMeasurement>;
  embeddingsBase64: Paired<LoadMeasurement>;
  /** Why the embeddings rows are not measured (e.g. the route answers 404). */
  embeddingsNote?: string;
  memory?: MemoryMeasurement;
  /** The floor's client against a second fake pinned to the gateway's core (pinned runs only). */
  crossCore?: LoadMeasurement[];
  /** The same, for the sequential 50-chunk streams. */
  crossCoreStream?: SequentialStreams[];
  /** Non-stream throughput of an unpinned gateway by WORKERS. */
  workers?: Array<LoadMeasurement & { workers: number }>;
  /** The paced scenario (one run per side). */
  paced?: Paired<PacedRun>;
}

export interface RunInfo {
  date: string;
  node: string;
  cpuModel: string;
  cores: number;
  kernel: string;
  commit: string;
  /** The gateway's command line and where its node options came from. */
  gateway: string;
  mode: string;
  scenarios: string;
  repetitions: number;
  loadGenerator: string;
  /** Latency targets below this resolution cannot be judged. */
  latencyResolutionMs: number;
  pinning: string;
  workers: string;
  durations: string;
  elapsedSeconds: number;
  /** 1-minute load averages at the start and end: other work on a shared machine shows here. */
  loadAverage: string;
}

export function median(values: number[]): number {
  const finite = values.filter((value) => Number.isFinite(value)).sort((a, b) => a - b);
  if (finite.length === 0) return Number.NaN;
  const middle = Math.floor(finite.length / 2);
  return finite.length % 2 === 1 ? finite[middle]! : (finite[middle - 1]! + finite[middle]!) / 2;
}

type Comparison = 'ratio' | 'added';

interface Row {
  metric: string;
  floor: string;
  gateway: string;
  comparison: string;
  target: string;
  verdict: string;
}

const integer = (value: number) =>
  Number.isFinite(value) ? Math.round(value).toLocaleString('en-US') : 'n/a';
const fixed = (digits: number) => (value: number) => (Number.isFinite(value) ? value.toFixed(digits) : 'n/a');

/** A row from per-repetition floor and gateway values. */
function pairedRow<T>(
  metric: string,
  pair: Paired<T>,
  value: (measurement: T) => number,
  options: {
    comparison: Comparison;
    format: (value: number) => string;
    unit: string;
    target?: {
      text: string;
      pass: (floor: number, gateway: number, compared: number) => boolean;
      /** false: show the target, give no verdict. */
      judged?: boolean;
    };
  },
): Row {
  const floors = pair.floor.map(value);
  const gateways = pair.gateway.map(value);
  const floor = median(floors);
  const gateway = median(gateways);
  const perRepetition = gateways.map((gatewayValue, index) =>
    options.comparison === 'ratio' ? gatewayValue / floors[index]! : gatewayValue - floors[index]!,
  );
  const compared = median(perRepetition);
  const comparison = !Number.isFinite(compared)
    ? 'n/a'
    : options.comparison === 'ratio'
      ? `${compared.toFixed(2)}×`
      : `${compared >= 0 ? '+' : '−'}${options.format(Math.abs(compared))} ${options.unit}`;
  const verdict =
    options.target && options.target.judged === false
      ? 'n/a'
      : options.target && Number.isFinite(compared)
        ? options.target.pass(floor, gateway, compared)
          ? 'pass'
          : '**FAIL**'
        : '';
  return {
    metric,
    floor: `${options.format(floor)} ${options.unit}`,
    gateway: `${options.format(gateway)} ${options.unit}`,
    comparison,
    target: options.target?.text ?? '',
    verdict,
  };
}

function naRow(metric: string, note: string, target = ''): Row {
  return { metric, floor: 'n/a', gateway: 'n/a', comparison: note, target, verdict: target ? 'n/a' : '' };
}

const rps = (measurement: LoadMeasurement) => measurement.requestsPerSecond;
const cpu = (measurement: LoadMeasurement) => measurement.cpuMicrosecondsPerRequest;
const relayRate = (streams: SequentialStreams) =>
  median(streams.frames.map((frames, index) => (frames * 1000) / streams.lastByteMs[index]!));

/** The targets (issue 10, "Performance, measured in bench/"). */
export const TARGETS = {
  cpuRatio: 6,
  addedP50Ms: 0.3,
  addedTtfbMs: 0.5,
  memoryPeakMb: 200,
  pacedEventLoopP99Ms: 50,
  pacedPeakMb: 300,
};

const verdictOf = (pass: boolean | undefined) => (pass === undefined ? '' : pass ? 'pass' : '**FAIL**');

export function renderReport(
  measurements: Measurements,
  info: RunInfo,
  before?: { file: string; summary: TargetSummary },
): { report: string; summary: TargetSummary } {
  const rows: Row[] = [];
  const figures: TargetFigure[] = [];
  const figure = (key: string, metric: string, row: Row) => {
    figures.push({
      key,
      metric,
      display: row.comparison && row.floor !== '—' ? `${row.gateway} (${row.comparison})` : row.gateway,
      target: row.target,
      pass: row.verdict === 'pass' ? true : row.verdict === '**FAIL**' ? false : undefined,
    });
    return row;
  };
  const coarse = info.latencyResolutionMs >= 0.1;
  const latencyTarget = (text: string, limitMs: number) =>
    coarse
      ? {
          text: `${text} (not judged: ${info.loadGenerator} reports whole ms)`,
          pass: () => false,
          judged: false,
        }
      : { text, pass: (_floor: number, _gateway: number, added: number) => added <= limitMs };
  const { chat32, chat1, stream, relay } = measurements;
  if (chat32.gateway.length > 0) {
    rows.push(
      pairedRow('Non-stream chat: requests/s, 32 connections', chat32, rps, {
        comparison: 'ratio',
        format: integer,
        unit: '/s',
      }),
      figure(
        'cpuRatio',
        'Non-stream chat: CPU per request vs floor',
        pairedRow('Non-stream chat: CPU per request (32 conn.)', chat32, cpu, {
          comparison: 'ratio',
          format: integer,
          unit: 'µs',
          target: {
            text: `≤ ${TARGETS.cpuRatio}× floor`,
            pass: (_floor, _gateway, ratio) => ratio <= TARGETS.cpuRatio,
          },
        }),
      ),
      figure(
        'addedP50',
        'Non-stream chat: added p50 latency, 1 connection',
        pairedRow('Non-stream chat: p50 latency, 1 connection', chat1, (run) => run.p50Ms, {
          comparison: 'added',
          format: fixed(3),
          unit: 'ms',
          target: latencyTarget(`≤ +${TARGETS.addedP50Ms} ms`, TARGETS.addedP50Ms),
        }),
      ),
      ...(measurements.crossCore
        ? [
            pairedRow(
              "Reference: floor with the fake on the gateway's core, p50, 1 connection",
              { floor: chat1.floor, gateway: measurements.crossCore },
              (run) => run.p50Ms,
              { comparison: 'added', format: fixed(3), unit: 'ms' },
            ),
          ]
        : []),
      pairedRow('Non-stream chat: p99 latency, 1 connection', chat1, (run) => run.p99Ms, {
        comparison: 'added',
        format: fixed(3),
        unit: 'ms',
      }),
      pairedRow('Non-stream chat: p50 latency, 32 connections', chat32, (run) => run.p50Ms, {
        comparison: 'added',
        format: fixed(3),
        unit: 'ms',
      }),
      pairedRow('Non-stream chat: p99 latency, 32 connections', chat32, (run) => run.p99Ms, {
        comparison: 'added',
        format: fixed(3),
        unit: 'ms',
      }),
      pairedRow('Non-stream chat: CPU per request (1 conn.)', chat1, cpu, {
        comparison: 'ratio',
        format: integer,
        unit: 'µs',
      }),
      figure(
        'addedTtfb',
        'Stream: added time to first byte',
        pairedRow(
          'Stream, 50 chunks: time to first byte (median)',
          stream,
          (run) => median(run.firstByteMs),
          {
            comparison: 'added',
            format: fixed(3),
            unit: 'ms',
            target: {
              text: `≤ +${TARGETS.addedTtfbMs} ms`,
              pass: (_floor, _gateway, added) => added <= TARGETS.addedTtfbMs,
            },
          },
        ),
      ),
      ...(measurements.crossCoreStream
        ? [
            pairedRow(
              "Reference: stream time to first byte, fake on the gateway's core",
              { floor: stream.floor, gateway: measurements.crossCoreStream },
              (run) => median(run.firstByteMs),
              { comparison: 'added', format: fixed(3), unit: 'ms' },
            ),
          ]
        : []),
      pairedRow('Stream, 50 chunks: time to last byte (median)', stream, (run) => median(run.lastByteMs), {
        comparison: 'added',
        format: fixed(3),
        unit: 'ms',
      }),
      pairedRow(
        'Stream, 50 chunks: CPU per stream (sequential)',
        stream,
        (run) => run.cpuMicrosecondsPerStream,
        {
          comparison: 'ratio',
          format: integer,
          unit: 'µs',
        },
      ),
      pairedRow('Stream relay, 5000 chunks, no delay: chunks/s', relay, relayRate, {
        comparison: 'ratio',
        format: integer,
        unit: '/s',
      }),
    );
  }

  const memory = measurements.memory;
  if (memory) {
    rows.push(
      {
        metric: 'Gateway RSS, idle (after warm-up)',
        floor: '—',
        gateway: `${memory.idleRssMb.toFixed(1)} MB`,
        comparison: '',
        target: '',
        verdict: '',
      },
      figure('memoryPeak', `Gateway peak RSS, ${memory.streams} concurrent streams`, {
        metric: `Gateway RSS, peak with ${memory.streams} concurrent slow streams`,
        floor: '—',
        gateway: `${memory.peakRssMb.toFixed(1)} MB`,
        comparison: `+${(memory.peakRssMb - memory.idleRssMb).toFixed(1)} MB over idle`,
        target: `≤ ${TARGETS.memoryPeakMb} MB`,
        verdict: verdictOf(memory.peakRssMb <= TARGETS.memoryPeakMb && memory.failed === 0),
      }),
    );
  }

  const paced = measurements.paced;
  const pacedFloor = paced?.floor[0];
  const pacedGateway = paced?.gateway[0];
  if (pacedFloor && pacedGateway) {
    const label = `Paced, ${pacedGateway.streams} streams × ${pacedGateway.holdSeconds} s, chunk every ${pacedGateway.delayMs} ms`;
    const eventLoop = pacedGateway.eventLoop;
    rows.push(
      figure('pacedErrors', 'Paced: failed streams', {
        metric: `${label}: failed streams`,
        floor: `${pacedFloor.failed}`,
        gateway: `${pacedGateway.failed}`,
        comparison: `of ${pacedGateway.streams}`,
        target: '0',
        verdict: verdictOf(pacedGateway.failed === 0),
      }),
      {
        metric: `${label}: chunks relayed/s`,
        floor: `${integer(pacedFloor.chunksPerSecond)} /s`,
        gateway: `${integer(pacedGateway.chunksPerSecond)} /s`,
        comparison: `${(pacedGateway.chunksPerSecond / pacedFloor.chunksPerSecond).toFixed(2)}×`,
        target: '',
        verdict: '',
      },
      figure('pacedCpuPerChunk', 'Paced: CPU per relayed chunk', {
        metric: `${label}: CPU per relayed chunk`,
        floor: `${pacedFloor.cpuMicrosecondsPerChunk.toFixed(1)} µs`,
        gateway: `${pacedGateway.cpuMicrosecondsPerChunk.toFixed(1)} µs`,
        comparison: `${(pacedGateway.cpuMicrosecondsPerChunk / pacedFloor.cpuMicrosecondsPerChunk).toFixed(2)}×`,
        target: '',
        verdict: '',
      }),
      figure('pacedEventLoop', 'Paced: event-loop delay p99 (gateway /metrics)', {
        metric: `${label}: gateway event-loop delay p99 (its /metrics)`,
        floor: '—',
        gateway: eventLoop ? `${eventLoop.p99Ms.toFixed(1)} ms` : 'not exposed',
        comparison: eventLoop
          ? `p50 ${eventLoop.p50Ms.toFixed(1)} ms, max ${eventLoop.maxMs.toFixed(1)} ms, min ${eventLoop.minMs.toFixed(1)} ms`
          : '',
        target: `≤ ${TARGETS.pacedEventLoopP99Ms} ms`,
        verdict: verdictOf(eventLoop !== undefined && eventLoop.p99Ms <= TARGETS.pacedEventLoopP99Ms),
      }),
      figure('pacedPeak', 'Paced: gateway peak RSS', {
        metric: `${label}: gateway peak RSS`,
        floor: '—',
        gateway: `${pacedGateway.peakRssMb.toFixed(1)} MB`,
        comparison: `+${(pacedGateway.peakRssMb - pacedGateway.idleRssMb).toFixed(1)} MB over idle`,
        target: `≤ ${TARGETS.pacedPeakMb} MB`,
        verdict: verdictOf(pacedGateway.peakRssMb <= TARGETS.pacedPeakMb),
      }),
    );
  }

  for (const run of measurements.workers ?? []) {
    rows.push({
      metric: `Non-stream chat: requests/s, 32 connections, WORKERS=${run.workers} (unpinned)`,
      floor: '—',
      gateway: `${integer(run.requestsPerSecond)} /s`,
      comparison: `${integer(run.cpuMicrosecondsPerRequest)} µs CPU per request`,
      target: '',
      verdict: '',
    });
  }

  const embeddingRows: Array<[string, Paired<LoadMeasurement>]> = [
    ['float', measurements.embeddingsFloat],
    ['base64', measurements.embeddingsBase64],
  ];
  for (const [format, pair] of chat32.gateway.length > 0 ? embeddingRows : []) {
    const label = `Embeddings, 100 × 768, ${format}`;
    if (measurements.embeddingsNote || pair.gateway.length === 0) {
      const note = measurements.embeddingsNote ?? 'n/a: not measured';
      rows.push(naRow(`${label}: requests/s`, note), naRow(`${label}: CPU per request`, note));
      continue;
    }
    rows.push(
      pairedRow(`${label}: requests/s (8 conn.)`, pair, rps, {
        comparison: 'ratio',
        format: integer,
        unit: '/s',
      }),
      pairedRow(`${label}: CPU per request`, pair, cpu, { comparison: 'ratio', format: integer, unit: 'µs' }),
    );
  }

  const table = [
    '| Metric | Floor | Gateway | Gateway vs floor | Target | |',
    '| --- | --: | --: | --: | --- | --- |',
    ...rows.map(
      (row) =>
        `| ${row.metric} | ${row.floor} | ${row.gateway} | ${row.comparison} | ${row.target} | ${row.verdict} |`,
    ),
  ];

  const summary: TargetSummary = {
    date: info.date,
    commit: info.commit,
    gateway: info.gateway,
    mode: info.mode,
    loadAverage: info.loadAverage,
    figures,
  };

  const failures = failureNotes(measurements);
  const lines = [
    '# Benchmark: watsonx-openai-proxy',
    '',
    'Generated by `npm run bench` (bench/run.ts); see bench/README.md for what each number means.',
    '',
    '| Run | |',
    '| --- | --- |',
    `| Date | ${info.date} |`,
    `| Machine | ${info.cpuModel}, ${info.cores} cores, Linux ${info.kernel} |`,
    `| Node | ${info.node} |`,
    `| Commit | ${info.commit} |`,
    `| Gateway command | ${info.gateway} |`,
    `| Mode | ${info.mode}: ${info.repetitions} interleaved repetition(s) (floor, gateway, floor, gateway…), medians; scenarios: ${info.scenarios} |`,
    `| Durations | ${info.durations} |`,
    `| Load generator | ${info.loadGenerator} (1 thread) |`,
    `| Pinning | ${info.pinning} |`,
    `| Gateway workers | ${info.workers} |`,
    `| Elapsed | ${info.elapsedSeconds} s |`,
    `| Load average (1 min), start → end | ${info.loadAverage} |`,
    '',
  ];
  if (before) lines.push(...beforeAfter(before, summary), '');
  lines.push(
    '## Results',
    '',
    ...table,
    '',
    "Floor: the same client straight at the fake upstream's equivalent endpoint (no gateway); its CPU",
    'per request is the fake\'s. "Gateway vs floor" is the median over repetitions of the per-repetition',
    'ratio (×) or difference (+), so it need not equal the ratio of the two medians shown.',
  );
  if (measurements.workers?.length) {
    lines.push(
      '',
      'Workers: the same non-stream load against a fresh gateway started unpinned with WORKERS=1, then 2',
      '(node:cluster, one port); its workers share the two cores with the fake and wrk, so on this',
      'machine the second worker can only take what those leave. CPU per request is summed over the workers.',
    );
  }
  if (measurements.crossCore) {
    lines.push(
      '',
      "Cross-core reference: the floor's client and fake share core 1, so the floor never crosses between",
      'the cores; a request through the gateway crosses four times (client → gateway → fake → gateway →',
      "client). The reference rows put a second fake on the gateway's core: two crossings, no gateway. On a",
      "virtual machine each crossing wakes an idle vCPU, so about twice the reference's added time is the",
      "machine's share of the gateway's added latency, not the gateway's work.",
    );
  }
  if (memory) {
    lines.push(
      '',
      `Memory: ${memory.streams} streams opened at once against a fake sending ${memory.chunksPerStream} chunks ` +
        `${memory.delayMs} ms apart; ${memory.completed} completed, ${memory.failed} failed ` +
        `(statuses ${JSON.stringify(memory.statuses)}) in ${(memory.durationMs / 1000).toFixed(1)} s. ` +
        `At most ${memory.maxOpenWithHeaders} client streams had response headers at the same time and at most ` +
        `${memory.maxUpstreamStreams} upstream streams were open at the fake at once. Peak from ${memory.peakSource}.`,
    );
  }
  if (pacedFloor && pacedGateway) {
    const side = (name: string, run: PacedRun) =>
      `${name}: ${run.completed} of ${run.streams} streams complete (statuses ${JSON.stringify(run.statuses)}, ` +
      `${run.errorFrames} with an error frame, ${run.incomplete} cut short), ${run.frames.toLocaleString('en-US')} ` +
      `chunks in ${(run.durationMs / 1000).toFixed(1)} s, ${run.cpuSeconds.toFixed(2)} s of CPU, ` +
      `at most ${run.maxOpenWithHeaders} streams open at the client and ${run.maxUpstreamStreams} at the fake at once.`;
    lines.push(
      '',
      `Paced: ${pacedGateway.streams} streams opened over 1 s and held ${pacedGateway.holdSeconds} s; the fake ` +
        `writes every event (${pacedGateway.chunksPerStream} content chunks per stream) on its own, ` +
        `${pacedGateway.delayMs} ms apart, so each reaches the gateway in its own read. CPU per chunk is the ` +
        "serving process's CPU (the fake's for the floor, the gateway's alone otherwise) over the run divided " +
        "by the SSE frames the clients received. Event-loop delay: prom-client's `nodejs_eventloop_lag_p99_seconds` " +
        "from the gateway's /metrics, scraped just before the streams open (which resets its histogram) and " +
        "3 s before they end; every sample includes the sampling interval (1 ms on code that sets it, prom-client's " +
        'default 10 ms otherwise). Peak RSS: VmHWM ' +
        '(reset first) and VmRSS every 50 ms.',
      '',
      `- ${side('Floor', pacedFloor)}`,
      `- ${side('Gateway', pacedGateway)}`,
    );
  }
  if (failures.length > 0)
    lines.push('', '**Failed requests during the run:**', '', ...failures.map((note) => `- ${note}`));
  if (chat32.gateway.length > 0) lines.push('', '## Per repetition', '', ...perRepetition(measurements));
  lines.push('');
  return { report: lines.join('\n'), summary };
}

/** Before/after: the target figures of an earlier run (bench/results/before.json) beside this one's. */
export function beforeAfter(
  before: { file: string; summary: TargetSummary },
  after: TargetSummary,
): string[] {
  const keys = [...new Set([...before.summary.figures, ...after.figures].map((entry) => entry.key))];
  const find = (summary: TargetSummary, key: string) => summary.figures.find((entry) => entry.key === key);
  const cell = (entry: TargetFigure | undefined) =>
    entry
      ? `${entry.display}${entry.pass === undefined ? '' : entry.pass ? ', pass' : ', fail'}`
      : 'not measured';
  return [
    '## Before / after',
    '',
    `Before: ${before.summary.commit}, ${before.summary.gateway}, run ${before.summary.date} (${before.summary.mode}, ` +
      `load average ${before.summary.loadAverage}; \`${before.file.slice(before.file.lastIndexOf('bench/'))}\`). ` +
      `After: this run.`,
    '',
    '| Metric | Before | After | Target | After vs target |',
    '| --- | --: | --: | --- | --- |',
    ...keys.map((key) => {
      const old = find(before.summary, key);
      const now = find(after, key);
      return `| ${(now ?? old)!.metric} | ${cell(old)} | ${now ? now.display : 'not measured'} | ${(now ?? old)!.target} | ${verdictOf(now?.pass)} |`;
    }),
  ];
}

function failureNotes(measurements: Measurements): string[] {
  const notes: string[] = [];
  const load: Array<[string, Paired<LoadMeasurement>]> = [
    ['non-stream chat, 32 connections', measurements.chat32],
    ['non-stream chat, 1 connection', measurements.chat1],
    ['embeddings float', measurements.embeddingsFloat],
    ['embeddings base64', measurements.embeddingsBase64],
  ];
  for (const [name, pair] of load) {
    for (const side of ['floor', 'gateway'] as const) {
      const failed = pair[side].reduce((sum, run) => sum + run.failures, 0);
      if (failed > 0) notes.push(`${name} (${side}): ${failed} failed requests`);
    }
  }
  const streams: Array<[string, Paired<SequentialStreams>]> = [
    ['stream 50 chunks', measurements.stream],
    ['stream relay', measurements.relay],
  ];
  for (const [name, pair] of streams) {
    for (const side of ['floor', 'gateway'] as const) {
      const failed = pair[side].reduce((sum, run) => sum + run.failures, 0);
      if (failed > 0) notes.push(`${name} (${side}): ${failed} failed streams`);
    }
  }
  return notes;
}

function perRepetition(measurements: Measurements): string[] {
  const lines = [
    '| Repetition | Chat req/s floor / gateway | CPU µs/req floor / gateway | p50 1 conn ms floor / gateway | TTFB ms floor / gateway | Relay chunks/s gateway |',
    '| --: | --: | --: | --: | --: | --: |',
  ];
  const count = measurements.chat32.gateway.length;
  for (let index = 0; index < count; index++) {
    const chatFloor = measurements.chat32.floor[index]!;
    const chatGateway = measurements.chat32.gateway[index]!;
    const oneFloor = measurements.chat1.floor[index]!;
    const oneGateway = measurements.chat1.gateway[index]!;
    const streamFloor = measurements.stream.floor[index]!;
    const streamGateway = measurements.stream.gateway[index]!;
    const relayGateway = measurements.relay.gateway[index]!;
    lines.push(
      `| ${index + 1} | ${integer(chatFloor.requestsPerSecond)} / ${integer(chatGateway.requestsPerSecond)} ` +
        `| ${integer(chatFloor.cpuMicrosecondsPerRequest)} / ${integer(chatGateway.cpuMicrosecondsPerRequest)} ` +
        `| ${oneFloor.p50Ms.toFixed(3)} / ${oneGateway.p50Ms.toFixed(3)} ` +
        `| ${median(streamFloor.firstByteMs).toFixed(3)} / ${median(streamGateway.firstByteMs).toFixed(3)} ` +
        `| ${integer(relayRate(relayGateway))} |`,
    );
  }
  return lines;
}

// `node bench/report.ts --before bench/results/before.json --after bench/results/latest.json`: the
// before/after table of two runs' target figures, e.g. after a new run of the before column.
if (import.meta.main) {
  const { parseArgs } = await import('node:util');
  const { readFileSync } = await import('node:fs');
  const { values } = parseArgs({ options: { before: { type: 'string' }, after: { type: 'string' } } });
  if (!values.before || !values.after) {
    process.stderr.write('usage: node bench/report.ts --before BEFORE.json --after AFTER.json\n');
    process.exit(2);
  }
  const read = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as TargetSummary;
  console.log(
    beforeAfter({ file: values.before, summary: read(values.before) }, read(values.after)).join('\n'),
  );
}
