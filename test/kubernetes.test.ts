// The Kubernetes manifests (deploy/kubernetes/), rendered offline with `kubectl kustomize` (Debian's
// kubernetes-client, which .ci/run installs; its kustomize is v2, so the manifests use only what v2
// and today's kustomize both read) and checked against the code, as test/packaging.test.ts checks
// the Docker files: ports, probes, env names, the grace period against SHUTDOWN_TIMEOUT, resources
// against the benchmark's memory figures, and every auth example as a configuration the gateway accepts.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { ENVIRONMENT_VARIABLES, parseConfig } from '../src/process/config.ts';
import { FORCED_EXIT_GRACE_MS } from '../src/process/main.ts';
import { startTestGateway } from './helpers/gateway.ts';

const root = new URL('../', import.meta.url);
const deploy = new URL('deploy/kubernetes/', root);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');

type Manifest = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: any };
  [key: string]: any;
};

const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' });
const skip =
  kubectl.status === 0
    ? false
    : 'kubectl is not installed (Debian: apt-get install kubernetes-client; .ci/run installs it)';

/** `kubectl kustomize <dir>`: the manifests `kubectl apply -k <dir>` would send, parsed. */
function render(dir: string): Manifest[] {
  const result = spawnSync('kubectl', ['kustomize', fileURLToPath(new URL(dir, deploy))], {
    encoding: 'utf8',
  });
  assert.equal(result.status, 0, `kubectl kustomize ${dir}: ${result.stderr}`);
  return parseAllDocuments(result.stdout).map((document) => document.toJS() as Manifest);
}

const parseFile = (path: string) =>
  parseAllDocuments(readFileSync(new URL(path, deploy), 'utf8')).map(
    (document) => document.toJS() as Manifest,
  );

const one = (manifests: Manifest[], kind: string, name?: string): Manifest => {
  const found = manifests.filter(
    (item) => item.kind === kind && (name === undefined || item.metadata.name === name),
  );
  assert.equal(found.length, 1, `one ${kind}${name ? ` ${name}` : ''}: ${found.length}`);
  return found[0]!;
};

/** The runtime stage's ENV in the Dockerfile: what the container starts with. */
function imageEnv(): Record<string, string> {
  const dockerfile = read('Dockerfile').replace(/\\\r?\n/g, ' ');
  const runtime = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
  const env: Record<string, string> = {};
  for (const line of runtime.split('\n').filter((text) => text.startsWith('ENV '))) {
    for (const pair of line.slice(4).trim().split(/\s+/)) {
      const [name, value] = pair.split('=') as [string, string];
      env[name] = value;
    }
  }
  return env;
}

const KNOWN = new Set(ENVIRONMENT_VARIABLES.map((variable) => variable.name));
/** Env names a manifest sets: ConfigMap data, Secret stringData/data, container env. */
function envNames(manifests: Manifest[]): string[] {
  const names: string[] = [];
  for (const item of manifests) {
    if (item.kind === 'ConfigMap' || item.kind === 'Secret') {
      names.push(...Object.keys(item.data ?? {}), ...Object.keys(item.stringData ?? {}));
    }
    for (const container of item.spec?.template?.spec?.containers ?? []) {
      if (item.metadata.labels?.['app.kubernetes.io/component'] !== 'gateway') continue;
      names.push(...(container.env ?? []).map((entry: { name: string }) => entry.name));
    }
  }
  return names;
}

/** What the gateway container's envFrom ConfigMaps and Secrets give it, over the image's ENV. */
function containerEnv(manifests: Manifest[], extra: Manifest[] = []): Record<string, string> {
  const deployment = one(manifests, 'Deployment', 'watsonx-openai-proxy');
  const container = deployment.spec.template.spec.containers[0];
  const env = imageEnv();
  for (const source of container.envFrom) {
    const ref = source.configMapRef ?? source.secretRef;
    const kind = source.configMapRef ? 'ConfigMap' : 'Secret';
    const found = [...manifests, ...extra].find(
      (item) => item.kind === kind && item.metadata.name === ref.name,
    );
    if (!found) {
      assert.equal(ref.optional, true, `${kind} ${ref.name} is not in the manifests, so it must be optional`);
      continue;
    }
    Object.assign(env, found.data ?? {}, found.stringData ?? {});
  }
  return env;
}

const quantityBytes = (quantity: string): number => {
  const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi)?$/.exec(quantity);
  assert.ok(match, `a memory quantity: ${quantity}`);
  return Number(match[1]) * { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, '': 1 }[match[2] ?? '']!;
};

