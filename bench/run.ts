// `npm run bench`: the gateway's cost on top of watsonx, measured against a floor (the same client
// straight at a fast fake watsonx). See bench/README.md for what each number means.
//
//   node bench/run.ts [--quick] [--scenario standard|memory|paced]… [--repetitions N] [--workers N]
//                     [--no-pin] [--no-build] [--profile] [--autocannon]
//                     [--gateway-root DIR] [--gateway-entry FILE] [--node-options="…"] [--gateway-env K=V]…
//                     [--output FILE.md] [--before FILE.json|none] [--limits memory|redis]
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BENCH_CHAT_MODEL, BENCH_EMBEDDING_MODEL, EMBEDDING_INPUTS } from './fake-upstream.ts';
import { autocannonGenerator, chooseLoadGenerator, type LoadGenerator, runCommand } from './load.ts';
import { cpuSeconds, machine, memoryMb, resetPeakRss } from './proc.ts';
import { summariseProfile } from './profile-summary.ts';
import {
  type EventLoopDelay,
  type LoadMeasurement,
  type Measurements,
  type PacedRun,
  renderReport,
  type SequentialStreams,
  type TargetSummary,
} from './report.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const API_VERSION = '2026-08-05';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    scenario: { type: 'string', multiple: true, default: [] },
    repetitions: { type: 'string' },
    workers: { type: 'string' },
    'no-pin': { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    autocannon: { type: 'boolean', default: false },
    'gateway-root': { type: 'string' },
    'gateway-entry': { type: 'string' },
    'node-options': { type: 'string' },
    'gateway-env': { type: 'string', multiple: true, default: [] },
    output: { type: 'string' },
    before: { type: 'string' },
    'paced-seconds': { type: 'string' },
    'paced-streams': { type: 'string' },
    limits: { type: 'string' },
  },
});
if (flags.limits !== undefined && flags.limits !== 'memory' && flags.limits !== 'redis') {
  throw new Error(`--limits ${flags.limits}: memory or redis`);
}

const SCENARIOS = ['standard', 'memory', 'paced'] as const;
type Scenario = (typeof SCENARIOS)[number];
const chosen = flags.scenario.flatMap((value) => value.split(','));
for (const name of chosen) {
  if (!(SCENARIOS as readonly string[]).includes(name))
    throw new Error(`--scenario ${name}: one of ${SCENARIOS.join(', ')}`);
}
const scenarios = new Set<Scenario>(chosen.length > 0 ? (chosen as Scenario[]) : SCENARIOS);
const allScenarios = scenarios.size === SCENARIOS.length;

const settings = flags.quick
  ? {
      mode: 'quick',
      repetitions: 1,
      chatSeconds: 2,
      embeddingSeconds: 2,
      warmupSeconds: 1,
      streamCount: 100,
      relayCount: 5,
      memoryChunks: 10,
      pacedSeconds: 15,
    }
  : {
      mode: 'full',
      repetitions: 3,
      chatSeconds: 5,
      embeddingSeconds: 4,
      warmupSeconds: 2,
      streamCount: 300,
      relayCount: 10,
      memoryChunks: 20,
      pacedSeconds: 60,
    };
if (flags.repetitions) settings.repetitions = Math.max(1, Number(flags.repetitions));
if (flags['paced-seconds']) settings.pacedSeconds = Math.max(5, Number(flags['paced-seconds']));
const STREAM_CHUNKS = 50;
const RELAY_CHUNKS = 5000;
const MEMORY_STREAMS = 1000;
const MEMORY_DELAY_MS = 100;
const EMBEDDING_CONNECTIONS = 8;
// The paced scenario: every token its own upstream write, PACED_DELAY_MS apart on each stream, all
// streams open for settings.pacedSeconds (1000 streams × 20 chunks/s = 20,000 chunks/s).
const PACED_STREAMS = Math.max(1, Number(flags['paced-streams'] ?? 1000));
const PACED_DELAY_MS = 50;
const PACED_RAMP_MS = 1000;

const log = (line: string) => console.log(line);
let buildWarning: string | undefined;

// ---- processes ------------------------------------------------------------------------------

const children = new Set<ChildProcess>();
function track(child: ChildProcess): ChildProcess {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}
function killChildren() {
  for (const child of children) if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
}
// Scratch files (request bodies, wrk scripts, the gateway's empty working directories).
const workDirectory = mkdtempSync(join(tmpdir(), 'bench-run-'));
process.on('exit', () => {
  killChildren();
  rmSync(workDirectory, { recursive: true, force: true });
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killChildren();
    process.exit(130);
  });
}

function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

const cores = availableParallelism();
const pin = !flags['no-pin'] && cores >= 2 && hasCommand('taskset');
const GATEWAY_CORE = '0';
const CLIENT_CORE = '1';
const gatewayPrefix = pin ? ['taskset', '-c', GATEWAY_CORE] : [];
const clientPrefix = pin ? ['taskset', '-c', CLIENT_CORE] : [];
const pinning = pin
  ? `gateway pinned to core ${GATEWAY_CORE}; fake upstream, load generator and stream clients to core ${CLIENT_CORE} (taskset -c)`
  : flags['no-pin']
    ? 'not pinned (--no-pin)'
    : `not pinned (${cores < 2 ? `${cores} core` : 'taskset missing'})`;

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function spawnPinned(prefix: string[], args: string[], options: Parameters<typeof spawn>[2]) {
  const [command, ...rest] = [...prefix, ...args];
  return track(spawn(command!, rest, options));
}

