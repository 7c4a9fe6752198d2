// Configuration: parseConfig / readEnvironment are pure (an environment object in, a frozen Config
// or one ConfigError out), so every rule of issue #2 §2 is checked here without a process.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  ConfigError,
  DEFAULT_WATSONX_API_VERSION,
  type Config,
  type Environment,
  parseConfig,
  readEnvironment,
} from '../src/process/config.ts';
import { modelMapKey, resolveModel } from '../src/models/model-map.ts';

const PROJECT = '11111111-2222-4333-8444-555555555555';
const SPACE = '99999999-8888-4777-8666-555555555555';
const IBM_KEY = 'ibm-secret-Zq8vK2pLw9';
const ibm = { IBM_CLOUD_API_KEY: IBM_KEY, WATSONX_PROJECT_ID: PROJECT };

/** The ConfigError parseConfig throws for env; fails the test when it does not throw one. */
function configError(env: Environment): ConfigError {
  try {
    parseConfig(env);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected a ConfigError, got ${String(error)}`);
    return error;
  }
  assert.fail('parseConfig accepted an invalid environment');
}

function ibmUpstream(config: Config) {
  assert.equal(config.upstream.mode, 'ibm');
  if (config.upstream.mode !== 'ibm') throw new Error('unreachable');
  return config.upstream;
}

function iamUrlOf(upstream: ReturnType<typeof ibmUpstream>): string | undefined {
  return upstream.auth.type === 'iam' ? upstream.auth.iamUrl : undefined;
}

describe('defaults', () => {
  test('an empty environment gives the documented defaults and the simulator', () => {
    const config = parseConfig({});
    assert.equal(config.host, '0.0.0.0');
    assert.equal(config.port, 8000);
    assert.equal(config.logLevel, 'info');
    assert.equal(config.requestTimeoutMs, 300_000);
    assert.equal(config.defaultMaxTokens, 4096);
    assert.equal(config.allowedOrigins, '*');
    assert.deepEqual(config.gatewayApiKeys, []);
    assert.equal(config.modelMap.size, 0);
    assert.equal(config.apiVersion, DEFAULT_WATSONX_API_VERSION);
    assert.match(config.apiVersion, /^\d{4}-\d{2}-\d{2}$/);
    assert.ok(config.bodyLimitBytes >= 20 * 1024 * 1024, 'large enough for image payloads');
    assert.equal(config.production, false);
    assert.deepEqual(config.upstream, { mode: 'simulator' });
  });

  test('with credentials: us-south, IAM at iam.cloud.ibm.com, the project as container', () => {
    const upstream = ibmUpstream(parseConfig(ibm));
    assert.deepEqual(upstream, {
      mode: 'ibm',
      watsonxUrl: 'https://us-south.ml.cloud.ibm.com',
      auth: { type: 'iam', iamUrl: 'https://iam.cloud.ibm.com', apiKey: IBM_KEY },
      clientCredentials: undefined,
      container: { project_id: PROJECT },
    });
  });

  test('WATSONX_CLUSTER picks the region host', () => {
    const upstream = ibmUpstream(parseConfig({ ...ibm, WATSONX_CLUSTER: 'eu-de' }));
    assert.equal(upstream.watsonxUrl, 'https://eu-de.ml.cloud.ibm.com');
  });

  test('explicit values are read, numbers converted, text trimmed', () => {
    const config = parseConfig({
      HOST: ' 127.0.0.1 ',
      PORT: '0',
      LOG_LEVEL: 'DEBUG',
      REQUEST_TIMEOUT: '2.5',
      DEFAULT_MAX_TOKENS: '0',
      BODY_LIMIT_MB: '1',
      WATSONX_API_VERSION: '2025-02-11',
    });
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.port, 0);
    assert.equal(config.logLevel, 'debug');
    assert.equal(config.requestTimeoutMs, 2500);
    assert.equal(config.defaultMaxTokens, 0);
    assert.equal(config.bodyLimitBytes, 1024 * 1024);
    assert.equal(config.apiVersion, '2025-02-11');
  });

  test('the returned object is frozen, with its lists and upstream', () => {
    const config = parseConfig({ ...ibm, API_KEY: 'a,b', ALLOWED_ORIGINS: 'https://a.example' });
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.upstream));
    assert.ok(Object.isFrozen(config.gatewayApiKeys));
    assert.ok(Object.isFrozen(config.allowedOrigins));
    assert.throws(() => {
      (config as { port: number }).port = 1;
    }, TypeError);
  });
});

describe('upstream mode', () => {
  test('no IBM setting at all → simulator', () => {
    assert.equal(parseConfig({ PORT: '9000', API_KEY: 'k' }).upstream.mode, 'simulator');
  });

  test('WATSONX_SIMULATOR=true forces the simulator even with credentials', () => {
    assert.equal(parseConfig({ ...ibm, WATSONX_SIMULATOR: 'true' }).upstream.mode, 'simulator');
    assert.equal(parseConfig({ ...ibm, WATSONX_SIMULATOR: 'false' }).upstream.mode, 'ibm');
  });

  test('NODE_ENV=production without credentials refuses, with a message that says what to do', () => {
    const error = configError({ NODE_ENV: 'production' });
    assert.equal(error.problems.length, 1);
    assert.match(error.message, /NODE_ENV=production/);
    assert.match(error.message, /IBM_CLOUD_API_KEY/);
    assert.match(error.message, /WATSONX_PROJECT_ID/);
    assert.match(error.message, /WATSONX_SIMULATOR=true/);
  });

  test('NODE_ENV=production with WATSONX_SIMULATOR=true runs the simulator on purpose', () => {
    const config = parseConfig({ NODE_ENV: 'production', WATSONX_SIMULATOR: 'true' });
    assert.equal(config.upstream.mode, 'simulator');
    assert.equal(config.production, true);
  });

  test('NODE_ENV=production with credentials starts against IBM', () => {
    const config = parseConfig({ ...ibm, NODE_ENV: 'production' });
    assert.equal(config.production, true);
    assert.equal(config.upstream.mode, 'ibm');
  });

  test('a key without a project or space starts on IBM: every request then names one (X-Watsonx-Project-Id)', () => {
    const config = parseConfig({ IBM_CLOUD_API_KEY: IBM_KEY });
    assert.equal(config.upstream.mode, 'ibm');
    assert.equal(config.upstream.mode === 'ibm' && config.upstream.container, undefined);
  });

  test('a project without a key is a problem', () => {
    const error = configError({ WATSONX_PROJECT_ID: PROJECT });
    assert.equal(error.problems.length, 1);
    assert.match(error.problems[0]!, /IBM_CLOUD_API_KEY is required/);
  });

  test('a project and a space together are a problem', () => {
    const error = configError({ ...ibm, WATSONX_SPACE_ID: SPACE });
    assert.equal(error.problems.length, 1);
    assert.match(error.problems[0]!, /only one of WATSONX_PROJECT_ID and WATSONX_SPACE_ID/);
  });

  test('WATSONX_SPACE_ID instead of a project', () => {
    const upstream = ibmUpstream(parseConfig({ IBM_CLOUD_API_KEY: IBM_KEY, WATSONX_SPACE_ID: SPACE }));
    assert.deepEqual(upstream.container, { space_id: SPACE });
  });

  test('WATSONX_URL overrides the region, plain http allowed, trailing slash dropped', () => {
    const upstream = ibmUpstream(
      parseConfig({ ...ibm, WATSONX_CLUSTER: 'eu-de', WATSONX_URL: 'http://10.0.0.5:8080/' }),
    );
    assert.equal(upstream.watsonxUrl, 'http://10.0.0.5:8080');
    assert.deepEqual(upstream.auth, { type: 'iam', iamUrl: 'https://iam.cloud.ibm.com', apiKey: IBM_KEY });
  });

  test('IBM_IAM_URL overrides IAM (a value ending in /identity/token is kept for the fetcher)', () => {
    assert.equal(
      iamUrlOf(ibmUpstream(parseConfig({ ...ibm, IBM_IAM_URL: 'http://127.0.0.1:9999/' }))),
      'http://127.0.0.1:9999',
    );
    assert.equal(
      iamUrlOf(
        ibmUpstream(parseConfig({ ...ibm, IBM_IAM_URL: 'https://iam.test.cloud.ibm.com/identity/token' })),
      ),
      'https://iam.test.cloud.ibm.com/identity/token',
    );
  });
});

describe('problems', () => {
  test('several invalid values at once → one ConfigError listing every problem', () => {
    const error = configError({
      IBM_CLOUD_API_KEY: IBM_KEY,
      PORT: 'abc',
      LOG_LEVEL: 'loud',
      REQUEST_TIMEOUT: '-1',
      DEFAULT_MAX_TOKENS: '1.5',
      BODY_LIMIT_MB: '0',
      WATSONX_API_VERSION: 'yesterday',
      WATSONX_SIMULATOR: 'maybe',
      WATSONX_CLUSTER: 'US South',
      WATSONX_URL: 'ftp://example.com',
      MODEL_MAP_gpt: 'ibm/granite-4-h-small',
    });
    const expected = [
      'PORT',
      'LOG_LEVEL',
      'REQUEST_TIMEOUT',
      'DEFAULT_MAX_TOKENS',
      'BODY_LIMIT_MB',
      'WATSONX_API_VERSION',
      'WATSONX_SIMULATOR',
      'WATSONX_CLUSTER',
      'WATSONX_URL',
      'MODEL_MAP_gpt',
    ];
    assert.equal(error.problems.length, expected.length, error.message);
    for (const name of expected) {
      assert.equal(
        error.problems.filter((problem) => problem.startsWith(name)).length,
        1,
        `one problem about ${name} in:\n${error.message}`,
      );
      assert.ok(error.message.includes(name));
    }
    // the message is the list, one problem a line
    assert.equal(error.message.split('\n').length, expected.length + 1);
    assert.ok(!error.message.includes(IBM_KEY));
  });

  test('out-of-range numbers are problems', () => {
    assert.match(configError({ PORT: '65536' }).message, /PORT must be an integer from 0 to 65535/);
    assert.match(configError({ PORT: '-1' }).message, /PORT/);
    assert.match(configError({ REQUEST_TIMEOUT: 'soon' }).message, /REQUEST_TIMEOUT/);
    assert.match(configError({ DEFAULT_MAX_TOKENS: '-5' }).message, /DEFAULT_MAX_TOKENS/);
  });

  test('secrets never appear in a message, even in a URL with credentials', () => {
    const gatewayKeys = ['gw-secret-Hq3xT7', 'gw-secret-Pn5yR1'];
    const urlSecrets = ['url-secret-Wd4kJ6', 'url-secret-Fc9mB2', 'url-secret-Ls2vN8'];
    const cases: Environment[] = [
      // a valid URL that carries user:password
      { WATSONX_URL: `https://apikey:${urlSecrets[0]}@us-south.ml.cloud.ibm.com` },
      // a wrong scheme and credentials: neither problem may echo the value
      { IBM_IAM_URL: `ftp://apikey:${urlSecrets[1]}@iam.cloud.ibm.com` },
      // not parseable at all
      { WATSONX_URL: `https://apikey:${urlSecrets[2]}@` },
      // many problems next to the keys
      { PORT: 'x', LOG_LEVEL: 'y', WATSONX_SPACE_ID: SPACE },
      { NODE_ENV: 'production', IBM_CLOUD_API_KEY: undefined },
    ];
    for (const extra of cases) {
      const error = configError({ ...ibm, API_KEY: gatewayKeys.join(','), ...extra });
      const text = `${error.message}\n${error.problems.join('\n')}\n${error.stack ?? ''}`;
      for (const secret of [IBM_KEY, ...gatewayKeys, ...urlSecrets]) {
        assert.ok(!text.includes(secret), `"${secret}" leaked in:\n${error.message}`);
      }
    }
    const credentials = configError({
      ...ibm,
      WATSONX_URL: `https://apikey:${urlSecrets[0]}@us-south.ml.cloud.ibm.com`,
    });
    assert.deepEqual(credentials.problems, ['WATSONX_URL must not contain credentials']);
  });

  test('a plain invalid URL is echoed so the operator can see the typo', () => {
    assert.match(configError({ ...ibm, WATSONX_URL: 'us-south.ml.cloud.ibm.com' }).message, /us-south\.ml/);
  });
});

