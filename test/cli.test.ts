// The `watsonx-openai-proxy` command as a user runs it: `node src/cli.ts` in a child process, in an
// empty working directory (no stray .env) with an explicit minimal environment. Loopback only.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ENVIRONMENT_VARIABLES } from '../src/process/config.ts';
import { parseOpenAIStream } from './helpers/sse.ts';

const CLI = fileURLToPath(new URL('../src/process/cli.ts', import.meta.url));
const PACKAGE = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};
const MODEL = 'ibm/granite-4-h-small';
const CHILD_TIMEOUT_MS = 20_000;

let directory: string;
before(() => {
  directory = mkdtempSync(join(tmpdir(), 'wxo-cli-'));
});
after(() => rmSync(directory, { recursive: true, force: true }));

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function startCli(args: string[], env: Record<string, string> = {}, cwd = directory) {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (stdout += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const killer = setTimeout(() => child.kill('SIGKILL'), CHILD_TIMEOUT_MS);
  const exited = new Promise<Exit>((resolve) => {
    child.once('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout, stderr });
    });
  });
  return { child, exited, output: () => ({ stdout, stderr }) };
}

function runCli(args: string[], env: Record<string, string> = {}, cwd = directory): Promise<Exit> {
  return startCli(args, env, cwd).exited;
}

/** The first JSON log line on stdout with this msg, waiting for it while the process runs. */
async function waitForLog(
  running: ReturnType<typeof startCli>,
  msg: string,
): Promise<Record<string, unknown>> {
  const deadline = Date.now() + CHILD_TIMEOUT_MS;
  let exited = false;
  void running.exited.then(() => (exited = true));
  while (Date.now() < deadline) {
    for (const line of running.output().stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      const record = JSON.parse(line) as Record<string, unknown>;
      if (record.msg === msg) return record;
    }
    if (exited) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const { stdout, stderr } = running.output();
  assert.fail(`no "${msg}" log line.\nstdout:\n${stdout}\nstderr:\n${stderr}`);
}

function countOf(text: string, part: string): number {
  return text.split(part).length - 1;
}

describe('options', { concurrency: true }, () => {
  test('--help exits 0 and lists every environment variable', async () => {
    const result = await runCli(['--help']);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /Usage: watsonx-openai-proxy/);
    for (const variable of ENVIRONMENT_VARIABLES) {
      assert.ok(result.stdout.includes(variable.name), `--help does not list ${variable.name}`);
    }
    for (const option of ['--host', '--port', '--simulator', '--version']) {
      assert.ok(result.stdout.includes(option), `--help does not list ${option}`);
    }
  });

  test("--version and -v print package.json's version", async () => {
    const results = await Promise.all([runCli(['--version']), runCli(['-v'])]);
    for (const result of results) {
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `${PACKAGE.version}\n`);
    }
  });

  test('an unknown option or a missing value exits 2 and points at --help', async () => {
    const [unknown, missing] = await Promise.all([runCli(['--frobnicate']), runCli(['--port'])]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown option --frobnicate/);
    assert.match(unknown.stderr, /--help/);
    assert.equal(unknown.stdout, '');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--port needs a value/);
  });
});

describe('invalid configuration', { concurrency: true }, () => {
  test('exits 1 and prints every problem once on stderr, never the key', async () => {
    const secret = 'sekrit-xyz-Tg7uQ1';
    const result = await runCli([], {
      PORT: 'abc',
      LOG_LEVEL: 'loud',
      IBM_CLOUD_API_KEY: secret,
      WATSONX_ALLOWED_SPACES: 'my-space',
    });
    assert.equal(result.code, 1);
    for (const problem of ['PORT must be', 'LOG_LEVEL must be', 'WATSONX_ALLOWED_SPACES must be']) {
      assert.equal(countOf(result.stderr, problem), 1, `"${problem}" once in:\n${result.stderr}`);
    }
    assert.ok(!result.stderr.includes(secret) && !result.stdout.includes(secret), 'the key leaked');
    assert.doesNotMatch(result.stderr, /listening|SIMULATOR MODE/);
  });

  test('an option is checked like its variable (--port abc)', async () => {
    const result = await runCli(['--port', 'abc']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /PORT must be an integer/);
  });

  test('.env in the working directory is read', async () => {
    const withEnv = mkdtempSync(join(tmpdir(), 'wxo-cli-env-'));
    try {
      writeFileSync(join(withEnv, '.env'), 'LOG_LEVEL=chatty\n');
      const result = await runCli([], {}, withEnv);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /LOG_LEVEL must be one of .*"chatty"/);
    } finally {
      rmSync(withEnv, { recursive: true, force: true });
    }
  });

  test('NODE_ENV=production without credentials exits 1 with the reason', async () => {
    const result = await runCli([], { NODE_ENV: 'production', PORT: '0', HOST: '127.0.0.1' });
    assert.equal(result.code, 1);
    assert.match(result.stderr, /NODE_ENV=production but no IBM credentials are set/);
    assert.match(result.stderr, /WATSONX_SIMULATOR=true/);
    assert.doesNotMatch(result.stdout, /listening/);
  });
});