async function stopProcess(child: ChildProcess, timeoutMs = 10_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await exited;
  clearTimeout(timer);
}

/**
 * --limits redis: a redis-server (Debian's package) beside the fake, on the client core, nothing
 * on disk; killed with the other children at exit. Returns its URL.
 */
async function startRedis(): Promise<string> {
  if (!hasCommand('redis-server'))
    throw new Error('--limits redis needs redis-server (apt-get install -y redis-server)');
  const port = await freePort();
  const child = spawnPinned(
    clientPrefix,
    [
      'redis-server',
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      workDirectory,
    ],
    { stdio: ['ignore', 'pipe', 'ignore'] },
  );
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 10_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        // Left running until the run exits (killed with the other children), without holding it.
        child.unref();
        (child.stdout as unknown as { unref(): void }).unref();
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}):\n${output}`)));
  });
  return `redis://127.0.0.1:${port}`;
}

interface Fake {
  url: string;
  pid: number;
  child: ChildProcess;
  configure(chunks: number, delayMs: number): Promise<void>;
  stats(): Promise<{ requests: number; streams: number; activeStreams: number; maxActiveStreams: number }>;
  resetStats(): Promise<void>;
}

async function startFake(prefix: string[] = clientPrefix): Promise<Fake> {
  const child = spawnPinned(
    prefix,
    [
      process.execPath,
      join(ROOT, 'bench/fake-upstream.ts'),
      '--port',
      '0',
      '--chunks',
      String(STREAM_CHUNKS),
      '--delay-ms',
      '0',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const port = await new Promise<number>((resolve, reject) => {
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const line = buffered.split('\n')[0];
      if (buffered.includes('\n') && line) resolve((JSON.parse(line) as { port: number }).port);
    });
    child.once('exit', (code) => reject(new Error(`fake upstream exited with ${code}`)));
  });
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    pid: child.pid!,
    child,
    async configure(chunks, delayMs) {
      await (
        await fetch(`${url}/_bench/config?chunks=${chunks}&delay_ms=${delayMs}`, { method: 'POST' })
      ).text();
    },
    async stats() {
      return (await (await fetch(`${url}/_bench/stats`)).json()) as Awaited<ReturnType<Fake['stats']>>;
    },
    async resetStats() {
      await (await fetch(`${url}/_bench/stats/reset`, { method: 'POST' })).text();
    },
  };
}

// ---- the gateway's command ------------------------------------------------------------------

/**
 * How the gateway is started, as `npm start` starts it: package.json's "start" script of the
 * gateway's root (`[VAR=value…] node [node options…] <entry>`) is the one place the node options
 * come from; --node-options, --gateway-entry and --gateway-env override it for experiments.
 */
interface GatewayCommand {
  root: string;
  entry: string;
  nodeOptions: string[];
  env: Record<string, string>;
  /** Where the options came from, for the report. */
  source: string;
}

function splitOptions(text: string): string[] {
  return text.trim().split(/\s+/).filter(Boolean);
}

function gatewayCommand(): GatewayCommand {
  const root = resolve(flags['gateway-root'] ?? ROOT);
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    scripts?: Record<string, string>;
  };
  const start = manifest.scripts?.start ?? '';
  const tokens = splitOptions(start);
  const env: Record<string, string> = {};
  while (tokens[0] && /^[A-Z_][A-Z0-9_]*=/.test(tokens[0])) {
    const assignment = tokens.shift()!;
    const equals = assignment.indexOf('=');
    env[assignment.slice(0, equals)] = assignment.slice(equals + 1);
  }
  if (tokens.shift() !== 'node' || !tokens.some((token) => !token.startsWith('-'))) {
    throw new Error(`${root}/package.json: the start script is not "node [options] <entry>": "${start}"`);
  }
  const nodeOptions: string[] = [];
  while (tokens[0]?.startsWith('-')) nodeOptions.push(tokens.shift()!);
  let entry = tokens.shift()!;
  let source = `package.json "start": ${start}`;
  if (flags['gateway-entry']) entry = flags['gateway-entry'];
  if (flags['node-options'] !== undefined) {
    nodeOptions.splice(0, nodeOptions.length, ...splitOptions(flags['node-options']));
    source = `--node-options (the start script says: ${start})`;
  }
  for (const assignment of flags['gateway-env']) {
    const equals = assignment.indexOf('=');
    if (equals <= 0) throw new Error(`--gateway-env ${assignment}: expected NAME=value`);
    env[assignment.slice(0, equals)] = assignment.slice(equals + 1);
  }
  if (flags['gateway-env'].length > 0) source += `; --gateway-env ${flags['gateway-env'].join(' ')}`;
  if (flags.limits) {
    // Budgets no run can spend: every request is counted (and its tokens), none refused. With
    // `redis` main() adds REDIS_URL once its redis-server listens.
    env.RATE_LIMIT_RPM = '100000000';
    env.RATE_LIMIT_TPM = '1000000000';
    source += `; --limits ${flags.limits} (RATE_LIMIT_RPM=${env.RATE_LIMIT_RPM} RATE_LIMIT_TPM=${env.RATE_LIMIT_TPM}${flags.limits === 'redis' ? ', REDIS_URL: a redis-server on the client core' : ''})`;
  }
  return { root, entry, nodeOptions, env, source };
}

const command = gatewayCommand();