describe('deploy/kubernetes/base (kubectl kustomize)', { skip }, () => {
  let manifests: Manifest[];
  let deployment: Manifest;
  let pod: Manifest;
  let container: Manifest;

  before(() => {
    manifests = render('base');
    deployment = one(manifests, 'Deployment', 'watsonx-openai-proxy');
    pod = deployment.spec.template.spec;
    container = pod.containers[0];
  });

  test('a Deployment, a Service, an autoscaler, a disruption budget and the settings ConfigMap', () => {
    assert.deepEqual(manifests.map((item) => item.kind).sort(), [
      'ConfigMap',
      'Deployment',
      'HorizontalPodAutoscaler',
      'PodDisruptionBudget',
      'Service',
    ]);
    assert.equal(pod.containers.length, 1);
    // The generated ConfigMap's hashed name is the one the Deployment reads.
    const configMap = one(manifests, 'ConfigMap');
    assert.match(configMap.metadata.name, /^watsonx-openai-proxy-[a-z0-9]+$/);
    assert.equal(container.envFrom[0].configMapRef.name, configMap.metadata.name);
  });

  test('the container port is the port the gateway listens on, and the Service sends there', () => {
    const config = parseConfig({ ...containerEnv(manifests), WATSONX_SIMULATOR: 'true' });
    assert.deepEqual(container.ports, [{ name: 'http', containerPort: config.port, protocol: 'TCP' }]);
    assert.equal(config.host, '0.0.0.0');
    const service = one(manifests, 'Service');
    assert.deepEqual(service.spec.ports, [
      { name: 'http', port: config.port, targetPort: 'http', protocol: 'TCP' },
    ]);
    assert.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels);
  });

  test('the base alone, with the image NODE_ENV=production and no credentials, is refused (not the simulator)', () => {
    const env = containerEnv(manifests);
    assert.equal(env.NODE_ENV, 'production');
    assert.throws(() => parseConfig(env), /WATSONX_SIMULATOR=true/);
  });

  test('liveness on /health, readiness on /ready, on the named port: routes that answer without a key', async () => {
    assert.deepEqual(container.livenessProbe.httpGet, { path: '/health', port: 'http' });
    assert.deepEqual(container.readinessProbe.httpGet, { path: '/ready', port: 'http' });
    assert.deepEqual(container.startupProbe.httpGet, { path: '/health', port: 'http' });
    const keyed = await startTestGateway({ env: { API_KEY: 'k8s-test-key' } });
    try {
      for (const path of ['/health', '/ready']) {
        assert.equal((await keyed.inject(path)).statusCode, 200, `${path} with API_KEY set and no key`);
      }
      assert.equal((await keyed.inject({ method: 'GET', url: '/v1/models' })).statusCode, 401);
    } finally {
      await keyed.close();
    }
  });

  test('non-root, read-only root filesystem, no privilege escalation, no capabilities, /tmp writable', () => {
    assert.equal(pod.securityContext.runAsNonRoot, true);
    // Numeric, so the kubelet can check runAsNonRoot (the image's USER is the name `node`).
    assert.ok(Number.isInteger(pod.securityContext.runAsUser) && pod.securityContext.runAsUser > 0);
    assert.match(read('Dockerfile'), /^USER node$/m);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
    assert.deepEqual(container.volumeMounts, [{ name: 'tmp', mountPath: '/tmp' }]);
    assert.ok(pod.volumes.find((volume: Manifest) => volume.name === 'tmp').emptyDir);
    assert.equal(pod.automountServiceAccountToken, false);
    assert.equal(pod.enableServiceLinks, false, 'no <SERVICE>_PORT variables in the environment');
  });

  test('grace period > preStop pause + SHUTDOWN_TIMEOUT + the forced-exit grace; the image has sleep', () => {
    const config = parseConfig({ ...containerEnv(manifests), WATSONX_SIMULATOR: 'true' });
    const [command, seconds, ...rest] = container.lifecycle.preStop.exec.command as string[];
    assert.equal(command, 'sleep');
    assert.deepEqual(rest, []);
    const pause = Number(seconds);
    assert.ok(pause >= 5, 'long enough for the endpoint to leave the Service and the load balancers');
    const needed = pause + config.shutdownTimeoutMs / 1000 + FORCED_EXIT_GRACE_MS / 1000;
    assert.ok(
      pod.terminationGracePeriodSeconds > needed,
      `terminationGracePeriodSeconds ${pod.terminationGracePeriodSeconds} > ${needed}`,
    );
    // The ConfigMap states SHUTDOWN_TIMEOUT, so the default changing cannot silently break this.
    assert.equal(one(manifests, 'ConfigMap').data.SHUTDOWN_TIMEOUT, String(config.shutdownTimeoutMs / 1000));
    // `sleep` in the runtime image: Debian's coreutils, in node's slim images.
    const stages = read('Dockerfile').match(/^FROM \S+/gm) ?? [];
    assert.match(stages.at(-1) ?? '', /^FROM node:\d+-slim$/);
  });

  test('memory: requests cover the benchmark peaks, the limit the V8 heap limit and more', () => {
    const figures = (
      JSON.parse(read('bench/results/latest.json')) as { figures: { key: string; display: string }[] }
    ).figures;
    const megabytes = (key: string) => {
      const figure = figures.find((item) => item.key === key);
      assert.ok(figure, `bench figure ${key}`);
      return Number(/^([\d.]+) MB$/.exec(figure.display)?.[1]);
    };
    const peak = Math.max(megabytes('memoryPeak'), megabytes('pacedPeak'));
    const heapLimit = Number(
      /--max-old-space-size=(\d+)/.exec(
        (JSON.parse(read('package.json')) as { scripts: { start: string } }).scripts.start,
      )?.[1],
    );
    assert.ok(peak > 100 && heapLimit > 100, `${peak} ${heapLimit}`);
    const { requests, limits } = container.resources;
    assert.ok(quantityBytes(requests.memory) >= peak * 1e6, `request ${requests.memory} ≥ ${peak} MB`);
    assert.ok(
      quantityBytes(limits.memory) > heapLimit * 1024 ** 2 + peak * 1e6,
      `limit ${limits.memory} > heap limit ${heapLimit} MiB + peak ${peak} MB`,
    );
    assert.ok(requests.cpu && limits.cpu);
  });

  test('the autoscaler scales this Deployment; the disruption budget and spread select its pods', () => {
    const hpa = one(manifests, 'HorizontalPodAutoscaler');
    assert.equal(hpa.apiVersion, 'autoscaling/v2');
    assert.deepEqual(hpa.spec.scaleTargetRef, {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      name: 'watsonx-openai-proxy',
    });
    assert.ok(hpa.spec.minReplicas >= 2, 'two pods at least, so a disruption leaves one serving');
    assert.equal(deployment.spec.replicas, undefined, 'the autoscaler owns the replica count');
    const labels = pod.topologySpreadConstraints[0].labelSelector.matchLabels;
    const pdb = one(manifests, 'PodDisruptionBudget');
    for (const selector of [deployment.spec.selector.matchLabels, pdb.spec.selector.matchLabels, labels]) {
      assert.deepEqual(selector, deployment.spec.template.metadata.labels);
    }
    assert.equal(deployment.spec.strategy.rollingUpdate.maxUnavailable, 0);
  });

  test('every env name is a variable the gateway reads (config.ts ENVIRONMENT_VARIABLES)', () => {
    const names = envNames(manifests);
    assert.ok(names.length > 0);
    assert.deepEqual(
      names.filter((name) => !KNOWN.has(name)),
      [],
    );
  });
});

