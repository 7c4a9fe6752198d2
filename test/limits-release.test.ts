// The concurrency slot and the body bytes a request holds (src/server/limits.ts) are always given
// back, however the request ends: many requests failing in every way a client can make them fail,
// then a request needing the whole body budget beside one holding the last free slot is served.
// Also when the slot is taken after an asynchronous rate-limit decision (Redis) that outlives the
// client. Real sockets: the point is what happens mid-upload and after a hang-up. Last, the
// per-key rate windows of one process are forgotten once they ended (keys are not a bounded set).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { MemoryRateLimiter, WINDOW_MS } from '../src/server/rate-limit.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const MODEL = 'ibm/granite-4-h-small';
const MIB = 1024 * 1024;
const KEY = 'key-a';

const closers: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const close of closers.reverse()) await close();
});

async function gateway(env: Record<string, string>): Promise<TestGateway> {
  const started = await startTestGateway({ listen: true, env });
  closers.push(() => started.close());
  return started;
}

function chatBody(bytes: number): string {
  const head = `{"model":"${MODEL}","max_tokens":5,"messages":[{"role":"user","content":"`;
  const tail = '"}]}';
  return head + 'a'.repeat(bytes - head.length - tail.length) + tail;
}

/** Sends `head` (and `body`) on a raw socket; `then`: read the answer, or hang up after `ms`. */
async function raw(
  url: string,
  head: string,
  body: string | Buffer,
  then: { read: true } | { hangUpAfterMs: number },
): Promise<string> {
  const socket: Socket = connect(Number(new URL(url).port), '127.0.0.1');
  await once(socket, 'connect');
  let answer = '';
  socket.setEncoding('utf8').on('data', (text: string) => (answer += text));
  socket.on('error', () => {});
  socket.write(head);
  if (body.length > 0) socket.write(body);
  if ('hangUpAfterMs' in then) {
    await new Promise((resolve) => setTimeout(resolve, then.hangUpAfterMs));
    socket.destroy();
    return '';
  }
  if (!socket.closed) await once(socket, 'close');
  return answer;
}

function head(extra: string, key = KEY): string {
  return `POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nauthorization: Bearer ${key}\r\nconnection: close\r\n${extra}\r\n`;
}

const statusOf = (answer: string) => Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1]);
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One request holding a slot (headers of a chunked body sent, no byte of it), and a full-budget body beside it. */
async function fullBudgetBesideOneSlot(gw: TestGateway): Promise<void> {
  const holder = connect(Number(new URL(gw.url).port), '127.0.0.1');
  await once(holder, 'connect');
  holder.on('error', () => {});
  holder.write(head('content-type: application/json\r\ntransfer-encoding: chunked\r\n'));
  await pause(100);
  try {
    const body = chatBody(MIB);
    const answer = await raw(
      gw.url,
      head(`content-type: application/json\r\ncontent-length: ${body.length}\r\n`),
      body,
      { read: true },
    );
    assert.equal(statusOf(answer), 200, answer.slice(0, 400));
  } finally {
    holder.destroy();
  }
}

describe('slots and body bytes are given back whatever ends the request', () => {
  test('30 rounds of 413, 400, 415, 401, hang-ups mid-upload, broken chunking and 503s, then the full budget', async () => {
    const gw = await gateway({
      API_KEY: KEY,
      BODY_LIMIT_MB: '1',
      MAX_BODY_MEMORY_MB: '1',
      MAX_CONCURRENT_REQUESTS: '2',
      // A budget no round can spend: the limits' asynchronous admission runs on every request.
      RATE_LIMIT_RPM: '100000',
    });
    const json = 'content-type: application/json\r\n';
    const chunked = `${json}transfer-encoding: chunked\r\n`;
    const seen = new Map<string, number>();
    const expect = (kind: string, answer: string, status: number) => {
      assert.equal(statusOf(answer), status, `${kind}: ${answer.slice(0, 300)}`);
      seen.set(kind, (seen.get(kind) ?? 0) + 1);
    };
    const half = chatBody(600 * 1024);
    for (let round = 0; round < 30; round++) {
      // Declared past BODY_LIMIT_MB: 413 before it is read.
      expect(
        '413',
        await raw(gw.url, head(`${json}content-length: ${2 * MIB}\r\n`), '', { read: true }),
        413,
      );
      // Not JSON, and JSON the schema refuses.
      expect(
        '400 json',
        await raw(gw.url, head(`${json}content-length: 9\r\n`), '{"model":', { read: true }),
        400,
      );
      expect(
        '400 schema',
        await raw(gw.url, head(`${json}content-length: 2\r\n`), '{}', { read: true }),
        400,
      );
      // Not JSON at all.
      expect(
        '415',
        await raw(gw.url, head('content-type: text/plain\r\ncontent-length: 5\r\n'), 'hello', { read: true }),
        415,
      );
      // A wrong gateway key: refused before any limit is taken.
      expect(
        '401',
        await raw(gw.url, head(`${json}content-length: 2\r\n`, 'wrong'), '{}', { read: true }),
        401,
      );
      // Hang-ups mid-upload, declared and chunked.
      await raw(gw.url, head(`${json}content-length: ${MIB}\r\n`), half, { hangUpAfterMs: 20 });
      await raw(gw.url, head(chunked), `${(100_000).toString(16)}\r\n${'a'.repeat(50_000)}`, {
        hangUpAfterMs: 20,
      });
      // Broken chunk framing: the body stream fails.
      expect('400 chunking', await raw(gw.url, head(chunked), 'zz\r\nabc\r\n', { read: true }), 400);
      // A chunked body past MAX_BODY_MEMORY_MB (and BODY_LIMIT_MB): refused as it passes.
      const over = chatBody(MIB + 1000);
      const refused = await raw(
        gw.url,
        head(chunked),
        `${over.length.toString(16)}\r\n${over}\r\n0\r\n\r\n`,
        {
          read: true,
        },
      );
      expect('chunked too large', refused, statusOf(refused) === 503 ? 503 : 413);
    }
    assert.equal(seen.size, 7);
    await pause(200);
    await fullBudgetBesideOneSlot(gw);
  });
});

