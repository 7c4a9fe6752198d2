// `npm run bench`: the gateway's cost on top of watsonx, measured against a floor (the same client
// straight at a fast fake watsonx). See bench/README.md for what each number means.
//
//   node bench/run.ts [--quick] [--repetitions N] [--workers N] [--no-pin] [--no-build] [--profile]
//                     [--autocannon]
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
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { BENCH_CHAT_MODEL, BENCH_EMBEDDING_MODEL, EMBEDDING_INPUTS } from './fake-upstream.ts';
import { autocannonGenerator, chooseLoadGenerator, type LoadGenerator, runCommand } from './load.ts';
import { cpuSeconds, machine, memoryMb, resetPeakRss } from './proc.ts';
import { summariseProfile } from './profile-summary.ts';
import { type LoadMeasurement, type Measurements, renderReport, type SequentialStreams } from './report.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const API_VERSION = '2026-08-05';

const { values: flags } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    repetitions: { type: 'string' },
    workers: { type: 'string' },
    'no-pin': { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    autocannon: { type: 'boolean', default: false },
  },
});

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
    };
if (flags.repetitions) settings.repetitions = Math.max(1, Number(flags.repetitions));
const STREAM_CHUNKS = 50;
const RELAY_CHUNKS = 5000;
const MEMORY_STREAMS = 1000;
const MEMORY_DELAY_MS = 100;
const EMBEDDING_CONNECTIONS = 8;

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
  const child = spawnPinned(prefix, [process.execPath, ...nodeFlags, join(ROOT, 'dist/process/cli.js')], {
    env,
    cwd: mkdtempSync(join(workDirectory, 'gateway-')),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
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
  return { status: response.status, text };
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

// ---- the run --------------------------------------------------------------------------------

async function main() {
  const startedAt = Date.now();
  const loadAtStart = loadAverage();
  if (pin) spawnSync('taskset', ['-pc', CLIENT_CORE, String(process.pid)], { stdio: 'ignore' });
  log(`bench: ${settings.mode} run, ${settings.repetitions} repetition(s), ${cores} cores`);
  log(`bench: ${pinning}`);
  if (flags.workers) {
    log(`bench: WORKERS=${flags.workers} passed to the gateway`);
    if (pin && flags.workers !== '1')
      log('bench: note: pinned, every worker shares one core; add --no-pin to spread them');
  }

  const generator = flags.autocannon
    ? autocannonGenerator(clientPrefix)
    : chooseLoadGenerator(clientPrefix, workDirectory, log);
  log(`bench: load generator: ${generator.name}`);

  if (!flags['no-build']) {
    log('bench: npm run build');
    const build = spawnSync('npm', ['run', '--silent', 'build'], { cwd: ROOT, stdio: 'inherit' });
    if (build.status !== 0) {
      // tsc still emits JavaScript on type errors; other work in progress must not block a measurement.
      if (!existsSync(join(ROOT, 'dist/process/cli.js')))
        throw new Error('npm run build failed and there is no dist/process/cli.js');
      buildWarning = 'npm run build reported type errors; the JavaScript tsc emitted anyway was measured';
      log(`bench: warning: ${buildWarning}`);
    }
  }

  const fake = await startFake();
  log(`bench: fake upstream on ${fake.url} (pid ${fake.pid})`);

  if (flags.profile) {
    await profile(generator, fake);
    await stopProcess(fake.child);
    return;
  }

  let gateway = await startGateway(fake);
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
  const embeddingsProbe = await probe(gatewayEmbeddingsUrl, bodies.gatewayEmbeddings('base64'));
  const embeddingsNote =
    embeddingsProbe.status === 200
      ? undefined
      : `n/a: /v1/embeddings answered HTTP ${embeddingsProbe.status}` +
        (embeddingsProbe.status === 404
          ? ' (route not implemented yet)'
          : ` ${embeddingsProbe.text.slice(0, 200)}`);
  if (embeddingsNote) log(`bench: embeddings ${embeddingsNote}`);

  const measurements: Measurements = {
    chat32: { floor: [], gateway: [] },
    chat1: { floor: [], gateway: [] },
    stream: { floor: [], gateway: [] },
    relay: { floor: [], gateway: [] },
    embeddingsFloat: { floor: [], gateway: [] },
    embeddingsBase64: { floor: [], gateway: [] },
    embeddingsNote,
  };

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

  // Memory on a fresh gateway, so that the peak belongs to the slow streams and nothing earlier.
  log(`bench: memory: fresh gateway, ${MEMORY_STREAMS} concurrent slow streams`);
  await stopProcess(gateway.child);
  gateway = await startGateway(fake);
  await probe(`${gateway.url}/v1/chat/completions`, bodies.gatewayChat);
  await sequentialStreams(`${gateway.url}/v1/chat/completions`, files.gatewayStream, {}, 5, 0);
  await sleep(1000);
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
  measurements.memory = {
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

  await stopProcess(gateway.child);

  // Throughput by WORKERS: the gateway unpinned (its workers may use both cores, sharing them with
  // the fake and wrk), 1 then 2 workers, the same non-stream load as above.
  if (!flags.workers) {
    log('  workers: non-stream chat, 32 connections, gateway unpinned, WORKERS=1 then 2');
    measurements.workers = [];
    for (const count of ['1', '2']) {
      const scanned = await startGateway(fake, [], { workers: count, prefix: [] });
      const target = { url: `${scanned.url}/v1/chat/completions`, body: bodies.gatewayChat };
      await measureLoad(generator, target, scanned.pid, 32, settings.warmupSeconds);
      const run = await measureLoad(generator, target, scanned.pid, 32, settings.chatSeconds);
      measurements.workers.push({ workers: Number(count), ...run });
      await stopProcess(scanned.child);
    }
  }

  await stopProcess(fake.child);
  if (crossCoreFake) await stopProcess(crossCoreFake.child);

  const info = machine();
  const report = renderReport(measurements, {
    date: new Date().toISOString(),
    node: process.version,
    cpuModel: info.cpuModel,
    cores: info.cores,
    kernel: info.kernel,
    commit: gitDescription() + (buildWarning ? ` (${buildWarning})` : ''),
    mode: settings.mode,
    repetitions: settings.repetitions,
    loadGenerator: generator.name,
    latencyResolutionMs: generator.latencyResolutionMs,
    pinning,
    workers: flags.workers ?? '1 (WORKERS unset)',
    durations: `chat ${settings.chatSeconds} s per run, embeddings ${settings.embeddingSeconds} s, ${settings.streamCount} streams, ${settings.relayCount} relay streams`,
    elapsedSeconds: Math.round((Date.now() - startedAt) / 1000),
    loadAverage: `${loadAtStart} → ${loadAverage()}`,
  });
  const resultsDirectory = join(ROOT, 'bench/results');
  mkdirSync(resultsDirectory, { recursive: true });
  const resultFile = join(resultsDirectory, settings.mode === 'quick' ? 'quick.md' : 'latest.md');
  writeFileSync(resultFile, report);
  log('');
  log(report);
  log(`bench: written to ${resultFile}`);
}

function loadAverage(): string {
  try {
    return readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function gitDescription(): string {
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  const status = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' });
  const hash = commit.stdout?.trim() || 'unknown';
  return status.stdout?.trim() ? `${hash} + uncommitted changes in src/` : hash;
}

/**
 * Profiles the gateway under `node --cpu-prof`, one gateway process per load (non-stream chat, then
 * streams) so that each profile shows one hot path, and prints a self-time summary of each.
 */
async function profile(generator: LoadGenerator, fake: Fake) {
  const seconds = flags.quick ? 3 : 10;
  const loads: Array<{ name: string; run: (gateway: Gateway) => Promise<string> }> = [
    {
      name: 'non-stream chat',
      async run(gateway) {
        const target = { url: `${gateway.url}/v1/chat/completions`, body: bodies.gatewayChat };
        const result = await measureLoad(generator, target, gateway.pid, 32, seconds);
        return `${Math.round(result.requestsPerSecond)} requests/s at 32 connections for ${seconds} s`;
      },
    },
    {
      name: 'streaming chat',
      async run(gateway) {
        const url = `${gateway.url}/v1/chat/completions`;
        const count = flags.quick ? 300 : 1500;
        await fake.configure(STREAM_CHUNKS, 0);
        await sequentialStreams(url, files.gatewayStream, {}, count, 0);
        await fake.configure(RELAY_CHUNKS, 0);
        await sequentialStreams(url, files.gatewayStream, {}, flags.quick ? 5 : 20, 0);
        await fake.configure(STREAM_CHUNKS, 0);
        return `${count} sequential streams of ${STREAM_CHUNKS} chunks, then relay streams of ${RELAY_CHUNKS}`;
      },
    },
  ];
  for (const load of loads) {
    const directory = mkdtempSync(join(tmpdir(), 'bench-profile-'));
    const gateway = await startGateway(fake, ['--cpu-prof', `--cpu-prof-dir=${directory}`]);
    log(`bench: profiling ${load.name} (gateway pid ${gateway.pid})`);
    await probe(`${gateway.url}/v1/chat/completions`, bodies.gatewayChat);
    const description = await load.run(gateway);
    await stopProcess(gateway.child);
    const file = readdirSync(directory).find((name) => name.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no .cpuprofile in ${directory}: did the gateway exit cleanly on SIGTERM?`);
    log('');
    log(`## ${load.name}: ${description}`);
    log(`profile: ${join(directory, file)}`);
    log(summariseProfile(join(directory, file), 30));
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