/** The node options of the Dockerfile's CMD, to check they are the start script's. */
function dockerfileOptions(): string[] | undefined {
  const file = join(command.root, 'Dockerfile');
  if (!existsSync(file)) return undefined;
  const cmd = readFileSync(file, 'utf8')
    .split('\n')
    .findLast((line) => line.startsWith('CMD '));
  if (!cmd) return undefined;
  try {
    const args = JSON.parse(cmd.slice(4)) as string[];
    return args[0] === 'node' ? args.slice(1).filter((arg) => arg.startsWith('-')) : undefined;
  } catch {
    return undefined;
  }
}

interface Gateway {
  url: string;
  pid: number;
  child: ChildProcess;
  stderr: () => string;
}

async function startGateway(
  fake: Fake,
  nodeFlags: string[] = [],
  placement: { workers?: string; prefix?: string[] } = {},
): Promise<Gateway> {
  const port = await freePort();
  // A clean environment: nothing from the caller's shell (MODEL_MAP_*, API_KEY…) changes the run,
  // and the working directory has no .env.
  const env: Record<string, string> = {
    ...command.env,
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    HOST: '127.0.0.1',
    PORT: String(port),
    WATSONX_URL: fake.url,
    IBM_IAM_URL: fake.url,
    IBM_CLOUD_API_KEY: 'bench',
    WATSONX_PROJECT_ID: 'bench',
    LOG_LEVEL: 'warn',
  };
  const workers = placement.workers ?? flags.workers;
  if (workers) env.WORKERS = workers;
  let stderr = '';
  const prefix = placement.prefix ?? gatewayPrefix;
  const child = spawnPinned(
    prefix,
    [process.execPath, ...command.nodeOptions, ...nodeFlags, join(command.root, command.entry)],
    {
      env,
      cwd: mkdtempSync(join(workDirectory, 'gateway-')),
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    if (stderr.length > 100_000) stderr = stderr.slice(-50_000);
  });
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 150; attempt++) {
    if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode}:\n${stderr}`);
    try {
      const response = await fetch(`${url}/health`);
      await response.text();
      if (response.ok) return { url, pid: child.pid!, child, stderr: () => stderr };
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`the gateway did not answer /health within 15 s:\n${stderr}`);
}

// ---- requests -------------------------------------------------------------------------------

const MESSAGES = [
  { role: 'system', content: 'You are a concise assistant.' },
  { role: 'user', content: 'What is the capital of France? Answer in one sentence.' },
];
const EMBEDDING_TEXTS = Array.from(
  { length: EMBEDDING_INPUTS },
  (_, index) => `Benchmark sentence number ${index}: the quick brown fox jumps over the lazy dog.`,
);
const FLOOR_HEADERS = { authorization: 'Bearer bench-token', accept: 'application/json' };

const bodies = {
  gatewayChat: JSON.stringify({
    model: BENCH_CHAT_MODEL,
    messages: MESSAGES,
    max_tokens: 256,
    temperature: 0.2,
  }),
  floorChat: JSON.stringify({
    model_id: BENCH_CHAT_MODEL,
    project_id: 'bench',
    messages: MESSAGES,
    max_completion_tokens: 256,
    temperature: 0.2,
  }),
  gatewayStream: JSON.stringify({
    model: BENCH_CHAT_MODEL,
    messages: MESSAGES,
    max_tokens: 256,
    temperature: 0.2,
    stream: true,
  }),
  gatewayEmbeddings: (format: 'float' | 'base64') =>
    JSON.stringify({ model: BENCH_EMBEDDING_MODEL, input: EMBEDDING_TEXTS, encoding_format: format }),
  floorEmbeddings: JSON.stringify({
    model_id: BENCH_EMBEDDING_MODEL,
    project_id: 'bench',
    inputs: EMBEDDING_TEXTS,
  }),
};

function bodyFile(name: string, body: string): string {
  const path = join(workDirectory, `${name}.json`);
  writeFileSync(path, body);
  return path;
}
const files = {
  gatewayStream: bodyFile('gateway-stream', bodies.gatewayStream),
  floorStream: bodyFile('floor-stream', bodies.floorChat),
};

/** One request, to check that a scenario works before loading it. */
async function probe(url: string, body: string, headers: Record<string, string> = {}) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  const text = await response.text();
  return { status: response.status, text, limited: response.headers.has('x-ratelimit-limit-requests') };
}

// ---- measurements ---------------------------------------------------------------------------

async function measureLoad(
  generator: LoadGenerator,
  target: { url: string; body: string; headers?: Record<string, string> },
  accountedPid: number,
  connections: number,
  durationSeconds: number,
): Promise<LoadMeasurement> {
  const before = cpuSeconds(accountedPid);
  const result = await generator.run({
    url: target.url,
    body: target.body,
    headers: target.headers ?? {},
    connections,
    durationSeconds,
  });
  const used = cpuSeconds(accountedPid) - before;
  if (result.failures > 0) {
    log(`  ! ${result.failures} failed requests of ${result.requests} (${target.url})`);
  }
  return { ...result, cpuMicrosecondsPerRequest: (used * 1e6) / Math.max(1, result.requests) };
}

async function streamClient(args: string[]): Promise<unknown> {
  const [command, ...rest] = [
    ...clientPrefix,
    process.execPath,
    join(ROOT, 'bench/stream-client.ts'),
    ...args,
  ];
  const { stdout } = await runCommand(command!, rest);
  return JSON.parse(stdout.trim().split('\n').at(-1)!);
}

async function sequentialStreams(
  url: string,
  file: string,
  headers: Record<string, string>,
  count: number,
  warmup: number,
  accountedPid?: number,
): Promise<SequentialStreams> {
  const before = accountedPid === undefined ? 0 : cpuSeconds(accountedPid);
  const headerArgs = Object.entries(headers).flatMap(([name, value]) => ['--header', `${name}: ${value}`]);
  const result = (await streamClient([
    '--mode',
    'sequential',
    '--url',
    url,
    '--body-file',
    file,
    ...headerArgs,
    '--count',
    String(count),
    '--warmup',
    String(warmup),
  ])) as Omit<SequentialStreams, 'cpuMicrosecondsPerStream'>;
  const used = accountedPid === undefined ? Number.NaN : cpuSeconds(accountedPid) - before;
  if (result.failures > 0)
    log(`  ! ${result.failures} failed streams (last HTTP ${result.lastStatus}) at ${url}`);
  // The warm-up streams were served too, so they count in the CPU per stream.
  return { ...result, cpuMicrosecondsPerStream: (used * 1e6) / (count + warmup) };
}

// ---- the paced scenario ---------------------------------------------------------------------

/** Event-loop delay from the gateway's own /metrics (prom-client's default metrics). */
async function scrapeEventLoop(gateway: Gateway): Promise<EventLoopDelay | undefined> {
  try {
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    const read = (name: string) => {
      const match = new RegExp(`^nodejs_eventloop_lag_${name}_seconds(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(
        text,
      );
      return match ? Number(match[1]) * 1000 : undefined;
    };
    const p99Ms = read('p99');
    if (p99Ms === undefined) return undefined;
    return {
      p50Ms: read('p50') ?? Number.NaN,
      p99Ms,
      maxMs: read('max') ?? Number.NaN,
      minMs: read('min') ?? Number.NaN,
      meanMs: read('mean') ?? Number.NaN,
    };
  } catch {
    return undefined;
  }
}

