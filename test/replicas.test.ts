// Three gateway processes behind nginx on loopback, one redis-server, each gateway on its built-in
// simulator: a per-key RPM limit holds across the replicas, a Responses conversation continues on
// any replica, killing a replica under load loses only requests that were in flight on it, and
// stopping Redis applies REDIS_FAILURE_POLICY (open, the default: served, a loud warning and a
// metric). Everything is started here, in temporary directories, and stopped at the end. Needs
// redis-server and nginx (Debian packages; .ci/run installs them): skipped without them on a
// developer's machine, failed in CI.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  findBinary,
  freePort,
  type RedisServer,
  skipWithout,
  startProcess,
  startRedis,
} from './helpers/services.ts';

const CLI = fileURLToPath(new URL('../src/process/cli.ts', import.meta.url));
const MODEL = 'ibm/granite-4-h-small';
/** The RPM limit of `key-rpm`, for all replicas together. */
const RPM = 300;
const KEYS = { rpm: 'key-rpm', load: 'key-load', conversation: 'key-conversation' };

type Started = Awaited<ReturnType<typeof startProcess>>;
interface Replica {
  port: number;
  url: string;
  process: Started;
}

async function startReplica(redis: RedisServer): Promise<Replica> {
  const port = await freePort();
  const process_ = await startProcess(process.execPath, [CLI], /watsonx-openai-proxy listening/, {
    cwd: mkdtempSync(join(tmpdir(), 'wxo-replica-')),
    env: {
      PATH: process.env.PATH,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'info',
      REDIS_URL: redis.url,
      // Generous: on a loaded machine a slow answer must not switch a replica to its own counts
      // (REDIS_TIMEOUT itself is tested in test/redis-limits.test.ts).
      REDIS_TIMEOUT: '3',
      API_KEY: Object.values(KEYS).join(','),
      RATE_LIMITS: `${KEYS.rpm}:${RPM}:0,${KEYS.load}:1000000:0`,
    },
  });
  return { port, url: `http://127.0.0.1:${port}`, process: process_ };
}

/** nginx in front of the replicas: round robin, a refused connection tried on the next one. */
async function startNginx(replicas: Replica[]): Promise<{ url: string; process: Started }> {
  const binary = findBinary('nginx');
  if (!binary) throw new Error('nginx is not installed (apt-get install -y nginx)');
  const prefix = mkdtempSync(join(tmpdir(), 'wxo-nginx-'));
  mkdirSync(join(prefix, 'tmp'));
  const port = await freePort();
  const config = `
${process.getuid?.() === 0 ? 'user root;' : ''}
worker_processes 1;
daemon off;
master_process on;
pid ${prefix}/nginx.pid;
error_log stderr notice;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path ${prefix}/tmp/body;
  proxy_temp_path ${prefix}/tmp/proxy;
  fastcgi_temp_path ${prefix}/tmp/fastcgi;
  uwsgi_temp_path ${prefix}/tmp/uwsgi;
  scgi_temp_path ${prefix}/tmp/scgi;
  upstream gateways {
${replicas.map((replica) => `    server 127.0.0.1:${replica.port} max_fails=1 fail_timeout=5s;`).join('\n')}
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://gateways;
      proxy_http_version 1.1;
      # A refused connection (a replica that is gone) is tried on the next replica. POSTs already
      # sent to a replica are not sent again (they may have been served).
      proxy_next_upstream error timeout;
      proxy_next_upstream_tries 3;
      proxy_buffering off;
      add_header x-upstream $upstream_addr always;
    }
  }
}
`;
  writeFileSync(join(prefix, 'nginx.conf'), config);
  const started = await startProcess(
    binary,
    ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', 'stderr'],
    /start worker process/,
  );
  return { url: `http://127.0.0.1:${port}`, process: started };
}

interface Outcome {
  status: number;
  upstream: string;
  code?: string;
  startedAt: number;
  endedAt: number;
}

