// Corporate networks, through the gateway's HTTP: a forward proxy on loopback (absolute-form
// requests for http:// upstreams, CONNECT tunnels for https:// ones) that must see the watsonx and
// IAM calls, NO_PROXY bypassing it, proxy credentials never shown; a TLS upstream with a CA made in
// the test: refused without the CA (502 naming the certificate problem), served with
// UPSTREAM_CA_FILE, served with UPSTREAM_TLS_VERIFY=false; NODE_EXTRA_CA_CERTS still trusted.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { promisify } from 'node:util';
import { generate } from 'selfsigned';
import { startSimulator, type Simulator } from '../src/simulator/index.ts';
import { startTestGateway, type TestGateway } from './helpers/gateway.ts';

const MODEL = 'ibm/granite-4-h-small';
const hello = { model: MODEL, messages: [{ role: 'user', content: 'hi' }] };
const API_KEY = 'test-ibm-key-7f3a';

const closers: Array<() => unknown> = [];
let directory: string;
/** The simulator behind the TLS fronts and the proxy. */
let simulator: Simulator;

before(async () => {
  directory = mkdtempSync(join(tmpdir(), 'upstream-network-'));
  simulator = await startSimulator();
});
after(async () => {
  for (const close of closers.reverse()) await close();
  await simulator.close();
  rmSync(directory, { recursive: true, force: true });
});

async function gateway(env: Record<string, string>): Promise<TestGateway> {
  const started = await startTestGateway({ apiKey: API_KEY, env });
  closers.push(() => started.close());
  return started;
}

function chat(target: TestGateway) {
  return target.inject({ method: 'POST', url: '/v1/chat/completions', payload: hello });
}

// ---- a forward proxy ----

interface ForwardProxy {
  url: string;
  /** `POST http://host:port/path` for absolute-form requests, `CONNECT host:port` for tunnels. */
  seen: string[];
}