/**
 * PACED_STREAMS streams opened over PACED_RAMP_MS and held for settings.pacedSeconds, the fake
 * writing each event on its own, PACED_DELAY_MS apart. CPU of the serving process (the fake for the
 * floor) per SSE frame received by the clients; for the gateway also its event-loop delay over the
 * window (its /metrics scraped just before the streams open, which resets prom-client's histogram,
 * and again just before they end) and its peak RSS.
 */
async function pacedRun(
  fake: Fake,
  target: { url: string; file: string; headers: Record<string, string> },
  accountedPid: number,
  gateway?: Gateway,
): Promise<PacedRun> {
  const chunks = Math.round((settings.pacedSeconds * 1000) / PACED_DELAY_MS);
  await fake.configure(chunks, PACED_DELAY_MS);
  await fake.resetStats();
  const idle = memoryMb(accountedPid);
  if (gateway) await scrapeEventLoop(gateway);
  const peakReset = resetPeakRss(accountedPid);
  let sampledPeak = idle.rss;
  const sampler = setInterval(() => {
    sampledPeak = Math.max(sampledPeak, memoryMb(accountedPid).rss);
  }, 50);
  let eventLoop: EventLoopDelay | undefined;
  const scrapeAt = PACED_RAMP_MS + settings.pacedSeconds * 1000 - 3000;
  const scraper = gateway
    ? setTimeout(() => {
        void scrapeEventLoop(gateway).then((value) => (eventLoop = value));
      }, scrapeAt)
    : undefined;
  const cpuBefore = cpuSeconds(accountedPid);
  const headerArgs = Object.entries(target.headers).flatMap(([name, value]) => [
    '--header',
    `${name}: ${value}`,
  ]);
  const result = (await streamClient([
    '--mode',
    'concurrent',
    '--url',
    target.url,
    '--body-file',
    target.file,
    ...headerArgs,
    '--count',
    String(PACED_STREAMS),
    '--ramp-ms',
    String(PACED_RAMP_MS),
    // role, every content chunk and the finish event at least, on either side
    '--min-frames',
    String(chunks + 2),
  ])) as {
    completed: number;
    failed: number;
    statuses: Record<string, number>;
    errorFrames: number;
    incomplete: number;
    frames: number;
    maxOpenWithHeaders: number;
    durationMs: number;
  };
  const used = cpuSeconds(accountedPid) - cpuBefore;
  clearInterval(sampler);
  if (scraper) clearTimeout(scraper);
  const after = memoryMb(accountedPid);
  const upstream = await fake.stats();
  await fake.configure(STREAM_CHUNKS, 0);
  if (result.failed > 0)
    log(
      `  ! ${result.failed} of ${PACED_STREAMS} paced streams failed (statuses ${JSON.stringify(result.statuses)}, ` +
        `${result.errorFrames} with an error frame, ${result.incomplete} incomplete) at ${target.url}`,
    );
  return {
    streams: PACED_STREAMS,
    chunksPerStream: chunks,
    delayMs: PACED_DELAY_MS,
    holdSeconds: settings.pacedSeconds,
    completed: result.completed,
    failed: result.failed,
    statuses: result.statuses,
    errorFrames: result.errorFrames,
    incomplete: result.incomplete,
    frames: result.frames,
    durationMs: result.durationMs,
    chunksPerSecond: (result.frames * 1000) / result.durationMs,
    cpuSeconds: used,
    cpuMicrosecondsPerChunk: (used * 1e6) / Math.max(1, result.frames),
    idleRssMb: idle.rss,
    peakRssMb: Math.max(sampledPeak, after.rss, peakReset ? after.hwm : 0),
    maxOpenWithHeaders: result.maxOpenWithHeaders,
    maxUpstreamStreams: upstream.maxActiveStreams,
    eventLoop,
  };
}

