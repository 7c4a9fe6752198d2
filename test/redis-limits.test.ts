// Per-key limits shared through Redis (REDIS_URL): two gateways on one redis-server spend one
// budget, headers included; keys are stored as digests; when Redis cannot be reached the
// REDIS_FAILURE_POLICY applies (open: served, counted per process, logged and counted; closed: 503)
// and no request waits longer than REDIS_TIMEOUT, also when Redis accepts the connection and then
// says nothing. A real redis-server (test/helpers/services.ts).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createServer, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { ConfigError, parseConfig } from '../src/process/config.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';
import { freePort, type RedisServer, skipWithout, startRedis } from './helpers/services.ts';

const hello = { model: 'ibm/granite-4-h-small', messages: [{ role: 'user', content: 'Hello' }] };

function chat(gateway: TestGateway, key: string) {
  return gateway.inject({
    method: 'POST',
    url: '/v1/chat/completions',
    headers: { authorization: `Bearer ${key}` },
    payload: hello,
  });
}

/** A pino destination that keeps the lines, to read the gateway's warnings. */
function logCapture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(String(chunk));
      callback();
    },
  });
  return { lines, logger: { level: 'info', stream } };
}

async function withGateways<T>(
  count: number,
  env: Record<string, string>,
  run: (gateways: TestGateway[]) => Promise<T>,
  logger?: object,
): Promise<T> {
  const gateways: TestGateway[] = [];
  try {
    for (let index = 0; index < count; index++) {
      gateways.push(await startTestGateway({ env, ...(logger && { logger }) }));
    }
    return await run(gateways);
  } finally {
    for (const gateway of gateways) await gateway.close();
  }
}

describe('rate limits in Redis', { skip: skipWithout('redis-server') }, () => {
  let redis: RedisServer;
  let client: Redis;
  // Every test its own key prefix: the counts of one never meet another's.
  let prefixes = 0;
  const env = (extra: Record<string, string>) => ({
    REDIS_URL: redis.url,
    REDIS_KEY_PREFIX: `test${++prefixes}:`,
    API_KEY: 'key-a,key-b',
    ...extra,
  });

  before(async () => {
    redis = await startRedis();
    client = new Redis(redis.url);
  });
  after(async () => {
    client?.disconnect();
    await redis?.stop();
  });

  test('two gateways spend one RPM budget; the headers count down across both', async () => {
    await withGateways(2, env({ RATE_LIMIT_RPM: '4' }), async ([a, b]) => {
      const remaining: string[] = [];
      for (const gateway of [a!, b!, a!, b!]) {
        const answer = await chat(gateway, 'key-a');
        assert.equal(answer.statusCode, 200);
        assert.equal(answer.headers['x-ratelimit-limit-requests'], '4');
        assert.match(String(answer.headers['x-ratelimit-reset-requests']), /^([1-9]|[1-5]\d|60)s$/);
        remaining.push(String(answer.headers['x-ratelimit-remaining-requests']));
      }
      assert.deepEqual(remaining, ['3', '2', '1', '0']);
      for (const gateway of [a!, b!]) {
        const limited = await chat(gateway, 'key-a');
        assert.equal(limited.statusCode, 429);
        assert.equal(limited.json().error.type, 'requests');
        assert.equal(limited.json().error.code, 'rate_limit_exceeded');
        assert.ok(Number(limited.headers['retry-after']) >= 1);
      }
      // Another key has its own budget.
      assert.equal((await chat(b!, 'key-b')).statusCode, 200);
    });
  });

  test('the tokens one gateway counted refuse the next request on the other (429 tokens)', async () => {
    await withGateways(2, env({ RATE_LIMIT_TPM: '10' }), async ([a, b]) => {
      const first = await chat(a!, 'key-a');
      assert.equal(first.statusCode, 200);
      assert.ok(first.json().usage.total_tokens > 10);
      // The tokens are added when the request is accounted for, just after the answer.
      let limited = await chat(b!, 'key-a');
      for (let attempt = 0; limited.statusCode === 200 && attempt < 20; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        limited = await chat(b!, 'key-a');
      }
      assert.equal(limited.statusCode, 429);
      assert.equal(limited.json().error.type, 'tokens');
      assert.equal(limited.headers['x-ratelimit-remaining-tokens'], '0');
      assert.equal(limited.headers['x-ratelimit-limit-tokens'], '10');
    });
  });

  test("a gateway's own tokens go with its next request (refused at once); the rest reach Redis without another request", async () => {
    const settings = env({ RATE_LIMIT_TPM: '10' });
    let used = 0;
    await withGateways(1, settings, async ([a]) => {
      const first = await chat(a!, 'key-a');
      used = first.json().usage.total_tokens;
      const limited = await chat(a!, 'key-a');
      assert.equal(limited.statusCode, 429);
      assert.equal(limited.json().error.type, 'tokens');
      // A refused request had no answer to count; this one's tokens are held, then sent (timer or close).
      assert.equal((await chat(a!, 'key-b')).statusCode, 200);
    });
    const counts = await Promise.all(
      (await client.keys(`${settings.REDIS_KEY_PREFIX}tpm:*`)).map(async (key) =>
        Number(await client.get(key)),
      ),
    );
    assert.deepEqual(
      counts.sort((x, y) => x - y),
      [used, used].sort((x, y) => x - y),
    );
  });

  test('Redis holds digests of the gateway keys, never the keys, and each window expires', async () => {
    const settings = env({ API_KEY: 'secret-gateway-key', RATE_LIMIT_RPM: '10', RATE_LIMIT_TPM: '1000' });
    await withGateways(1, settings, async ([a]) => {
      assert.equal((await chat(a!, 'secret-gateway-key')).statusCode, 200);
      await new Promise((resolve) => setTimeout(resolve, 100));
      const keys = await client.keys(`${settings.REDIS_KEY_PREFIX}*`);
      assert.equal(keys.length, 2, keys.join(', '));
      for (const key of keys) {
        assert.doesNotMatch(key, /secret-gateway-key/);
        assert.match(key, /^test\d+:(rpm|tpm):[A-Za-z0-9_-]{43}$/);
        const ttl = await client.pttl(key);
        assert.ok(ttl > 55_000 && ttl <= 60_000, `${key}: ttl ${ttl}`);
      }
    });
  });

  test('Redis stopped and started again: per process meanwhile, shared again after, both logged', async () => {
    const own = await startRedis();
    const capture = logCapture();
    try {
      const settings = {
        REDIS_URL: own.url,
        API_KEY: 'key-a',
        RATE_LIMIT_RPM: '3',
      };
      await withGateways(
        1,
        settings,
        async ([a]) => {
          assert.equal((await chat(a!, 'key-a')).headers['x-ratelimit-remaining-requests'], '2');
          await own.stop();
          // Meanwhile the process counts from its own, fresh window.
          const during = await chat(a!, 'key-a');
          assert.equal(during.statusCode, 200);
          assert.equal(during.headers['x-ratelimit-remaining-requests'], '2');
          const again = await startRedis(own.port);
          const inspector = new Redis(again.url);
          try {
            // ioredis reconnects within its back-off (at most 2 s); Redis starts empty: a new window.
            let counted: string[] = [];
            for (let attempt = 0; attempt < 50 && counted.length === 0; attempt++) {
              await new Promise((resolve) => setTimeout(resolve, 100));
              assert.equal((await chat(a!, 'key-a')).statusCode, 200);
              counted = await inspector.keys('wxo:rpm:*');
            }
            assert.equal(counted.length, 1, 'counted in Redis again');
            const logged = capture.lines.join('');
            assert.match(logged, /\*\*\* Redis \(REDIS_URL\) is unreachable/);
            assert.match(logged, /Redis is reachable again/);
          } finally {
            inspector.disconnect();
            await again.stop();
          }
        },
        capture.logger,
      );
    } finally {
      await own.stop();
    }
  });

  test('without any budget the gateway never calls Redis for limits', async () => {
    const settings = env({});
    await withGateways(1, settings, async ([a]) => {
      assert.equal((await chat(a!, 'key-a')).statusCode, 200);
      assert.deepEqual(await client.keys(`${settings.REDIS_KEY_PREFIX}*`), []);
    });
  });
});

