// Cloud Pak for Data behind a private CA, as clusters usually are: without the CA the client hears
// that the certificate is not trusted (by name, mode named, no secret); with UPSTREAM_CA_FILE the
// authorize call goes through and the request is served.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import tls from 'node:tls';
import { generate } from 'selfsigned';
import { chat, startAuthGateway } from './helpers/auth-gateway.ts';

const directory = mkdtempSync(join(tmpdir(), 'wxo-cp4d-tls-'));
const closers: Array<() => Promise<void> | void> = [];
after(async () => {
  for (const close of closers) await close();
  rmSync(directory, { recursive: true, force: true });
});

const ALICE = { username: 'alice', password: 'alice-tls-password-9' };

const ca = await generate([{ name: 'commonName', value: 'cluster ingress test CA' }], {
  keyType: 'ec',
  algorithm: 'sha256',
  extensions: [
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
  ],
});
const caFile = join(directory, 'cpd-ca.pem');
writeFileSync(caFile, ca.cert);
const leaf = await generate([{ name: 'commonName', value: 'localhost' }], {
  keyType: 'ec',
  algorithm: 'sha256',
  ca: { key: ca.private, cert: ca.cert },
  extensions: [
    { name: 'basicConstraints', cA: false },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] },
  ],
});

/** TLS in front of whichever simulator `target` names (set once the gateway's simulator listens). */
let targetPort = 0;
let handshakes = 0;
const sockets = new Set<net.Socket>();
const front = tls.createServer({ key: leaf.private, cert: `${leaf.cert}\n${ca.cert}` }, (socket) => {
  handshakes += 1;
  const plain = net.connect(targetPort, '127.0.0.1');
  for (const end of [socket, plain]) {
    sockets.add(end);
    end.on('close', () => sockets.delete(end));
    end.on('error', () => end.destroy());
  }
  socket.pipe(plain).pipe(socket);
});
front.on('tlsClientError', () => undefined);
await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
const frontUrl = `https://127.0.0.1:${(front.address() as AddressInfo).port}`;
closers.push(
  () =>
    new Promise<void>((resolve) => {
      for (const socket of sockets) socket.destroy();
      front.close(() => resolve());
    }),
);

async function gateway(extra: Record<string, string>) {
  const started = await startAuthGateway(
    (url) => {
      targetPort = Number(new URL(url).port);
      return {
        WATSONX_USERNAME: ALICE.username,
        WATSONX_PASSWORD: ALICE.password,
        WATSONX_AUTH_URL: frontUrl,
        ...extra,
      };
    },
    { cp4dUsers: [ALICE] },
  );
  closers.push(() => started.close());
  return started;
}

test('an untrusted cluster certificate: 503 naming it and the mode; the password never echoed', async () => {
  const target = await gateway({});
  const response = await target.inject(chat());
  assert.equal(response.statusCode, 503, response.body);
  const error = response.json().error;
  assert.equal(error.code, 'iam_unavailable');
  assert.match(error.message, /^Cloud Pak for Data authentication is unavailable/);
  assert.match(error.message, /self-signed certificate in certificate chain/);
  assert.doesNotMatch(response.body + target.log.join(''), new RegExp(ALICE.password));
  assert.equal(target.calls('/icp4d-api/v1/authorize').length, 0);
});

test("with the cluster's CA in UPSTREAM_CA_FILE: authorize over TLS, then served", async () => {
  const before = handshakes;
  const target = await gateway({ UPSTREAM_CA_FILE: caFile });
  const response = await target.inject(chat());
  assert.equal(response.statusCode, 200, response.body);
  assert.equal(target.calls('/icp4d-api/v1/authorize').length, 1);
  assert.ok(handshakes > before, 'the token call went through the TLS front');
});