/** A fresh gateway warmed by one request and a few streams, then idle for a second. */
async function freshGateway(fake: Fake, nodeFlags: string[] = []): Promise<Gateway> {
  const gateway = await startGateway(fake, nodeFlags);
  await probe(`${gateway.url}/v1/chat/completions`, bodies.gatewayChat);
  await sequentialStreams(`${gateway.url}/v1/chat/completions`, files.gatewayStream, {}, 5, 0);
  await sleep(1000);
  return gateway;
}

// ---- the run --------------------------------------------------------------------------------

async function main() {
  const startedAt = Date.now();
  const loadAtStart = loadAverage();
  if (pin) spawnSync('taskset', ['-pc', CLIENT_CORE, String(process.pid)], { stdio: 'ignore' });
  log(
    `bench: ${settings.mode} run, scenarios ${[...scenarios].join(', ')}, ${settings.repetitions} repetition(s), ${cores} cores`,
  );
  log(`bench: ${pinning}`);
  log(
    `bench: gateway: node ${[...command.nodeOptions, join(command.root, command.entry)].join(' ')} (${command.source})`,
  );
  if (flags.workers) {
    log(`bench: WORKERS=${flags.workers} passed to the gateway`);
    if (pin && flags.workers !== '1')
      log('bench: note: pinned, every worker shares one core; add --no-pin to spread them');
  }

  const generator = scenarios.has('standard')
    ? flags.autocannon
      ? autocannonGenerator(clientPrefix)
      : chooseLoadGenerator(clientPrefix, workDirectory, log)
    : undefined;
  if (generator) log(`bench: load generator: ${generator.name}`);

  if (!flags['no-build']) {
    log(`bench: npm run build (in ${command.root})`);
    const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: command.root, stdio: 'inherit' });
    if (build.status !== 0) {
      // tsc still emits JavaScript on type errors; other work in progress must not block a measurement.
      if (!existsSync(join(command.root, command.entry)))
        throw new Error(`npm run build failed and there is no ${command.entry}`);
      buildWarning = 'npm run build reported type errors; the JavaScript tsc emitted anyway was measured';
      log(`bench: warning: ${buildWarning}`);
    }
  }

  const fake = await startFake();
  log(`bench: fake upstream on ${fake.url} (pid ${fake.pid})`);
  if (flags.limits === 'redis') {
    command.env.REDIS_URL = await startRedis();
    log(`bench: --limits redis: redis-server on ${command.env.REDIS_URL} (core ${CLIENT_CORE} when pinned)`);
  } else if (flags.limits === 'memory') {
    log('bench: --limits memory: per-key budgets counted in the gateway process');
  }

  if (flags.profile) {
    await profile(generator!, fake);
    await stopProcess(fake.child);
    return;
  }

  const measurements: Measurements = {
    chat32: { floor: [], gateway: [] },
    chat1: { floor: [], gateway: [] },
    stream: { floor: [], gateway: [] },
    relay: { floor: [], gateway: [] },
    embeddingsFloat: { floor: [], gateway: [] },
    embeddingsBase64: { floor: [], gateway: [] },
  };

  if (scenarios.has('standard')) await standardScenarios(generator!, fake, measurements);
  if (scenarios.has('memory')) measurements.memory = await memoryScenario(fake);
  if (scenarios.has('paced')) {
    log(
      `bench: paced: ${PACED_STREAMS} streams held ${settings.pacedSeconds} s, one write per chunk every ${PACED_DELAY_MS} ms (floor, then a fresh gateway)`,
    );
    const floor = await pacedRun(
      fake,
      {
        url: `${fake.url}/ml/v1/text/chat_stream?version=${API_VERSION}`,
        file: files.floorStream,
        headers: FLOOR_HEADERS,
      },
      fake.pid,
    );
    const gateway = await freshGateway(fake);
    const through = await pacedRun(
      fake,
      { url: `${gateway.url}/v1/chat/completions`, file: files.gatewayStream, headers: {} },
      gateway.pid,
      gateway,
    );
    await stopProcess(gateway.child);
    measurements.paced = { floor: [floor], gateway: [through] };
  }

  // Throughput by WORKERS: the gateway unpinned (its workers may use both cores, sharing them with
  // the fake and wrk), 1 then 2 workers, the same non-stream load as above.
  if (scenarios.has('standard') && !flags.workers) {
    log('  workers: non-stream chat, 32 connections, gateway unpinned, WORKERS=1 then 2');
    measurements.workers = [];
    for (const count of ['1', '2']) {
      const scanned = await startGateway(fake, [], { workers: count, prefix: [] });
      const target = { url: `${scanned.url}/v1/chat/completions`, body: bodies.gatewayChat };
      await measureLoad(generator!, target, scanned.pid, 32, settings.warmupSeconds);
      const run = await measureLoad(generator!, target, scanned.pid, 32, settings.chatSeconds);
      measurements.workers.push({ workers: Number(count), ...run });
      await stopProcess(scanned.child);
    }
  }

  await stopProcess(fake.child);

  const resultsDirectory = join(ROOT, 'bench/results');
  const defaultOutput =
    settings.mode === 'full' && allScenarios
      ? join(resultsDirectory, 'latest.md')
      : join(resultsDirectory, 'quick.md');
  const resultFile = resolve(flags.output ?? defaultOutput);
  const beforeFile =
    flags.before === 'none' ? undefined : resolve(flags.before ?? join(resultsDirectory, 'before.json'));
  const before =
    beforeFile && existsSync(beforeFile) && beforeFile !== resultFile.replace(/\.md$/, '.json')
      ? { file: beforeFile, summary: JSON.parse(readFileSync(beforeFile, 'utf8')) as TargetSummary }
      : undefined;

  const dockerOptions = dockerfileOptions();
  const info = machine();
  const { report, summary } = renderReport(
    measurements,
    {
      date: new Date().toISOString(),
      node: process.version,
      cpuModel: info.cpuModel,
      cores: info.cores,
      kernel: info.kernel,
      commit: gitDescription() + (buildWarning ? ` (${buildWarning})` : ''),
      gateway:
        `\`node ${[...command.nodeOptions, command.entry].join(' ')}\`` +
        (Object.keys(command.env).length > 0
          ? ` with ${Object.entries(command.env)
              .map(([name, value]) => `${name}=${value}`)
              .join(' ')}`
          : '') +
        ` in ${command.root === ROOT ? 'this checkout' : command.root}, from ${command.source}` +
        (dockerOptions === undefined
          ? ''
          : dockerOptions.join(' ') === command.nodeOptions.join(' ')
            ? "; the Dockerfile's CMD has the same node options"
            : `; **the Dockerfile's CMD has other node options: ${dockerOptions.join(' ') || '(none)'}**`),
      mode: settings.mode,
      scenarios: [...scenarios].join(', '),
      repetitions: settings.repetitions,
      loadGenerator: generator?.name ?? 'none (not needed by these scenarios)',
      latencyResolutionMs: generator?.latencyResolutionMs ?? 0,
      pinning,
      workers: flags.workers ?? '1 (WORKERS unset)',
      durations: `chat ${settings.chatSeconds} s per run, embeddings ${settings.embeddingSeconds} s, ${settings.streamCount} streams, ${settings.relayCount} relay streams, paced ${settings.pacedSeconds} s`,
      elapsedSeconds: Math.round((Date.now() - startedAt) / 1000),
      loadAverage: `${loadAtStart} → ${loadAverage()}`,
    },
    before,
  );
  mkdirSync(dirname(resultFile), { recursive: true });
  writeFileSync(resultFile, report);
  writeFileSync(resultFile.replace(/\.md$/, '') + '.json', `${JSON.stringify(summary, null, 2)}\n`);
  log('');
  log(report);
  log(`bench: written to ${resultFile} (and its target figures to ${resultFile.replace(/\.md$/, '')}.json)`);
}