describe('serving on the simulator', () => {
  let running: ReturnType<typeof startCli>;
  let child: ChildProcess;
  let url: string;

  before(async () => {
    running = startCli([], { PORT: '0', HOST: '127.0.0.1' });
    child = running.child;
    const listening = await waitForLog(running, 'watsonx-openai-proxy listening');
    assert.equal(listening.upstream, 'simulator');
    url = String(listening.url);
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(new URL(url).port, '0');
    assert.equal(listening.docs, `${url}/docs`, 'the start-up log names the OpenAPI UI');
    assert.deepEqual(
      listening.container,
      { project_id: '00000000-0000-4000-8000-000000000000' },
      'the default project',
    );
  });
  after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  test('runs as started: no self re-execution, no V8 flags added', () => {
    const args = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
    assert.ok(!args.some((arg) => arg.startsWith('--max-semi-space-size')), args.join(' '));
  });

  test('prints the SIMULATOR MODE banner on stderr', () => {
    assert.match(running.output().stderr, /SIMULATOR MODE/);
  });

  test('GET /health reports the simulator', async () => {
    const response = await fetch(`${url}/health`);
    assert.equal(response.status, 200);
    const body = (await response.json()) as { status: string; upstream: { mode: string } };
    assert.equal(body.status, 'ok');
    assert.equal(body.upstream.mode, 'simulator');
  });

  test('POST /v1/chat/completions answers a chat.completion', async () => {
    const response = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hello cli' }] }),
    });
    assert.equal(response.status, 200);
    const completion = (await response.json()) as {
      object: string;
      model: string;
      choices: { message: { content: string }; finish_reason: string }[];
    };
    assert.equal(completion.object, 'chat.completion');
    assert.equal(completion.model, MODEL);
    assert.match(completion.choices[0]!.message.content, /hello cli/);
    assert.equal(completion.choices[0]!.finish_reason, 'stop');
  });

  test('SIGTERM drains the slow streams in flight, then the process exits 0', async () => {
    const open = async (index: number) => {
      const response = await fetch(`${url}/v1/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          model: MODEL,
          stream: true,
          messages: [{ role: 'user', content: `slow please ${index} [[sim:stall=800]]` }],
        }),
      });
      assert.equal(response.status, 200);
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
      // the role chunk is sent before the stall: the request is in flight when the signal arrives
      const first = await reader.read();
      assert.equal(first.done, false);
      assert.doesNotMatch(first.value ?? '', /\[DONE\]/);
      return { reader, text: first.value ?? '' };
    };
    const streams = await Promise.all([0, 1, 2].map(open));

    const signalledAt = Date.now();
    assert.ok(child.kill('SIGTERM'));
    await Promise.all(
      streams.map(async ({ reader, text }, index) => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          text += value;
        }
        const stream = parseOpenAIStream(text);
        assert.equal(stream.done, true);
        const content = stream.chunks.map((chunk) => chunk.choices[0]?.delta?.content ?? '').join('');
        assert.match(content, new RegExp(`slow please ${index}`));
        assert.equal(stream.chunks.at(-1).choices[0].finish_reason, 'stop');
      }),
    );

    const exit = await running.exited;
    assert.equal(exit.code, 0, exit.stderr);
    // the drain timeout (SHUTDOWN_TIMEOUT, 30 s) must not be what ends it
    assert.ok(Date.now() - signalledAt < 5000, `exited ${Date.now() - signalledAt} ms after SIGTERM`);
    assert.match(exit.stdout, /shutting down/);
    assert.doesNotMatch(exit.stdout, /drain timeout reached/);
  });
});

describe('a server credential IAM refuses', () => {
  test('the background token fetch at start is logged as a warning, without the key', async () => {
    const { startSimulator } = await import('../src/simulator/index.ts');
    const simulator = await startSimulator({ acceptedApiKeys: ['the-right-key'] });
    const running = startCli([], {
      PORT: '0',
      HOST: '127.0.0.1',
      WATSONX_URL: simulator.url,
      IBM_IAM_URL: simulator.url,
      IBM_CLOUD_API_KEY: 'a-revoked-key-1234567890',
      WATSONX_PROJECT_ID: '11111111-2222-4333-8444-555555555555',
      LOG_LEVEL: 'info',
    });
    try {
      const record = await waitForLog(
        running,
        'could not get a watsonx token in the background; requests will try again',
      );
      assert.equal(record.level, 40);
      assert.match(JSON.stringify(record.err), /IAM|refused|rejected|not found/i);
      assert.equal(countOf(running.output().stdout + running.output().stderr, 'a-revoked-key-1234567890'), 0);
    } finally {
      running.child.kill('SIGTERM');
      await running.exited;
      await simulator.close();
    }
  });
});
