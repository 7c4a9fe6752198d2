// WORKERS=2: two gateway processes share one port under node:cluster; SIGTERM stops them all.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../src/process/cli.ts', import.meta.url));

test('WORKERS=2 serves one port from two processes and stops them all on SIGTERM', async () => {
  const child = spawn(process.execPath, [CLI], {
    cwd: mkdtempSync(join(tmpdir(), 'wxo-workers-')),
    env: { PATH: process.env.PATH, WORKERS: '2', PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    const listening: Array<{ url: string; pid: number }> = [];
    let buffer = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`workers did not start: ${buffer}`)), 20_000);
      child.stdout.on('data', (data: Buffer) => {
        buffer += data.toString();
        const lines = buffer.split('\n');
        buffer = lines.pop() ?? '';
        for (const line of lines) {
          const entry = line.startsWith('{') ? JSON.parse(line) : undefined;
          if (entry?.msg === 'watsonx-openai-proxy listening')
            listening.push({ url: entry.url, pid: entry.pid });
        }
        if (listening.length === 2) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    assert.notEqual(listening[0]!.pid, listening[1]!.pid, 'two processes');
    assert.equal(listening[0]!.url, listening[1]!.url, 'one shared port');
    const url = listening[0]!.url;
    const responses = await Promise.all(
      Array.from({ length: 8 }, () =>
        fetch(`${url}/v1/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            model: 'ibm/granite-4-h-small',
            messages: [{ role: 'user', content: 'hi' }],
          }),
        }),
      ),
    );
    for (const response of responses) assert.equal(response.status, 200);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});