/** Non-stream chat, sequential streams, relay and embeddings, floor and gateway interleaved. */
async function standardScenarios(generator: LoadGenerator, fake: Fake, measurements: Measurements) {
  const gateway = await startGateway(fake);
  log(`bench: gateway on ${gateway.url} (pid ${gateway.pid})`);
  // A second fake on the gateway's core, idle but for its own measurement: what crossing between
  // the cores costs on this machine, for the latency rows (see the note under the table).
  const crossCoreFake = pin ? await startFake(gatewayPrefix) : undefined;
  if (crossCoreFake) log(`bench: cross-core reference fake on ${crossCoreFake.url} (core ${GATEWAY_CORE})`);

  const floorChatUrl = `${fake.url}/ml/v1/text/chat?version=${API_VERSION}`;
  const floorStreamUrl = `${fake.url}/ml/v1/text/chat_stream?version=${API_VERSION}`;
  const floorEmbeddingsUrl = `${fake.url}/ml/v1/text/embeddings?version=${API_VERSION}`;
  const gatewayChatUrl = `${gateway.url}/v1/chat/completions`;
  const gatewayEmbeddingsUrl = `${gateway.url}/v1/embeddings`;

  // Every scenario is checked once: a gateway that answers errors fast must not look fast.
  const chatProbe = await probe(gatewayChatUrl, bodies.gatewayChat);
  if (chatProbe.status !== 200) {
    throw new Error(`the gateway refused the bench chat request: HTTP ${chatProbe.status} ${chatProbe.text}`);
  }
  if (flags.limits && !chatProbe.limited)
    throw new Error('--limits: the gateway sent no x-ratelimit-* headers');
  const embeddingsProbe = await probe(gatewayEmbeddingsUrl, bodies.gatewayEmbeddings('base64'));
  const embeddingsNote =
    embeddingsProbe.status === 200
      ? undefined
      : `n/a: /v1/embeddings answered HTTP ${embeddingsProbe.status}` +
        (embeddingsProbe.status === 404
          ? ' (route not implemented yet)'
          : ` ${embeddingsProbe.text.slice(0, 200)}`);
  if (embeddingsNote) log(`bench: embeddings ${embeddingsNote}`);
  measurements.embeddingsNote = embeddingsNote;

  const floorChat = { url: floorChatUrl, body: bodies.floorChat, headers: FLOOR_HEADERS };
  const gatewayChat = { url: gatewayChatUrl, body: bodies.gatewayChat };

  log('bench: warming up (JIT)');
  await measureLoad(generator, floorChat, fake.pid, 32, settings.warmupSeconds);
  await measureLoad(generator, gatewayChat, gateway.pid, 32, settings.warmupSeconds);
  await sequentialStreams(gatewayChatUrl, files.gatewayStream, {}, 50, 0);
  if (!embeddingsNote) {
    await measureLoad(
      generator,
      { url: gatewayEmbeddingsUrl, body: bodies.gatewayEmbeddings('float') },
      gateway.pid,
      EMBEDDING_CONNECTIONS,
      settings.warmupSeconds,
    );
  }

  for (let repetition = 1; repetition <= settings.repetitions; repetition++) {
    log(`bench: repetition ${repetition}/${settings.repetitions}`);

    log('  non-stream chat, 32 connections');
    measurements.chat32.floor.push(
      await measureLoad(generator, floorChat, fake.pid, 32, settings.chatSeconds),
    );
    measurements.chat32.gateway.push(
      await measureLoad(generator, gatewayChat, gateway.pid, 32, settings.chatSeconds),
    );

    log('  non-stream chat, 1 connection');
    measurements.chat1.floor.push(await measureLoad(generator, floorChat, fake.pid, 1, settings.chatSeconds));
    measurements.chat1.gateway.push(
      await measureLoad(generator, gatewayChat, gateway.pid, 1, settings.chatSeconds),
    );
    if (crossCoreFake) {
      const crossCoreChat = {
        ...floorChat,
        url: `${crossCoreFake.url}/ml/v1/text/chat?version=${API_VERSION}`,
      };
      (measurements.crossCore ??= []).push(
        await measureLoad(generator, crossCoreChat, crossCoreFake.pid, 1, settings.chatSeconds),
      );
    }

    log(`  streaming chat, ${STREAM_CHUNKS} chunks, ${settings.streamCount} sequential streams`);
    await fake.configure(STREAM_CHUNKS, 0);
    measurements.stream.floor.push(
      await sequentialStreams(
        floorStreamUrl,
        files.floorStream,
        FLOOR_HEADERS,
        settings.streamCount,
        10,
        fake.pid,
      ),
    );
    measurements.stream.gateway.push(
      await sequentialStreams(gatewayChatUrl, files.gatewayStream, {}, settings.streamCount, 10, gateway.pid),
    );
    if (crossCoreFake) {
      await crossCoreFake.configure(STREAM_CHUNKS, 0);
      (measurements.crossCoreStream ??= []).push(
        await sequentialStreams(
          `${crossCoreFake.url}/ml/v1/text/chat_stream?version=${API_VERSION}`,
          files.floorStream,
          FLOOR_HEADERS,
          settings.streamCount,
          10,
          crossCoreFake.pid,
        ),
      );
    }

    log(`  chunk relay, ${RELAY_CHUNKS} chunks, no delay, ${settings.relayCount} sequential streams`);
    await fake.configure(RELAY_CHUNKS, 0);
    measurements.relay.floor.push(
      await sequentialStreams(
        floorStreamUrl,
        files.floorStream,
        FLOOR_HEADERS,
        settings.relayCount,
        2,
        fake.pid,
      ),
    );
    measurements.relay.gateway.push(
      await sequentialStreams(gatewayChatUrl, files.gatewayStream, {}, settings.relayCount, 2, gateway.pid),
    );
    await fake.configure(STREAM_CHUNKS, 0);

    if (!embeddingsNote) {
      log(`  embeddings, ${EMBEDDING_INPUTS} inputs, float and base64, ${EMBEDDING_CONNECTIONS} connections`);
      const floorEmbeddings = await measureLoad(
        generator,
        { url: floorEmbeddingsUrl, body: bodies.floorEmbeddings, headers: FLOOR_HEADERS },
        fake.pid,
        EMBEDDING_CONNECTIONS,
        settings.embeddingSeconds,
      );
      // The fake answers both formats with the same bytes, so one floor serves both rows.
      measurements.embeddingsFloat.floor.push(floorEmbeddings);
      measurements.embeddingsBase64.floor.push(floorEmbeddings);
      measurements.embeddingsFloat.gateway.push(
        await measureLoad(
          generator,
          { url: gatewayEmbeddingsUrl, body: bodies.gatewayEmbeddings('float') },
          gateway.pid,
          EMBEDDING_CONNECTIONS,
          settings.embeddingSeconds,
        ),
      );
      measurements.embeddingsBase64.gateway.push(
        await measureLoad(
          generator,
          { url: gatewayEmbeddingsUrl, body: bodies.gatewayEmbeddings('base64') },
          gateway.pid,
          EMBEDDING_CONNECTIONS,
          settings.embeddingSeconds,
        ),
      );
    }
  }

  await stopProcess(gateway.child);
  if (crossCoreFake) await stopProcess(crossCoreFake.child);
}

