// Admission before reading: a request takes its concurrency slot and holds its declared body size
// against MAX_BODY_MEMORY_MB when it arrives, before a byte of the body is read; past either cap
// it is a 503 with Retry-After at once. Before, bodies were read whole first: 20 concurrent 49 MB
// bodies took the process to 2.8 GB. Real sockets, since the point is what happens mid-upload.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const MODEL = 'ibm/granite-4-h-small';
const MIB = 1024 * 1024;

const closers: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

async function gateway(env: Record<string, string>): Promise<TestGateway> {
  const started = await startTestGateway({ listen: true, env });
  closers.push(() => started.close());
  return started;
}

/** A chat body padded with a long user message to `bytes` bytes exactly. */
function chatBody(bytes: number): string {
  const head = `{"model":"${MODEL}","max_tokens":5,"messages":[{"role":"user","content":"`;
  const tail = '"}]}';
  return head + 'a'.repeat(bytes - head.length - tail.length) + tail;
}

/** Opens a request on a raw socket and sends its headers and the first `sent` bytes of `body`. */
async function partial(
  url: string,
  body: string,
  sent: number,
  framing: 'length' | 'chunked' = 'length',
): Promise<{ socket: Socket; finish(): Promise<string> }> {
  const { port } = new URL(url);
  const socket = connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  let answer = '';
  socket.setEncoding('utf8').on('data', (text: string) => (answer += text));
  socket.on('error', () => {});
  const length =
    framing === 'length' ? `content-length: ${Buffer.byteLength(body)}` : 'transfer-encoding: chunked';
  socket.write(
    `POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-type: application/json\r\n${length}\r\nconnection: close\r\n\r\n`,
  );
  const chunk = (text: string) =>
    framing === 'length' ? text : `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
  socket.write(chunk(body.slice(0, sent)));
  return {
    socket,
    async finish() {
      socket.write(chunk(body.slice(sent)));
      if (framing === 'chunked') socket.write('0\r\n\r\n');
      if (!socket.closed) await once(socket, 'close');
      return answer;
    },
  };
}

async function post(
  url: string,
  body: string,
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  let resolve!: (answer: { status: number; headers: Record<string, unknown>; body: string }) => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<{ status: number; headers: Record<string, unknown>; body: string }>(
    (settle, fail) => {
      resolve = settle;
      reject = fail;
    },
  );
  const outgoing = httpRequest(
    `${url}/v1/chat/completions`,
    {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    },
    (response) => {
      let text = '';
      response.setEncoding('utf8').on('data', (part: string) => (text += part));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, headers: response.headers, body: text }),
      );
    },
  );
  // A refused request is answered before its body is sent; the rest of the upload may fail.
  outgoing.on('error', reject);
  outgoing.end(body);
  return promise;
}

const statusOf = (raw: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);

describe('the concurrency slot is taken before the body is read', () => {
  test('MAX_CONCURRENT_REQUESTS=1: a request still uploading holds the slot; the next is 503 at once', async () => {
    const gw = await gateway({ MAX_CONCURRENT_REQUESTS: '1' });
    const body = chatBody(4096);
    const uploading = await partial(gw.url, body, 100);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const refused = await post(gw.url, chatBody(200));
    assert.equal(refused.status, 503, refused.body);
    assert.equal(JSON.parse(refused.body).error.code, 'server_overloaded');
    assert.equal(refused.headers['retry-after'], '1');
    // The upload completes and is served; the slot is then free again.
    assert.equal(statusOf(await uploading.finish()), 200);
    assert.equal((await post(gw.url, chatBody(200))).status, 200);
  });
});

describe('MAX_BODY_MEMORY_MB: bytes of bodies held at once', () => {
  test('a declared body that would not fit beside the bytes held is a 503 body_memory_exhausted before it is read', async () => {
    const gw = await gateway({ BODY_LIMIT_MB: '1', MAX_BODY_MEMORY_MB: '1.5' });
    const big = chatBody(MIB);
    // 700 KB of the first body have arrived: another 1 MB body would pass 1.5 MB.
    const holding = await partial(gw.url, big, 700 * 1024);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const refused = await post(gw.url, big);
    assert.equal(refused.status, 503, refused.body);
    const error = JSON.parse(refused.body).error;
    assert.equal(error.code, 'body_memory_exhausted');
    assert.match(error.message, /MAX_BODY_MEMORY_MB/);
    assert.equal(refused.headers['retry-after'], '1');
    // A small body still fits beside the one being uploaded.
    assert.equal((await post(gw.url, chatBody(10_000))).status, 200);
    assert.equal(statusOf(await holding.finish()), 200);
    // Once answered, its bytes are given back: the same large body is now served.
    assert.equal((await post(gw.url, big)).status, 200);
  });

  test('bytes are held as they arrive: a client that declares a large body and sends nothing holds nothing', async () => {
    const gw = await gateway({ BODY_LIMIT_MB: '1', MAX_BODY_MEMORY_MB: '1' });
    const big = chatBody(MIB);
    // Two clients declare the largest body and stall: neither holds the budget.
    const stalled = await Promise.all([partial(gw.url, big, 0), partial(gw.url, big, 0)]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal((await post(gw.url, big)).status, 200);
    for (const client of stalled) client.socket.destroy();
  });

  test('a chunked body is counted as it arrives: past the cap, 503 body_memory_exhausted', async () => {
    const gw = await gateway({ BODY_LIMIT_MB: '1', MAX_BODY_MEMORY_MB: '1' });
    const holding = await partial(gw.url, chatBody(MIB - 1000), 700 * 1024);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = await partial(gw.url, chatBody(600 * 1024), 600 * 1024 - 10, 'chunked');
    const answer = await second.finish();
    assert.equal(statusOf(answer), 503, answer.slice(0, 400));
    assert.match(answer, /"code":"body_memory_exhausted"/);
    assert.equal(statusOf(await holding.finish()), 200);
    // Chunked bodies that fit are served as before.
    const fits = await partial(gw.url, chatBody(300 * 1024), 1000, 'chunked');
    assert.equal(statusOf(await fits.finish()), 200);
  });

  test('MAX_BODY_MEMORY_MB below BODY_LIMIT_MB is refused at start', async () => {
    await assert.rejects(
      gateway({ BODY_LIMIT_MB: '10', MAX_BODY_MEMORY_MB: '5' }),
      /MAX_BODY_MEMORY_MB must be at least BODY_LIMIT_MB/,
    );
  });
});

describe('memory of a real gateway process under concurrent large bodies', () => {
  test('10 concurrent 10 MB bodies with a 10 MB cap: one read at a time, the rest 503, peak RSS as for one', async () => {
    const child = spawn(
      process.execPath,
      ['--max-semi-space-size=16', '--max-old-space-size=512', 'src/process/cli.ts'],
      {
        env: {
          ...process.env,
          PORT: '0',
          HOST: '127.0.0.1',
          LOG_LEVEL: 'info',
          BODY_LIMIT_MB: '10',
          MAX_BODY_MEMORY_MB: '10',
        },
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    closers.push(async () => {
      if (child.exitCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    });
    let output = '';
    child.stdout.setEncoding('utf8');
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (text: string) => {
        output += text;
        const match = /"url":"(http:\/\/[^"]+)"/.exec(output);
        if (match) resolve(match[1]!);
      });
      child.once('exit', (code) => reject(new Error(`the gateway exited (${code}): ${output}`)));
    });
    /** The process's peak resident memory so far (VmHWM), MB. */
    const peakMb = () =>
      Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]) / 1024;
    const body = chatBody(10 * MIB - 100);
    // What one body costs (the built-in simulator, in the same process, reads it too).
    assert.equal((await post(url, body)).status, 200);
    const afterOne = peakMb();
    const answers = await Promise.allSettled(Array.from({ length: 10 }, () => post(url, body)));
    const statuses = answers.map((answer) => (answer.status === 'fulfilled' ? answer.value.status : 0));
    const refused = answers.filter(
      (answer) =>
        answer.status === 'fulfilled' &&
        answer.value.status === 503 &&
        JSON.parse(answer.value.body).error.code === 'body_memory_exhausted',
    );
    assert.ok(refused.length >= 5, `statuses: ${statuses.join(', ')}`);
    assert.ok(
      statuses.every((status) => status === 200 || status === 503),
      `statuses: ${statuses.join(', ')}`,
    );
    const afterTen = peakMb();
    // At most 10 MB of bodies are held at once: ten at once cost about what one did, give or take
    // socket buffers and the garbage of refused partial bodies not yet collected (the old code,
    // reading all ten, rose by ~430 MB here; a busy machine collects later, hence the margin).
    assert.ok(
      afterTen - afterOne < 150,
      `peak RSS ${afterOne.toFixed(0)} MB after one body, ${afterTen.toFixed(0)} MB after ten`,
    );
    assert.equal((await post(url, chatBody(1000))).status, 200);
    assert.equal(child.exitCode, null);
  });
});