describe('lists', () => {
  test('API_KEY: a comma list, trimmed, empty entries dropped', () => {
    assert.deepEqual(parseConfig({ API_KEY: ' key-one , key-two,,  ' }).gatewayApiKeys, [
      'key-one',
      'key-two',
    ]);
    assert.deepEqual(parseConfig({ API_KEY: '   ' }).gatewayApiKeys, []);
  });

  test('ALLOWED_ORIGINS: a list (trailing slashes dropped) or *', () => {
    assert.deepEqual(
      parseConfig({ ALLOWED_ORIGINS: 'https://a.example/, http://localhost:3000 ' }).allowedOrigins,
      ['https://a.example', 'http://localhost:3000'],
    );
    assert.equal(parseConfig({ ALLOWED_ORIGINS: 'https://a.example, *' }).allowedOrigins, '*');
  });
});

describe('MODEL_MAP', () => {
  test('modelMapKey upper-cases and turns every other character into _', () => {
    assert.equal(modelMapKey('gpt-4o'), 'GPT_4O');
    assert.equal(modelMapKey('gpt4'), 'GPT4');
    assert.equal(modelMapKey('my.model/v1'), 'MY_MODEL_V1');
    assert.equal(modelMapKey('GPT-4o-mini'), 'GPT_4O_MINI');
  });

  test('MODEL_MAP_ entries resolve client names; unmatched names pass unchanged', () => {
    const { modelMap } = parseConfig({
      MODEL_MAP_GPT_4O: ' ibm/granite-4-h-small ',
      MODEL_MAP_GPT4: 'meta-llama/llama-3-3-70b-instruct',
      MODEL_MAP_MY_MODEL_V1: 'mistralai/mistral-medium-2505',
    });
    assert.deepEqual(
      [...modelMap],
      [
        ['GPT_4O', 'ibm/granite-4-h-small'],
        ['GPT4', 'meta-llama/llama-3-3-70b-instruct'],
        ['MY_MODEL_V1', 'mistralai/mistral-medium-2505'],
      ],
    );
    assert.equal(resolveModel('gpt-4o', modelMap), 'ibm/granite-4-h-small');
    assert.equal(resolveModel('GPT-4O', modelMap), 'ibm/granite-4-h-small');
    assert.equal(resolveModel('gpt4', modelMap), 'meta-llama/llama-3-3-70b-instruct');
    assert.equal(resolveModel('my.model/v1', modelMap), 'mistralai/mistral-medium-2505');
    assert.equal(resolveModel('gpt-4', modelMap), 'gpt-4');
    assert.equal(resolveModel('ibm/granite-3-8b-instruct', modelMap), 'ibm/granite-3-8b-instruct');
    assert.equal(resolveModel('gpt-4o', new Map()), 'gpt-4o');
  });

  test('invalid key characters and empty values are problems, each named', () => {
    const error = configError({
      'MODEL_MAP_gpt-4o': 'ibm/granite-4-h-small',
      MODEL_MAP_: 'ibm/granite-4-h-small',
      MODEL_MAP_EMPTY: '   ',
      MODEL_MAP_OK: 'ibm/granite-4-h-small',
    });
    assert.equal(error.problems.length, 3, error.message);
    assert.match(error.message, /MODEL_MAP_gpt-4o: .*A-Z, 0-9 and _/);
    assert.match(error.message, /MODEL_MAP_: /);
    assert.match(error.message, /MODEL_MAP_EMPTY is empty/);
  });
});