/** Memory on a fresh gateway, so that the peak belongs to the slow streams and nothing earlier. */
async function memoryScenario(fake: Fake): Promise<NonNullable<Measurements['memory']>> {
  log(`bench: memory: fresh gateway, ${MEMORY_STREAMS} concurrent slow streams`);
  const gateway = await freshGateway(fake);
  const idle = memoryMb(gateway.pid);
  await fake.configure(settings.memoryChunks, MEMORY_DELAY_MS);
  await fake.resetStats();
  const peakReset = resetPeakRss(gateway.pid);
  let sampledPeak = memoryMb(gateway.pid).rss;
  const sampler = setInterval(() => {
    sampledPeak = Math.max(sampledPeak, memoryMb(gateway.pid).rss);
  }, 20);
  const concurrent = (await streamClient([
    '--mode',
    'concurrent',
    '--url',
    `${gateway.url}/v1/chat/completions`,
    '--body-file',
    files.gatewayStream,
    '--count',
    String(MEMORY_STREAMS),
    '--ramp-ms',
    '200',
  ])) as {
    completed: number;
    failed: number;
    statuses: Record<string, number>;
    maxOpenWithHeaders: number;
    durationMs: number;
  };
  clearInterval(sampler);
  const after = memoryMb(gateway.pid);
  const upstreamStats = await fake.stats();
  await fake.configure(STREAM_CHUNKS, 0);
  await stopProcess(gateway.child);
  return {
    idleRssMb: idle.rss,
    peakRssMb: Math.max(sampledPeak, peakReset ? after.hwm : 0),
    peakSource: peakReset
      ? 'VmHWM (reset before the test) and VmRSS samples every 20 ms'
      : 'VmRSS samples every 20 ms',
    streams: MEMORY_STREAMS,
    chunksPerStream: settings.memoryChunks,
    delayMs: MEMORY_DELAY_MS,
    completed: concurrent.completed,
    failed: concurrent.failed,
    statuses: concurrent.statuses,
    maxOpenWithHeaders: concurrent.maxOpenWithHeaders,
    maxUpstreamStreams: upstreamStats.maxActiveStreams,
    durationMs: concurrent.durationMs,
  };
}