describe('a chunked body that goes on after its 413', () => {
  test('what arrives after the 413 is not counted for good', async () => {
    const gw = await gateway({ API_KEY: KEY, BODY_LIMIT_MB: '1', MAX_BODY_MEMORY_MB: '1.5' });
    // Another request holds 0.5 MB less 8 kB: the budget has room for one whole body and 8 kB.
    const holder = connect(Number(new URL(gw.url).port), '127.0.0.1');
    await once(holder, 'connect');
    holder.on('error', () => {});
    holder.write(head(`content-type: application/json\r\ncontent-length: ${MIB / 2 - 8192}\r\n`));
    await pause(100);
    try {
      for (let round = 0; round < 5; round++) {
        // 3 MB in 4 kB chunks at once: Fastify answers 413 past 1 MB; the rest still arrives, and
        // Node reads it (and drops it) once the answer is sent.
        const chunk = `${(4096).toString(16)}\r\n${'a'.repeat(4096)}\r\n`;
        const answer = await raw(
          gw.url,
          head('content-type: application/json\r\ntransfer-encoding: chunked\r\n'),
          chunk.repeat(768),
          { read: true },
        );
        assert.ok([413, 503].includes(statusOf(answer)), answer.slice(0, 300));
      }
    } finally {
      holder.destroy();
    }
    await pause(200);
    await fullBudgetBesideOneSlot(gw);
  });
});

/**
 * A Redis that completes ioredis's handshake and then never answers: every rate-limit call waits
 * REDIS_TIMEOUT.
 */
async function silentRedis(): Promise<{ url: string; close(): void }> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    let handshake = true;
    socket.on('error', () => {});
    socket.on('data', (data: Buffer) => {
      if (!handshake) return;
      for (const [, name] of data.toString('latin1').matchAll(/\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n/g)) {
        const command = name!.toLowerCase();
        if (command === 'info') {
          const info = '# Server\r\nredis_version:7.0.0\r\nloading:0\r\n';
          socket.write(`$${info.length}\r\n${info}\r\n`);
          handshake = false;
        } else if (command === 'hello') socket.write("-ERR unknown command 'hello'\r\n");
        else socket.write('+OK\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `redis://127.0.0.1:${(server.address() as { port: number }).port}`,
    close() {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}

describe('a client that leaves while its rate limit is decided in Redis', () => {
  test('takes no slot and no body bytes for good', async () => {
    const redis = await silentRedis();
    closers.push(async () => redis.close());
    const gw = await gateway({
      API_KEY: KEY,
      BODY_LIMIT_MB: '1',
      MAX_BODY_MEMORY_MB: '1',
      MAX_CONCURRENT_REQUESTS: '2',
      RATE_LIMIT_RPM: '100000',
      REDIS_URL: redis.url,
      REDIS_TIMEOUT: '0.5',
    });
    // Two clients declare a body and hang up while the gateway waits for Redis (then fails open).
    for (let index = 0; index < 2; index++) {
      await raw(gw.url, head(`content-type: application/json\r\ncontent-length: ${MIB / 2}\r\n`), '', {
        hangUpAfterMs: 50,
      });
    }
    // Redis timed out for them; the gateway leaves it alone for a second (policy open: counted here).
    await pause(700);
    await fullBudgetBesideOneSlot(gw);
  });
});

describe('the per-key windows of one process', () => {
  test('keys not seen for a window are forgotten (made-up per-user credentials are keys too)', async () => {
    let now = 0;
    const limiter = new MemoryRateLimiter(
      { requestsPerMinute: 10, tokensPerMinute: 0 },
      new Map(),
      () => now,
    );
    for (let minute = 0; minute < 5; minute++) {
      for (let index = 0; index < 1000; index++) limiter.takeNow(`user:${minute}-${index}`);
      now += WINDOW_MS;
    }
    assert.ok(limiter.size <= 2000, `${limiter.size} windows held for 5000 keys, 1000 a minute`);
    // A key still in its window keeps its count.
    for (let index = 0; index < 10; index++) limiter.takeNow('steady');
    now += WINDOW_MS / 2;
    for (let index = 0; index < 1000; index++) limiter.takeNow(`late-${index}`);
    assert.equal(limiter.takeNow('steady').exceeded, 'requests');
  });
});