describe('upstream network', () => {
  test('unset: no proxy, no extra CA, TLS verified', () => {
    assert.deepEqual(parseConfig(ibm).upstreamNetwork, {
      httpProxy: undefined,
      httpsProxy: undefined,
      noProxy: undefined,
      ca: undefined,
      tlsVerify: true,
    });
  });

  test('proxies in either case (lower case wins), a proxy without a scheme is http://', () => {
    const network = parseConfig({
      ...ibm,
      HTTPS_PROXY: 'http://upper.example.com:3128',
      https_proxy: 'http://user:pw@lower.example.com:3128',
      HTTP_PROXY: 'proxy.example.com:8080',
      NO_PROXY: 'localhost,.internal',
    }).upstreamNetwork;
    assert.equal(network.httpsProxy, 'http://user:pw@lower.example.com:3128');
    assert.equal(network.httpProxy, 'http://proxy.example.com:8080');
    assert.equal(network.noProxy, 'localhost,.internal');
  });

  test('UPSTREAM_CA_FILE adds its certificates to the default ones; UPSTREAM_TLS_VERIFY=false', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'config-ca-'));
    try {
      const { default: tls } = await import('node:tls');
      const [first, second] = tls.rootCertificates;
      const file = join(directory, 'ca.pem');
      writeFileSync(file, `# two CAs\n${first}\n${second}\n`);
      const network = parseConfig({
        ...ibm,
        UPSTREAM_CA_FILE: file,
        UPSTREAM_TLS_VERIFY: 'false',
      }).upstreamNetwork;
      assert.equal(network.tlsVerify, false);
      assert.deepEqual(network.ca?.slice(-2), [first, second]);
      assert.ok(network.ca!.length > tls.rootCertificates.length, 'the default roots stay trusted');
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });

  test('a missing, empty or invalid UPSTREAM_CA_FILE, a bad proxy URL or UPSTREAM_TLS_VERIFY: problems', () => {
    const directory = mkdtempSync(join(tmpdir(), 'config-ca-'));
    try {
      const empty = join(directory, 'empty.pem');
      writeFileSync(empty, 'no certificate here\n');
      const broken = join(directory, 'broken.pem');
      writeFileSync(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
      const problems = (env: Environment) => configError({ ...ibm, ...env }).problems.join('\n');
      assert.match(
        problems({ UPSTREAM_CA_FILE: join(directory, 'missing.pem') }),
        /UPSTREAM_CA_FILE: cannot read .*ENOENT/,
      );
      assert.match(problems({ UPSTREAM_CA_FILE: empty }), /UPSTREAM_CA_FILE: .* holds no PEM certificate/);
      assert.match(problems({ UPSTREAM_CA_FILE: broken }), /certificate 1 .* is not a valid certificate/);
      assert.match(problems({ UPSTREAM_TLS_VERIFY: 'maybe' }), /UPSTREAM_TLS_VERIFY must be true or false/);
      assert.match(
        problems({ HTTP_PROXY: 'socks4://proxy:1080' }),
        /HTTP_PROXY must be an http\(s\) proxy URL .*socks4/,
      );
      const secret = problems({ https_proxy: 'ftp://user:pw-Secret@proxy' });
      assert.match(secret, /https_proxy must be an http\(s\) proxy URL/);
      assert.doesNotMatch(secret, /pw-Secret/);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  });
});