function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function gitDescription(): string {
  const cwd = command.root;
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd, encoding: 'utf8' });
  const status = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd, encoding: 'utf8' });
  const hash = commit.stdout?.trim() || 'unknown';
  return status.stdout?.trim() ? `${hash} + uncommitted changes in src/` : hash;
}

/**
 * Profiles the gateway under `node --cpu-prof`, one gateway process per load (non-stream chat, then
 * streams) so that each profile shows one hot path, and prints a self-time summary of each.
 */
async function profile(generator: LoadGenerator | undefined, fake: Fake) {
  const seconds = flags.quick ? 3 : 10;
  const loads: Array<{
    name: string;
    scenario: Scenario;
    /** A description of the load, and the count to divide the profile by (per chunk). */
    run: (gateway: Gateway) => Promise<{ description: string; per?: { count: number; unit: string } }>;
  }> = [
    {
      name: 'non-stream chat',
      scenario: 'standard',
      async run(gateway) {
        const target = { url: `${gateway.url}/v1/chat/completions`, body: bodies.gatewayChat };
        const result = await measureLoad(generator!, target, gateway.pid, 32, seconds);
        return {
          description: `${Math.round(result.requestsPerSecond)} requests/s at 32 connections for ${seconds} s`,
          per: { count: result.requests, unit: 'request' },
        };
      },
    },
    {
      name: 'streaming chat',
      scenario: 'standard',
      async run(gateway) {
        const url = `${gateway.url}/v1/chat/completions`;
        const count = flags.quick ? 300 : 1500;
        await fake.configure(STREAM_CHUNKS, 0);
        await sequentialStreams(url, files.gatewayStream, {}, count, 0);
        await fake.configure(RELAY_CHUNKS, 0);
        await sequentialStreams(url, files.gatewayStream, {}, flags.quick ? 5 : 20, 0);
        await fake.configure(STREAM_CHUNKS, 0);
        return {
          description: `${count} sequential streams of ${STREAM_CHUNKS} chunks, then relay streams of ${RELAY_CHUNKS}`,
        };
      },
    },
    {
      name: 'paced streams',
      scenario: 'paced',
      async run(gateway) {
        const run = await pacedRun(
          fake,
          { url: `${gateway.url}/v1/chat/completions`, file: files.gatewayStream, headers: {} },
          gateway.pid,
          gateway,
        );
        return {
          description:
            `${run.streams} streams held ${run.holdSeconds} s, a chunk every ${run.delayMs} ms each: ` +
            `${run.frames.toLocaleString('en-US')} chunks relayed (${Math.round(run.chunksPerSecond).toLocaleString('en-US')}/s), ` +
            `${run.failed} failed, ${run.cpuMicrosecondsPerChunk.toFixed(1)} µs CPU per chunk from /proc (profiler on), ` +
            `event-loop delay p99 ${run.eventLoop?.p99Ms.toFixed(1) ?? 'n/a'} ms`,
          per: { count: run.frames, unit: 'chunk' },
        };
      },
    },
  ];
  for (const load of loads.filter((candidate) => scenarios.has(candidate.scenario))) {
    const directory = mkdtempSync(join(tmpdir(), 'bench-profile-'));
    const gateway = await startGateway(fake, ['--cpu-prof', `--cpu-prof-dir=${directory}`]);
    log(`bench: profiling ${load.name} (gateway pid ${gateway.pid})`);
    await probe(`${gateway.url}/v1/chat/completions`, bodies.gatewayChat);
    const { description, per } = await load.run(gateway);
    await stopProcess(gateway.child);
    const file = readdirSync(directory).find((name) => name.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no .cpuprofile in ${directory}: did the gateway exit cleanly on SIGTERM?`);
    log('');
    log(`## ${load.name}: ${description}`);
    log(`profile: ${join(directory, file)}`);
    log(summariseProfile(join(directory, file), 30, per));
    log('');
  }
}

try {
  await main();
} catch (error) {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  killChildren();
  process.exit(1);
}