describe('deploy/kubernetes/overlays/redis (kubectl kustomize)', { skip }, () => {
  test('the base plus one Redis, and REDIS_URL pointing at its Service', () => {
    const manifests = render('overlays/redis');
    const base = render('base');
    assert.equal(manifests.length, base.length + 3);
    const redis = one(manifests, 'Service', 'watsonx-openai-proxy-redis');
    const redisPod = one(manifests, 'Deployment', 'watsonx-openai-proxy-redis').spec.template.spec;
    assert.deepEqual(
      redis.spec.selector,
      one(manifests, 'Deployment', 'watsonx-openai-proxy-redis').spec.selector.matchLabels,
    );
    assert.equal(redisPod.securityContext.runAsNonRoot, true);
    assert.equal(redisPod.containers[0].securityContext.readOnlyRootFilesystem, true);
    // The gateway's Service must not select the Redis pods, nor the other way round.
    const service = one(manifests, 'Service', 'watsonx-openai-proxy');
    assert.notDeepEqual(service.spec.selector, redis.spec.selector);
    // Redis has no password: only the gateway's pods may reach it.
    const policy = one(manifests, 'NetworkPolicy', 'watsonx-openai-proxy-redis');
    assert.deepEqual(policy.spec.podSelector.matchLabels, redis.spec.selector);
    assert.deepEqual(policy.spec.policyTypes, ['Ingress']);
    assert.deepEqual(
      policy.spec.ingress.map((rule: Manifest) =>
        rule.from.map((peer: Manifest) => peer.podSelector.matchLabels),
      ),
      [[one(manifests, 'Deployment', 'watsonx-openai-proxy').spec.template.metadata.labels]],
    );
    assert.deepEqual(
      policy.spec.ingress[0].ports.map((port: Manifest) => port.port),
      [redisPod.containers[0].ports[0].name],
    );

    const env = containerEnv(manifests);
    const url = new URL(env.REDIS_URL!);
    assert.equal(url.hostname, redis.metadata.name);
    assert.equal(Number(url.port), redis.spec.ports[0].port);
    const config = parseConfig({ ...env, WATSONX_SIMULATOR: 'true' });
    assert.ok(config.redis, 'REDIS_URL is read');
    assert.deepEqual(
      envNames(manifests).filter((name) => !KNOWN.has(name)),
      [],
    );
  });
});