async function chat(baseUrl: string, key: string, content = 'Hello'): Promise<Outcome> {
  const startedAt = performance.now();
  try {
    const response = await fetch(`${baseUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content }], max_tokens: 5 }),
    });
    const body = (await response.json().catch(() => ({}))) as { error?: { code?: string } };
    return {
      status: response.status,
      upstream: response.headers.get('x-upstream') ?? '',
      code: body.error?.code,
      startedAt,
      endedAt: performance.now(),
    };
  } catch {
    return { status: 0, upstream: '', startedAt, endedAt: performance.now() };
  }
}

/** `count` requests from `concurrency` clients at once (or until `until` says stop). */
async function load(
  send: () => Promise<Outcome>,
  options: { concurrency: number; count?: number; until?: () => boolean },
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  let sent = 0;
  const more = () => (options.count !== undefined ? sent < options.count : !options.until?.());
  await Promise.all(
    Array.from({ length: options.concurrency }, async () => {
      while (more()) {
        sent++;
        outcomes.push(await send());
      }
    }),
  );
  return outcomes;
}

async function post(url: string, path: string, key: string, body: object) {
  const response = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

test(
  'three replicas behind nginx share one Redis: limits, conversations, a replica killed, Redis stopped',
  { skip: skipWithout('redis-server', 'nginx'), timeout: 90_000 },
  async () => {
    let redis: RedisServer | undefined;
    const replicas: Replica[] = [];
    let nginx: { url: string; process: Started } | undefined;
    try {
      redis = await startRedis();
      const server = redis;
      replicas.push(...(await Promise.all([0, 1, 2].map(() => startReplica(server)))));
      nginx = await startNginx(replicas);
      const front = nginx.url;

      // 1. One RPM budget for all replicas: of 1.3 × RPM requests, RPM are served (within 5 %).
      const outcomes = await load(() => chat(front, KEYS.rpm), {
        concurrency: 12,
        count: Math.round(RPM * 1.3),
      });
      const served = outcomes.filter((outcome) => outcome.status === 200);
      const limited = outcomes.filter((outcome) => outcome.status === 429);
      const statuses: Record<string, number> = {};
      for (const outcome of outcomes) {
        const name = `${outcome.status} ${outcome.code ?? ''}`.trim();
        statuses[name] = (statuses[name] ?? 0) + 1;
      }
      assert.equal(
        served.length + limited.length,
        outcomes.length,
        `only 200s and 429s: ${JSON.stringify(statuses)}`,
      );
      assert.ok(
        Math.abs(served.length - RPM) <= RPM * 0.05,
        `served ${served.length} of a ${RPM} RPM limit across three replicas`,
      );
      for (const outcome of limited) assert.equal(outcome.code, 'rate_limit_exceeded');
      for (const replica of replicas) {
        const metrics = await (await fetch(`${replica.url}/metrics`)).text();
        assert.doesNotMatch(metrics, /gateway_redis_failures_total\{[^}]*\} [1-9]/, 'no Redis call failed');
      }
      const servedBy = new Set(served.map((outcome) => outcome.upstream));
      assert.equal(servedBy.size, 3, `every replica served some: ${[...servedBy].join(', ')}`);
      process.stdout.write(
        `# replicas: ${served.length} of ${outcomes.length} requests served under RPM ${RPM} ` +
          `(${((served.length / RPM - 1) * 100).toFixed(2)} % off)\n`,
      );

      // 2. A Responses conversation started on one replica continues on the others.
      const [one, two, three] = replicas as [Replica, Replica, Replica];
      const first = await post(one.url, '/v1/responses', KEYS.conversation, {
        model: MODEL,
        input: 'my name is Ada',
      });
      assert.equal(first.status, 200);
      const second = await post(two.url, '/v1/responses', KEYS.conversation, {
        model: MODEL,
        input: 'what is my name?',
        previous_response_id: first.body.id,
      });
      assert.equal(second.status, 200, JSON.stringify(second.body));
      const read = await fetch(`${three.url}/v1/responses/${String(second.body.id)}`, {
        headers: { authorization: `Bearer ${KEYS.conversation}` },
      });
      assert.equal(read.status, 200);
      let previous = second.body.id;
      for (let turn = 0; turn < 3; turn++) {
        const next = await post(front, '/v1/responses', KEYS.conversation, {
          model: MODEL,
          input: `turn ${turn}`,
          previous_response_id: previous,
        });
        assert.equal(next.status, 200, JSON.stringify(next.body));
        previous = next.body.id;
      }

      // 3. One replica killed under load: only requests in flight on it may fail.
      const victim = replicas[1]!;
      let stop = false;
      let diedAt = Infinity;
      const running = load(() => chat(front, KEYS.load, 'slow [[sim:stall=100]]'), {
        concurrency: 12,
        until: () => stop,
      });
      await new Promise((resolve) => setTimeout(resolve, 800));
      const exited = new Promise<void>((resolve) => victim.process.child.once('exit', () => resolve()));
      victim.process.child.kill('SIGKILL');
      await exited;
      diedAt = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      stop = true;
      const underKill = await running;
      const failed = underKill.filter((outcome) => outcome.status !== 200);
      const afterDeath = underKill.filter((outcome) => outcome.startedAt > diedAt);
      assert.ok(afterDeath.length > 20, `requests after the kill: ${afterDeath.length}`);
      for (const outcome of afterDeath) assert.equal(outcome.status, 200, 'sent after the replica died');
      const inFlight = underKill.filter(
        (outcome) => outcome.startedAt <= diedAt && outcome.endedAt >= diedAt,
      );
      assert.ok(failed.length <= inFlight.length, `${failed.length} failed, ${inFlight.length} in flight`);
      for (const outcome of failed) {
        assert.ok(outcome.startedAt <= diedAt, 'a failed request was in flight when the replica died');
        assert.ok(outcome.upstream.includes(`:${victim.port}`), `failed on ${outcome.upstream}`);
      }
      process.stdout.write(
        `# replicas: killed one under load: ${underKill.length} requests, ${failed.length} failed ` +
          `(of ${inFlight.length} in flight at the kill), ${afterDeath.length} sent after it, all served\n`,
      );

      // 4. Redis stopped: REDIS_FAILURE_POLICY=open serves, warns once and counts.
      await redis.stop();
      const withoutRedis = await load(() => chat(front, KEYS.load), { concurrency: 4, count: 20 });
      for (const outcome of withoutRedis) assert.equal(outcome.status, 200);
      const metrics = await (await fetch(`${one.url}/metrics`)).text();
      const failures = /gateway_redis_failures_total\{use="rate_limit"\} (\d+)/.exec(metrics);
      assert.ok(failures && Number(failures[1]) > 0, 'gateway_redis_failures_total counts the outage');
      const survivors = replicas.filter((replica) => replica !== victim);
      const warned = () =>
        survivors.filter((replica) =>
          replica.process.output().includes('*** Redis (REDIS_URL) is unreachable'),
        );
      // The warning may come from the connection's own error, a moment after the calls that failed.
      for (let attempt = 0; warned().length < survivors.length && attempt < 30; attempt++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(warned().length, 2, 'both surviving replicas warn');
      assert.match(one.process.output(), /REDIS_FAILURE_POLICY=open/);
      // Stored conversations cannot be read meanwhile: a 503 saying so, not a 404.
      const unreadable = await fetch(`${three.url}/v1/responses/${String(previous)}`, {
        headers: { authorization: `Bearer ${KEYS.conversation}` },
      });
      assert.equal(unreadable.status, 503);
    } finally {
      await nginx?.process.stop('SIGTERM');
      await Promise.all(replicas.map((replica) => replica.process.stop('SIGTERM')));
      await redis?.stop();
    }
  },
);