/** A forward proxy on loopback; with `credentials` (user:password) it answers 407 to anyone else. */
async function forwardProxy(credentials?: string): Promise<ForwardProxy> {
  const seen: string[] = [];
  const sockets = new Set<net.Socket>();
  const authorized = (request: IncomingMessage) =>
    credentials === undefined ||
    request.headers['proxy-authorization'] === `Basic ${Buffer.from(credentials).toString('base64')}`;
  const server = createServer((request, response) => {
    if (!authorized(request)) {
      response.writeHead(407, { 'proxy-authenticate': 'Basic realm="test"' }).end();
      return;
    }
    seen.push(`${request.method} ${request.url}`);
    const headers = { ...request.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const forwarded = httpRequest(request.url!, { method: request.method, headers }, (answer) => {
      response.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(response);
    });
    forwarded.on('error', () => response.destroy());
    request.pipe(forwarded);
  });
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('connect', (request: IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.on('error', () => {});
    if (!authorized(request)) {
      socket.end('HTTP/1.1 407 Proxy Authentication Required\r\n\r\n');
      return;
    }
    seen.push(`CONNECT ${request.url}`);
    const target = new URL(`tcp://${request.url}`);
    const upstream = net.connect(Number(target.port), '127.0.0.1', () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.write(head);
      upstream.pipe(socket);
      socket.pipe(upstream);
    });
    upstream.on('error', () => socket.destroy());
    socket.on('close', () => upstream.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://${credentials ? `${credentials}@` : ''}127.0.0.1:${port}`, seen };
}

// ---- a TLS front for the simulator, with a CA made here ----

interface Authority {
  cert: string;
  key: string;
  /** The CA certificate in a file, for UPSTREAM_CA_FILE / NODE_EXTRA_CA_CERTS. */
  file: string;
}

async function certificateAuthority(name: string): Promise<Authority> {
  const ca = await generate([{ name: 'commonName', value: `${name} test CA` }], {
    keyType: 'ec',
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const file = join(directory, `${name}.pem`);
  writeFileSync(file, ca.cert);
  return { cert: ca.cert, key: ca.private, file };
}

/** A TLS server (certificate for localhost and 127.0.0.1, signed by `ca`) in front of the simulator. */
async function tlsFront(ca: Authority) {
  const leaf = await generate([{ name: 'commonName', value: 'localhost' }], {
    keyType: 'ec',
    algorithm: 'sha256',
    ca: { key: ca.key, cert: ca.cert },
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      {
        name: 'subjectAltName',
        altNames: [
          { type: 2, value: 'localhost' },
          { type: 7, ip: '127.0.0.1' },
        ],
      },
    ],
  });
  const sockets = new Set<net.Socket>();
  let handshakes = 0;
  const simulatorPort = Number(new URL(simulator.url).port);
  // The chain as servers send it: the leaf, then the CA.
  const server = tls.createServer({ key: leaf.private, cert: `${leaf.cert}\n${ca.cert}` }, (socket) => {
    handshakes += 1;
    const plain = net.connect(simulatorPort, '127.0.0.1');
    for (const end of [socket, plain]) {
      sockets.add(end);
      end.on('error', () => {});
      end.on('close', () => sockets.delete(end));
    }
    socket.pipe(plain).pipe(socket);
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  const { port } = server.address() as AddressInfo;
  return {
    port,
    url: `https://127.0.0.1:${port}`,
    get handshakes() {
      return handshakes;
    },
  };
}

describe('proxies', () => {
  test('HTTP_PROXY: the IAM, catalogue and watsonx calls go through it as absolute-form requests', async () => {
    const proxy = await forwardProxy();
    const target = await gateway({ HTTP_PROXY: proxy.url });
    const response = await chat(target);
    assert.equal(response.statusCode, 200, response.body);
    const origin = new URL(target.simulator.url).origin;
    assert.ok(proxy.seen.includes(`POST ${origin}/identity/token`), proxy.seen.join('\n'));
    assert.ok(
      proxy.seen.some((line) => line.startsWith(`GET ${origin}/ml/v1/foundation_model_specs?`)),
      proxy.seen.join('\n'),
    );
    assert.ok(
      proxy.seen.some((line) => line.startsWith(`POST ${origin}/ml/v1/text/chat?version=`)),
      proxy.seen.join('\n'),
    );
  });

  test('NO_PROXY: hosts listed there are reached directly', async () => {
    const proxy = await forwardProxy();
    for (const noProxy of ['127.0.0.1', 'localhost, 127.0.0.1', '*']) {
      const target = await gateway({ http_proxy: proxy.url, no_proxy: noProxy });
      assert.equal((await chat(target)).statusCode, 200, noProxy);
    }
    assert.deepEqual(proxy.seen, []);
  });

  test('HTTPS_PROXY: https upstreams go through CONNECT tunnels (one per origin), TLS inside them', async () => {
    const ca = await certificateAuthority('tunnel');
    const front = await tlsFront(ca);
    const proxy = await forwardProxy();
    const target = await gateway({
      HTTPS_PROXY: proxy.url,
      WATSONX_URL: front.url,
      IBM_IAM_URL: `https://localhost:${front.port}`,
      UPSTREAM_CA_FILE: ca.file,
    });
    assert.equal((await chat(target)).statusCode, 200);
    assert.deepEqual(
      new Set(proxy.seen),
      new Set([`CONNECT 127.0.0.1:${front.port}`, `CONNECT localhost:${front.port}`]),
    );
    assert.ok(front.handshakes >= 2);
  });

  test('proxy credentials are sent to the proxy and never shown: not on /health, not in an error', async () => {
    const proxy = await forwardProxy('proxy-user:s3cret-pw');
    const target = await gateway({ HTTP_PROXY: proxy.url, NO_PROXY: 'example.com' });
    assert.equal((await chat(target)).statusCode, 200);
    assert.ok(proxy.seen.length > 0);
    const health = await target.inject({ url: '/health' });
    assert.doesNotMatch(health.body, /s3cret|proxy-user/);
    const port = new URL(proxy.url).port;
    assert.deepEqual(health.json().upstream.network, {
      proxy: { http: `http://***@127.0.0.1:${port}/`, noProxy: 'example.com' },
      extraCa: false,
      tlsVerify: true,
    });

    const refusing = await forwardProxy('proxy-user:other-pw');
    const refused = await gateway({
      HTTP_PROXY: proxy.url.replace(/:\d+$/, `:${new URL(refusing.url).port}`),
    });
    const response = await chat(refused);
    assert.equal(response.statusCode, 503, response.body);
    assert.equal(response.json().error.code, 'iam_unavailable');
    assert.match(response.json().error.message, /407/);
    assert.doesNotMatch(response.body, /s3cret|proxy-user/);
  });

  test('a proxy URL that is not one is a configuration error that does not echo credentials', async () => {
    await assert.rejects(gateway({ HTTPS_PROXY: 'ftp://user:pw@proxy.example.com' }), (error: Error) => {
      assert.match(error.message, /HTTPS_PROXY must be an http\(s\) proxy URL/);
      assert.doesNotMatch(error.message, /user|pw@/);
      return true;
    });
  });
});

describe('TLS with a private CA', () => {
  let ca: Authority;
  let front: Awaited<ReturnType<typeof tlsFront>>;
  before(async () => {
    ca = await certificateAuthority('private');
    front = await tlsFront(ca);
  });

  test('without the CA: 502 upstream_unreachable naming the certificate problem (503 for IAM); no secret echoed', async () => {
    const untrusted = await gateway({ WATSONX_URL: front.url, MODEL_VALIDATION: 'false' });
    const response = await chat(untrusted);
    assert.equal(response.statusCode, 502, response.body);
    const error = response.json().error;
    assert.equal(error.code, 'upstream_unreachable');
    assert.match(error.message, /self-signed certificate in certificate chain \(SELF_SIGNED_CERT_IN_CHAIN\)/);
    assert.doesNotMatch(response.body, new RegExp(`${API_KEY}|Bearer`));

    const iamUntrusted = await gateway({ IBM_IAM_URL: front.url });
    const iamResponse = await chat(iamUntrusted);
    assert.equal(iamResponse.statusCode, 503, iamResponse.body);
    assert.equal(iamResponse.json().error.code, 'iam_unavailable');
    assert.match(iamResponse.json().error.message, /SELF_SIGNED_CERT_IN_CHAIN/);
    assert.doesNotMatch(iamResponse.body, new RegExp(API_KEY));
  });

  test('UPSTREAM_CA_FILE: watsonx and IAM over TLS are served; /health says an extra CA is trusted', async () => {
    const before = front.handshakes;
    const trusted = await gateway({
      WATSONX_URL: front.url,
      IBM_IAM_URL: front.url,
      UPSTREAM_CA_FILE: ca.file,
    });
    const response = await chat(trusted);
    assert.equal(response.statusCode, 200, response.body);
    assert.ok(front.handshakes > before);
    const health = (await trusted.inject({ url: '/health' })).json();
    assert.deepEqual(health.upstream.network, { extraCa: true, tlsVerify: true });
    assert.deepEqual(trusted.upstream.warnings, []);
  });

  test('UPSTREAM_TLS_VERIFY=false: served without the CA, with a warning at start and on /health', async () => {
    const unverified = await gateway({
      WATSONX_URL: front.url,
      IBM_IAM_URL: front.url,
      UPSTREAM_TLS_VERIFY: 'false',
    });
    assert.equal((await chat(unverified)).statusCode, 200);
    assert.equal((await unverified.inject({ url: '/health' })).json().upstream.network.tlsVerify, false);
    assert.equal(unverified.upstream.warnings.length, 1);
    assert.match(unverified.upstream.warnings[0]!, /UPSTREAM_TLS_VERIFY=false.*NOT verified/);
  });

  test('NODE_EXTRA_CA_CERTS keeps working, also next to UPSTREAM_CA_FILE (and on Node < 22.15)', async () => {
    // Node reads NODE_EXTRA_CA_CERTS when it starts: a process of its own, trusting one CA through
    // it (for IAM) and another through UPSTREAM_CA_FILE (for watsonx). Then again without
    // tls.getCACertificates, as on Node before 22.15.
    const iamCa = await certificateAuthority('extra');
    const iamFront = await tlsFront(iamCa);
    const modules = ['../src/process/config.ts', '../src/process/upstream.ts'].map(
      (path) => new URL(path, import.meta.url).href,
    );
    const env = {
      IBM_CLOUD_API_KEY: API_KEY,
      WATSONX_PROJECT_ID: 'p',
      WATSONX_URL: front.url,
      IBM_IAM_URL: iamFront.url,
      UPSTREAM_CA_FILE: ca.file,
      // What parseConfig reads from process.env in the gateway.
      NODE_EXTRA_CA_CERTS: iamCa.file,
    };
    const script = (legacy: boolean) => `
      if (${legacy}) delete (await import('node:tls')).default.getCACertificates;
      const { parseConfig } = await import(${JSON.stringify(modules[0])});
      const { createUpstream, upstreamTuning } = await import(${JSON.stringify(modules[1])});
      const config = parseConfig(${JSON.stringify(env)});
      const upstream = createUpstream({ ...config.upstream, ...upstreamTuning(config) });
      await upstream.auth.authorization();
      const page = await upstream.client.listModels();
      await upstream.close();
      process.stdout.write(JSON.stringify({ models: page.resources.length }));
    `;
    for (const legacy of [false, true]) {
      const before = iamFront.handshakes;
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ['--input-type=module', '-e', script(legacy)],
        { env: { ...process.env, NODE_EXTRA_CA_CERTS: iamCa.file } },
      );
      assert.ok(JSON.parse(stdout).models > 0);
      assert.ok(iamFront.handshakes > before);
    }
  });
});