describe('deploy/kubernetes/monitoring (kubectl kustomize)', { skip }, () => {
  test("a ServiceMonitor scraping /metrics on the gateway Service's named port, apart from the base", () => {
    const [monitor, ...rest] = render('monitoring');
    assert.deepEqual(rest, []);
    assert.equal(monitor!.kind, 'ServiceMonitor');
    const service = one(render('base'), 'Service');
    assert.deepEqual(monitor!.spec.selector.matchLabels, service.metadata.labels);
    assert.deepEqual(
      monitor!.spec.endpoints.map((endpoint: Manifest) => [endpoint.port, endpoint.path]),
      [['http', '/metrics']],
    );
    assert.ok(!render('base').some((item) => item.apiVersion.startsWith('monitoring.coreos.com')));
  });
});

describe('deploy/kubernetes/auth: an example per auth mode', () => {
  const files = readdirSync(new URL('auth/', deploy)).filter((name) => name.endsWith('.yaml'));
  const expected: Record<string, string> = {
    'iam.yaml': 'iam',
    'bearer.yaml': 'bearer',
    'cp4d.yaml': 'cp4d',
    'zenapikey.yaml': 'zenapikey',
    'aws.yaml': 'aws',
    'none.yaml': 'none',
    'client-keys.yaml': 'iam',
    'simulator.yaml': 'simulator',
  };

  test('one file per mode', () => {
    assert.deepEqual(files.sort(), Object.keys(expected).sort());
  });

  for (const file of Object.keys(expected)) {
    test(`${file}: names the Deployment reads, and the gateway starts in that mode with them`, () => {
      const manifests = parseFile(`auth/${file}`);
      const configMap = one(manifests, 'ConfigMap', 'watsonx-openai-proxy-auth');
      const secrets = manifests.filter((item) => item.kind === 'Secret');
      for (const secret of secrets) assert.equal(secret.metadata.name, 'watsonx-openai-proxy-credentials');
      assert.deepEqual(
        envNames(manifests).filter((name) => !KNOWN.has(name)),
        [],
      );
      // Secrets are placeholders, never real values; settings that are not secret stay out of the Secret.
      for (const [name, value] of Object.entries(secrets[0]?.stringData ?? {})) {
        if (name !== 'WATSONX_USERNAME') assert.match(String(value), /^replace-with-/, name);
      }
      // As the base's Deployment combines them: image ENV, settings, then these.
      const env = { ...imageEnv(), ...configMap.data, ...(secrets[0]?.stringData ?? {}) };
      const config = parseConfig(env);
      if (expected[file] === 'simulator') {
        assert.equal(config.upstream.mode, 'simulator');
      } else {
        assert.equal(config.upstream.mode, 'ibm');
        assert.equal(config.upstream.mode === 'ibm' && config.upstream.auth.type, expected[file]);
      }
      if (file === 'client-keys.yaml') {
        assert.ok(config.upstream.mode === 'ibm' && config.upstream.clientCredentials);
      }
    });
  }

  test('the Deployment reads the auth ConfigMap and Secret by these names, optionally', { skip }, () => {
    const container = one(render('base'), 'Deployment').spec.template.spec.containers[0];
    const refs = container.envFrom.map((source: Manifest) => source.configMapRef ?? source.secretRef);
    assert.deepEqual(refs.slice(1), [
      { name: 'watsonx-openai-proxy-auth', optional: true },
      { name: 'watsonx-openai-proxy-credentials', optional: true },
    ]);
  });
});
