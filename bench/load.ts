// HTTP load generators behind one interface: wrk (preferred, with a Lua script for POST bodies and a
// JSON summary) and autocannon through npx (the fallback when wrk cannot be installed).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface LoadSpec {
  url: string;
  body: string;
  headers: Record<string, string>;
  connections: number;
  durationSeconds: number;
}

export interface LoadResult {
  requests: number;
  durationSeconds: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** Socket errors, timeouts and non-2xx answers. */
  failures: number;
}

export interface LoadGenerator {
  name: string;
  /** Smallest latency step the tool reports (autocannon: whole milliseconds). */
  latencyResolutionMs: number;
  run(spec: LoadSpec): Promise<LoadResult>;
}

/** Runs a command to the end; resolves with its output, rejects with its stderr on failure. */
export function runCommand(command: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve({ stdout, stderr });
      else
        reject(
          new Error(`${command} ${args.join(' ')} exited with ${code}: ${stderr.trim() || stdout.trim()}`),
        );
    });
  });
}

function lastJsonLine(output: string): Record<string, unknown> {
  const line = output
    .split('\n')
    .reverse()
    .find((candidate) => candidate.trim().startsWith('{'));
  if (!line) throw new Error(`no JSON summary in load generator output:\n${output}`);
  return JSON.parse(line) as Record<string, unknown>;
}

const WRK_DONE = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '\\n{"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;

function luaString(value: string): string {
  let level = '=';
  while (value.includes(`]${level}]`)) level += '=';
  return `[${level}[${value}]${level}]`;
}

/** `workDirectory` receives the Lua scripts. */
export function wrkGenerator(prefix: string[], workDirectory: string): LoadGenerator {
  const directory = mkdtempSync(join(workDirectory, 'wrk-'));
  let scripts = 0;
  return {
    name: 'wrk',
    latencyResolutionMs: 0.001,
    async run(spec) {
      const lines = ['wrk.method = "POST"', `wrk.body = ${luaString(spec.body)}`];
      for (const [name, value] of Object.entries({ 'Content-Type': 'application/json', ...spec.headers })) {
        lines.push(`wrk.headers[ ${luaString(name)} ] = ${luaString(value)}`);
      }
      const script = join(directory, `load-${scripts++}.lua`);
      writeFileSync(script, `${lines.join('\n')}\n${WRK_DONE}`);
      const [command, ...commandPrefix] = [...prefix, 'wrk'];
      const { stdout, stderr } = await runCommand(command!, [
        ...commandPrefix,
        '-t1',
        `-c${spec.connections}`,
        `-d${spec.durationSeconds}s`,
        '--timeout',
        '10s',
        '-s',
        script,
        spec.url,
      ]);
      // wrk reports a broken script on stderr and then runs anyway, without it.
      if (stderr.trim() !== '') throw new Error(`wrk: ${stderr.trim()}`);
      const summary = lastJsonLine(stdout) as Record<string, number>;
      const durationSeconds = summary.duration_us! / 1e6;
      return {
        requests: summary.requests!,
        durationSeconds,
        requestsPerSecond: summary.requests! / durationSeconds,
        p50Ms: summary.p50_us! / 1000,
        p99Ms: summary.p99_us! / 1000,
        failures: summary.connect! + summary.read! + summary.write! + summary.status! + summary.timeout!,
      };
    },
  };
}

export function autocannonGenerator(prefix: string[]): LoadGenerator {
  return {
    name: 'autocannon',
    latencyResolutionMs: 1,
    async run(spec) {
      const headerArgs = Object.entries({ 'content-type': 'application/json', ...spec.headers }).flatMap(
        ([name, value]) => ['-H', `${name}=${value}`],
      );
      const [command, ...commandPrefix] = [...prefix, 'npx'];
      const { stdout } = await runCommand(command!, [
        ...commandPrefix,
        '--yes',
        'autocannon',
        '-c',
        String(spec.connections),
        '-d',
        String(spec.durationSeconds),
        '-m',
        'POST',
        ...headerArgs,
        '-b',
        spec.body,
        '-j',
        spec.url,
      ]);
      const summary = lastJsonLine(stdout) as {
        requests: { total: number };
        latency: { p50: number; p99: number };
        duration: number;
        errors: number;
        timeouts: number;
        non2xx: number;
      };
      return {
        requests: summary.requests.total,
        durationSeconds: summary.duration,
        requestsPerSecond: summary.requests.total / summary.duration,
        p50Ms: summary.latency.p50,
        p99Ms: summary.latency.p99,
        failures: summary.errors + summary.timeouts + summary.non2xx,
      };
    },
  };
}

function hasCommand(command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0;
}

/** wrk, installed with apt-get when missing; autocannon (npx) only when that fails. */
export function chooseLoadGenerator(
  prefix: string[],
  workDirectory: string,
  log: (line: string) => void,
): LoadGenerator {
  if (hasCommand('wrk')) return wrkGenerator(prefix, workDirectory);
  log('wrk is not installed: installing it with `apt-get install -y wrk` (Debian package)…');
  const install = () => spawnSync('apt-get', ['install', '-y', 'wrk'], { stdio: 'inherit' }).status === 0;
  if (!install()) {
    log('apt-get install failed: running `apt-get update` and trying once more…');
    spawnSync('apt-get', ['update'], { stdio: 'inherit' });
    install();
  }
  if (hasCommand('wrk')) {
    log('wrk installed.');
    return wrkGenerator(prefix, workDirectory);
  }
  log('wrk could not be installed: falling back to autocannon via `npx --yes autocannon`.');
  return autocannonGenerator(prefix);
}