describe('readEnvironment', () => {
  function withDotEnv(content: string | undefined, run: (directory: string) => void) {
    const directory = mkdtempSync(join(tmpdir(), 'wxo-config-'));
    try {
      if (content !== undefined) writeFileSync(join(directory, '.env'), content);
      run(directory);
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  }

  test('reads .env from the directory; real environment variables win over it', () => {
    withDotEnv(
      [
        '# comment',
        'PORT=9100',
        'LOG_LEVEL=debug',
        `IBM_CLOUD_API_KEY="${IBM_KEY}"`,
        `WATSONX_PROJECT_ID=${PROJECT}`,
      ].join('\n'),
      (directory) => {
        const env = readEnvironment(directory, { PORT: '9200', PATH: '/usr/bin' });
        assert.equal(env.PORT, '9200');
        assert.equal(env.LOG_LEVEL, 'debug');
        assert.equal(env.PATH, '/usr/bin');
        const config = parseConfig(env);
        assert.equal(config.port, 9200);
        assert.equal(config.logLevel, 'debug');
        assert.deepEqual(ibmUpstream(config).auth, {
          type: 'iam',
          iamUrl: 'https://iam.cloud.ibm.com',
          apiKey: IBM_KEY,
        });
      },
    );
  });

  test('without .env the environment is returned as is', () => {
    withDotEnv(undefined, (directory) => {
      const env = { PORT: '1234' };
      assert.deepEqual(readEnvironment(directory, env), env);
    });
  });
});
