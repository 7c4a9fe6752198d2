// Static checks of the container packaging (there is no Docker engine on these machines): the
// Dockerfile, docker-compose.yml and .env.example agree with package.json and src/config.ts; and
// `npm test` on a Node.js too old for the TypeScript tests says what to do (scripts/check-node.cjs).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parseEnv } from 'node:util';
// yaml comes with @fastify/swagger (it serves /docs/yaml), so it is always installed.
import { parse as parseYaml } from 'yaml';
import { ENVIRONMENT_VARIABLES, parseConfig } from '../src/process/config.ts';

const root = new URL('../', import.meta.url);
const read = (name: string): string => readFileSync(new URL(name, root), 'utf8');
const packageJson = JSON.parse(read('package.json')) as {
  bin: Record<string, string>;
  scripts: Record<string, string>;
  engines: { node: string };
};
const DEFAULT_PORT = parseConfig({}).port;

interface Instruction {
  keyword: string;
  args: string;
}

/** Instructions per stage; continuation lines joined, comments dropped. */
function dockerStages(text: string): Instruction[][] {
  const lines = text
    .replace(/\\\r?\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const stages: Instruction[][] = [];
  for (const line of lines) {
    const [keyword = '', ...rest] = line.split(/\s+/);
    const instruction = { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    if (instruction.keyword === 'FROM') stages.push([]);
    assert.ok(stages.length > 0, `${line}: instructions before the first FROM`);
    stages[stages.length - 1]!.push(instruction);
  }
  return stages;
}

const all = (stage: Instruction[], keyword: string) =>
  stage.filter((instruction) => instruction.keyword === keyword).map((instruction) => instruction.args);
const last = (stage: Instruction[], keyword: string) => all(stage, keyword).at(-1);

const stages = dockerStages(read('Dockerfile'));
const builder = stages[0] ?? [];
const runtime = stages.at(-1) ?? [];

/** The runtime stage's ENV, as the container starts with it. */
const imageEnv: Record<string, string> = Object.fromEntries(
  all(runtime, 'ENV')
    .join(' ')
    .split(/\s+/)
    .map((pair) => pair.split('=') as [string, string]),
);

describe('Dockerfile', () => {
  test('two stages on a Node slim image that satisfies package.json engines', () => {
    assert.equal(stages.length, 2);
    const minimum = Number(/(\d+)/.exec(packageJson.engines.node)?.[1]);
    for (const stage of stages) {
      const match = /^node:(\d+)-slim\b/.exec(last(stage, 'FROM') ?? '');
      assert.ok(match, `FROM ${last(stage, 'FROM')}`);
      assert.ok(Number(match[1]) >= minimum, `node ${match[1]} < engines ${packageJson.engines.node}`);
    }
    assert.match(last(builder, 'FROM') ?? '', /\bAS builder$/i);
  });

  test('the builder installs everything and runs the build script', () => {
    const runs = all(builder, 'RUN').join(' && ');
    assert.match(runs, /\bnpm ci\b/);
    assert.doesNotMatch(runs, /--omit=dev/);
    assert.match(runs, /\bnpm run build\b/);
    assert.equal(packageJson.scripts.build, 'tsc -p tsconfig.build.json');
    for (const copied of all(builder, 'COPY')) {
      const sources = copied.split(/\s+/).slice(0, -1);
      for (const source of sources) assert.ok(existsSync(new URL(source, root)), `COPY ${source}: missing`);
    }
  });

  test('the runtime has production dependencies only, dist from the builder, and package.json', () => {
    const runs = all(runtime, 'RUN').join(' && ');
    assert.match(runs, /\bnpm ci\b[^&]*--omit=dev/);
    assert.doesNotMatch(runs, /\bnpm (install|i)\b/);
    const copies = all(runtime, 'COPY');
    assert.ok(
      copies.some((copy) => /^--from=builder\s+\/app\/dist\s+(\.\/)?dist\/?$/.test(copy)),
      copies.join('\n'),
    );
    assert.ok(copies.some((copy) => copy.split(/\s+/).includes('package.json')));
  });

  test('the runtime runs as a non-root user', () => {
    const user = last(runtime, 'USER');
    assert.ok(user, 'no USER in the runtime stage');
    assert.doesNotMatch(user, /^(root|0)(:|$)/);
    const order = runtime.map((instruction) => instruction.keyword);
    assert.ok(order.lastIndexOf('USER') < order.lastIndexOf('CMD'), 'USER comes before CMD');
    assert.ok(order.lastIndexOf('USER') > order.lastIndexOf('RUN'), 'nothing runs as root after USER');
  });

  test('CMD runs the same file as `npm start` and the package bin', () => {
    const cmd = JSON.parse(last(runtime, 'CMD') ?? 'null') as string[];
    assert.ok(Array.isArray(cmd), 'CMD in exec (JSON) form, so node is PID 1 and gets SIGTERM');
    assert.equal(cmd[0], 'node');
    assert.equal(`node ${cmd.slice(1).join(' ')}`, packageJson.scripts.start);
    // node [memory options…] <entry>: the options are the start script's (bench/README.md)
    const entry = cmd.at(-1)!;
    assert.deepEqual(Object.values(packageJson.bin), [entry]);
    assert.ok(existsSync(new URL(entry.replace(/^dist\//, 'src/').replace(/\.js$/, '.ts'), root)));
  });

  test('ENV and EXPOSE agree with the default PORT of the configuration', () => {
    assert.equal(DEFAULT_PORT, 8000);
    assert.deepEqual(imageEnv, { NODE_ENV: 'production', HOST: '0.0.0.0', PORT: String(DEFAULT_PORT) });
    assert.deepEqual(all(runtime, 'EXPOSE'), [String(DEFAULT_PORT)]);
  });

  test('HEALTHCHECK asks /health with node (no curl in slim images)', () => {
    const healthcheck = last(runtime, 'HEALTHCHECK') ?? '';
    const command = JSON.parse(healthcheck.slice(healthcheck.indexOf('CMD') + 3).trim()) as string[];
    assert.equal(command[0], 'node');
    const script = command.at(-1) ?? '';
    assert.match(script, /\bfetch\(/);
    assert.match(script, /\/health\b/);
    assert.match(script, /process\.env\.PORT/);
    assert.doesNotMatch(healthcheck, /\b(curl|wget)\b/);
  });

  test('STOPSIGNAL SIGTERM', () => {
    assert.equal(last(runtime, 'STOPSIGNAL'), 'SIGTERM');
  });
});

describe('.dockerignore', () => {
  const patterns = read('.dockerignore')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));

  test('keeps out dependencies, secrets, local tools and build output', () => {
    for (const name of ['node_modules', '.env', '.tools', '.git', 'dist']) {
      assert.ok(patterns.includes(name), `${name} is not ignored`);
    }
  });

  test('does not ignore what the build copies', () => {
    for (const name of ['src', 'package.json', 'package-lock.json', 'tsconfig.json', 'tsconfig.build.json']) {
      assert.ok(!patterns.includes(name) && !patterns.includes('*'), `${name} is ignored`);
    }
  });
});

/**
 * Compose's interpolation of `${NAME}`, `${NAME:-default}` and `${NAME-default}` from the shell and
 * the project's .env; any other `$` form fails the test (this helper would not know it).
 */
function interpolate(value: string, variables: Record<string, string>): string {
  return value.replace(
    /\$(\{([A-Za-z_]\w*)(?:(:?-)([^}]*))?\})?/g,
    (_text, braces, name, operator, fallback) => {
      assert.ok(braces, `${value}: a $ form this test does not know`);
      const found: string | undefined = variables[name];
      if (operator === ':-') return found || fallback;
      if (operator === '-') return found ?? fallback;
      return found ?? '';
    },
  );
}

describe('docker-compose.yml', () => {
  const compose = read('docker-compose.yml');
  const service = (
    parseYaml(compose) as {
      services: Record<string, { environment: Record<string, string>; [key: string]: unknown }>;
    }
  ).services.gateway!;

  /**
   * The gateway's environment in the container, as compose builds it: the image's ENV, then the
   * env_file (.env), then `environment:` interpolated from the shell (none here) and .env.
   */
  const containerEnv = (dotEnv: Record<string, string>): Record<string, string> => ({
    ...imageEnv,
    ...dotEnv,
    ...Object.fromEntries(
      Object.entries(service.environment).map(([name, value]) => [name, interpolate(String(value), dotEnv)]),
    ),
  });

  test('service gateway: built here, settings from .env when present, restarts unless stopped', () => {
    assert.match(compose, /^services:\n {2}gateway:\n/m);
    assert.equal(service.build, '.');
    // A missing env_file fails `docker compose up` unless it is optional (compose 2.24+).
    assert.deepEqual(service.env_file, [{ path: '.env', required: false }]);
    assert.equal(service.restart, 'unless-stopped');
    assert.equal(service.stop_signal, 'SIGTERM');
  });

  test('a fresh checkout without .env starts on the simulator instead of refusing (and restart-looping)', () => {
    const config = parseConfig(containerEnv({}));
    assert.equal(config.upstream.mode, 'simulator');
    assert.equal(config.production, false);
    assert.equal(config.port, DEFAULT_PORT);
    assert.equal(config.host, '0.0.0.0');
  });

  test('NODE_ENV=production in .env keeps the refusal; credentials in .env serve watsonx.ai', () => {
    assert.throws(() => parseConfig(containerEnv({ NODE_ENV: 'production' })), /WATSONX_SIMULATOR=true/);
    const credentials = { IBM_CLOUD_API_KEY: 'key', WATSONX_PROJECT_ID: 'project' };
    const production = parseConfig(containerEnv({ ...credentials, NODE_ENV: 'production' }));
    assert.equal(production.production, true);
    assert.equal(production.upstream.mode, 'ibm');
    assert.equal(parseConfig(containerEnv(credentials)).upstream.mode, 'ibm');
    // Whatever .env says, the container listens where the port mapping points.
    assert.equal(parseConfig(containerEnv({ PORT: '9000' })).port, DEFAULT_PORT);
  });

  test('publishes the exposed port, and pins PORT inside the container to it', () => {
    const mappings = [...compose.matchAll(/^ {6}- '?(\d+):(\d+)'?$/gm)];
    assert.equal(mappings.length, 1);
    assert.equal(mappings[0]![2], String(DEFAULT_PORT));
    assert.match(compose, new RegExp(`^ {6}PORT: '?${DEFAULT_PORT}'?$`, 'm'));
  });

  test('has a healthcheck on /health with node', () => {
    const healthcheck = compose.slice(compose.indexOf('healthcheck:'));
    assert.ok(compose.includes('healthcheck:'));
    assert.match(healthcheck, /- node\n/);
    assert.match(healthcheck, /fetch\('http:\/\/127\.0\.0\.1:8000\/health'\)/);
  });
});

describe('.env.example', () => {
  const text = read('.env.example');
  /** `NAME=value` lines, also commented out ones (`# NAME=value`). */
  const assignments = new Map(
    [...text.matchAll(/^(?:# )?([A-Z][A-Z0-9_]*)=(.*)$/gm)].map((match) => [match[1]!, match[2]!]),
  );
  const documentedName = (name: string) => (name.startsWith('MODEL_MAP_') ? 'MODEL_MAP_<NAME>' : name);

  test('lists every variable of ENVIRONMENT_VARIABLES, and nothing else', () => {
    const listed = new Set([...assignments.keys()].map(documentedName));
    const known = new Set(ENVIRONMENT_VARIABLES.map((variable) => variable.name));
    assert.deepEqual(
      [...known].filter((name) => !listed.has(name)),
      [],
      'missing from .env.example',
    );
    assert.deepEqual(
      [...listed].filter((name) => !known.has(name)),
      [],
      'not read by the gateway',
    );
  });

  test('each line gives the default and follows a one-line comment', () => {
    const lines = text.split('\n');
    for (const variable of ENVIRONMENT_VARIABLES) {
      const name = variable.name === 'MODEL_MAP_<NAME>' ? 'MODEL_MAP_GPT_4O' : variable.name;
      const index = lines.findIndex((line) => new RegExp(`^(# )?${name}=`).test(line));
      assert.match(lines[index - 1] ?? '', /^# \S/, `${name}: no comment above it`);
      if (!variable.default.startsWith('(')) {
        assert.equal(assignments.get(name), variable.default, `${name}: default`);
      } else if (variable.name !== 'MODEL_MAP_<NAME>' && variable.name !== 'NODE_ENV') {
        assert.equal(assignments.get(name), '', `${name}: no default, so empty`);
      }
    }
  });

  test('secrets are empty', () => {
    for (const name of ['IBM_CLOUD_API_KEY', 'API_KEY', 'RATE_LIMITS'])
      assert.equal(assignments.get(name), '', name);
  });

  test('as a .env it is a valid configuration (simulator mode, as documented)', () => {
    const config = parseConfig(parseEnv(text));
    assert.equal(config.upstream.mode, 'simulator');
    assert.equal(config.port, DEFAULT_PORT);
  });

  test('says (as does docker-compose.yml) that production needs credentials or WATSONX_SIMULATOR=true', () => {
    assert.throws(() => parseConfig({ ...parseEnv(text), NODE_ENV: 'production' }), /WATSONX_SIMULATOR=true/);
    assert.equal(
      parseConfig({ ...parseEnv(text), NODE_ENV: 'production', WATSONX_SIMULATOR: 'true' }).production,
      true,
    );
    for (const file of ['.env.example', 'docker-compose.yml', 'Dockerfile']) {
      assert.match(read(file), /NODE_ENV=production/, file);
      assert.match(read(file), /WATSONX_SIMULATOR=true/, file);
    }
  });
});

test('the README configuration table lists every variable the gateway reads', async () => {
  const { readFileSync } = await import('node:fs');
  const { ENVIRONMENT_VARIABLES } = await import('../src/process/config.ts');
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  for (const variable of ENVIRONMENT_VARIABLES) {
    assert.ok(readme.includes(`| \`${variable.name}\``), `${variable.name} is missing from the README table`);
  }
});

describe('npm test on a Node.js too old for the TypeScript tests', () => {
  const check = (version?: string) =>
    spawnSync(process.execPath, ['scripts/check-node.cjs', ...(version ? [version] : [])], {
      cwd: root,
      encoding: 'utf8',
    });

  test('the pretest script checks the Node.js version first', () => {
    assert.equal(packageJson.scripts.pretest, 'node scripts/check-node.cjs');
  });

  test('older than 22.18 (or 23.6): says to run ./run test, and fails', () => {
    for (const version of ['18.20.4', '20.20.2', 'v22.17.1', '23.5.0']) {
      const result = check(version);
      assert.equal(result.status, 1, version);
      assert.match(result.stderr, /tests need Node\.js 22\.18\+ \(they run TypeScript directly\)/);
      assert.match(result.stderr, /run \.\/run test, which installs Node\.js 24 into \.tools\//i);
      assert.ok(result.stderr.includes(`Node.js ${version.replace(/^v/, '')}.`), result.stderr);
    }
  });

  test('22.18+, 23.6+ and 24+ pass quietly, as does the Node.js running these tests', () => {
    for (const version of ['22.18.0', '22.21.1', '23.6.0', '24.0.0', '26.1.0', undefined]) {
      const result = check(version);
      assert.equal(result.status, 0, `${version}: ${result.stderr}`);
      assert.equal(result.stderr, '');
    }
  });
});