describe('Redis unreachable', () => {
  test('policy open (the default): served, counted in the process meanwhile, a loud warning and a metric', async () => {
    const closed = await freePort();
    const capture = logCapture();
    await withGateways(
      1,
      { REDIS_URL: `redis://127.0.0.1:${closed}`, API_KEY: 'key-a', RATE_LIMIT_RPM: '2' },
      async ([a]) => {
        const first = await chat(a!, 'key-a');
        assert.equal(first.statusCode, 200);
        assert.equal(first.headers['x-ratelimit-remaining-requests'], '1');
        assert.equal((await chat(a!, 'key-a')).statusCode, 200);
        // The process's own count still holds the configured limit.
        assert.equal((await chat(a!, 'key-a')).statusCode, 429);
        const metrics = await a!.inject({ method: 'GET', url: '/metrics' });
        assert.match(metrics.body, /gateway_redis_failures_total\{use="rate_limit"\} 3/);
        const warnings = capture.lines.filter((line) =>
          line.includes('*** Redis (REDIS_URL) is unreachable'),
        );
        assert.equal(warnings.length, 1, 'logged once per outage');
        assert.match(warnings[0]!, /REDIS_FAILURE_POLICY=open/);
      },
      capture.logger,
    );
  });

  test('policy closed: 503 rate_limit_unavailable with Retry-After; routes without a key are unaffected', async () => {
    const closed = await freePort();
    await withGateways(
      1,
      {
        REDIS_URL: `redis://127.0.0.1:${closed}`,
        REDIS_FAILURE_POLICY: 'closed',
        API_KEY: 'key-a',
        RATE_LIMIT_RPM: '100',
      },
      async ([a]) => {
        const refused = await chat(a!, 'key-a');
        assert.equal(refused.statusCode, 503);
        assert.equal(refused.json().error.code, 'rate_limit_unavailable');
        assert.equal(refused.headers['retry-after'], '1');
        assert.equal((await a!.inject({ method: 'GET', url: '/health' })).statusCode, 200);
      },
    );
  });

  test('a Redis that accepts and then never answers costs one REDIS_TIMEOUT, then is left alone for a second', async () => {
    // Answers ioredis's handshake (HELLO refused, so RESP2; CLIENT SETINFO; the INFO of its ready
    // check), then reads and says nothing.
    const sockets = new Set<Socket>();
    let received = '';
    let handshake = true;
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('data', (data: Buffer) => {
        received += data.toString('latin1');
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
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as { port: number }).port;
    try {
      await withGateways(
        1,
        {
          REDIS_URL: `redis://127.0.0.1:${port}`,
          REDIS_TIMEOUT: '0.3',
          API_KEY: 'key-a',
          RATE_LIMIT_RPM: '100',
        },
        async ([a]) => {
          const started = performance.now();
          const first = await chat(a!, 'key-a');
          // Not a speed check: without the timeout this request would wait forever.
          assert.ok(performance.now() - started >= 250, 'the first request waited for Redis');
          assert.equal(first.statusCode, 200);
          assert.equal(first.headers['x-ratelimit-remaining-requests'], '99');
          const calls = received.split('wxo:rpm:').length;
          assert.ok(calls > 1, 'the rate-limit call reached the silent Redis');
          assert.equal((await chat(a!, 'key-a')).statusCode, 200);
          assert.equal(received.split('wxo:rpm:').length, calls, 'the next request did not call Redis');
        },
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  });
});

describe('WORKERS > 1', () => {
  const CLI = fileURLToPath(new URL('../src/process/cli.ts', import.meta.url));

  /** The supervisor's log lines up to and including the one after "started N workers". */
  async function supervisorLines(extra: Record<string, string>): Promise<string[]> {
    const child = spawn(process.execPath, [CLI], {
      cwd: mkdtempSync(join(tmpdir(), 'wxo-workers-redis-')),
      env: {
        PATH: process.env.PATH,
        WORKERS: '2',
        PORT: '0',
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        ...extra,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let output = '';
      return await new Promise<string[]>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no start line: ${output}`)), 20_000);
        child.stdout.on('data', (data: Buffer) => {
          output += data.toString();
          const lines = output.split('\n');
          const started = lines.findIndex((line) => line.includes('started 2 workers'));
          // The warning, when there is one, is the next line (a worker's line comes next otherwise).
          if (started >= 0 && lines.length > started + 2) {
            clearTimeout(timer);
            resolve(lines.slice(0, started + 2));
          }
        });
      });
    } finally {
      child.kill('SIGTERM');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }

  test('without REDIS_URL the supervisor warns that the limits are per process; with it, not', async () => {
    const without = await supervisorLines({});
    const warning = without.find((line) => line.includes('without REDIS_URL'));
    assert.ok(warning, without.join('\n'));
    assert.equal(JSON.parse(warning).level, 40);
    assert.match(warning, /rate limits are per process/);
    const withRedis = await supervisorLines({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    assert.equal(
      withRedis.some((line) => line.includes('without REDIS_URL')),
      false,
    );
  });
});

describe('configuration', () => {
  test('REDIS_URL is optional; its settings have defaults', () => {
    assert.equal(parseConfig({}).redis, undefined);
    assert.deepEqual(parseConfig({ REDIS_URL: 'rediss://:pw@redis.example.com:6380/2' }).redis, {
      url: 'rediss://:pw@redis.example.com:6380/2',
      failurePolicy: 'open',
      timeoutMs: 500,
      keyPrefix: 'wxo:',
    });
    const custom = parseConfig({
      REDIS_URL: 'redis://redis:6379',
      REDIS_FAILURE_POLICY: 'CLOSED',
      REDIS_TIMEOUT: '0.25',
      REDIS_KEY_PREFIX: 'team-a:',
    }).redis;
    assert.equal(custom?.failurePolicy, 'closed');
    assert.equal(custom?.timeoutMs, 250);
    assert.equal(custom?.keyPrefix, 'team-a:');
  });

  test('a bad URL, policy or timeout is reported without echoing the URL (it may hold a password)', () => {
    let error: unknown;
    try {
      parseConfig({
        REDIS_URL: 'http://user:hunter2@redis:6379',
        REDIS_FAILURE_POLICY: 'maybe',
        REDIS_TIMEOUT: '-1',
      });
    } catch (caught) {
      error = caught;
    }
    assert.ok(error instanceof ConfigError);
    assert.equal(error.problems.length, 3, error.message);
    assert.match(error.message, /REDIS_URL must be a redis:\/\/ or rediss:\/\/ URL/);
    assert.match(error.message, /REDIS_FAILURE_POLICY must be open or closed/);
    assert.match(error.message, /REDIS_TIMEOUT must be a positive number/);
    assert.doesNotMatch(error.message, /hunter2/);
  });
});
