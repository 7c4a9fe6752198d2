// Real redis-server and nginx processes for the tests of the shared state (test/redis-*.test.ts,
// test/replicas.test.ts), each on a free loopback port in a temporary directory, stopped by the test.
// On a developer's machine without them the tests are skipped with a message saying so; in CI
// (CI=true) they are not skipped: .ci/run installs both, and a missing binary fails the test.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';

/** The binary's path, searched on PATH and in the sbin directories (nginx lives in /usr/sbin). */
export function findBinary(name: string): string | undefined {
  const directories = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const directory of directories) {
    const path = join(directory, name);
    if (directory !== '' && existsSync(path)) return path;
  }
  return undefined;
}

/**
 * `skip` option for node:test: a reason when a binary is missing on a developer's machine;
 * false in CI, where the test then fails on the missing binary.
 */
export function skipWithout(...names: string[]): string | false {
  const missing = names.filter((name) => findBinary(name) === undefined);
  if (missing.length === 0 || process.env.CI === 'true') return false;
  return `${missing.join(' and ')} not installed (apt-get install -y redis-server nginx; .ci/run does it)`;
}

/** A free loopback port (the OS picks it; closed again before it is used). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

const running = new Set<ChildProcess>();
// A test that fails before its `finally` must not leave a server behind.
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

/** Spawns `command`, resolves when `ready` appears in its output; rejects on exit or after 30 s. */
export async function startProcess(
  command: string,
  args: string[],
  ready: RegExp,
  options: { env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<{ child: ChildProcess; output: () => string; stop: (signal?: NodeJS.Signals) => Promise<void> }> {
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
    cwd: options.cwd,
  });
  running.add(child);
  let output = '';
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      running.delete(child);
      resolve();
    }),
  );
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`${command} did not start in 30 s:\n${output}`)), 30_000);
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    const onData = (data: Buffer) => {
      output += data.toString();
      if (ready.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('error', fail);
    child.once('exit', (code) =>
      fail(new Error(`${command} exited (${code}) before it was ready:\n${output}`)),
    );
  });
  return {
    child,
    output: () => output,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface RedisServer {
  port: number;
  url: string;
  stop(): Promise<void>;
}

/** redis-server on a free loopback port (or the one given): no persistence, nothing on disk. */
export async function startRedis(port?: number): Promise<RedisServer> {
  const binary = findBinary('redis-server');
  if (!binary) throw new Error('redis-server is not installed (apt-get install -y redis-server)');
  const chosen = port ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'wxo-redis-'));
  const server = await startProcess(
    binary,
    ['--port', String(chosen), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    /Ready to accept connections/,
  );
  return { port: chosen, url: `redis://127.0.0.1:${chosen}`, stop: () => server.stop() };
}
