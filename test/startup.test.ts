// What loading the gateway's modules costs: Node's bundled undici must stay unloaded (an ESM import
// of node:http evaluates its lazy exports and loads it: ~13 MB of RSS; src/node-http.ts).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

test("loading the gateway (app, upstream, simulator) does not load Node's bundled undici", () => {
  const modules = [
    '../src/server/app.ts',
    '../src/process/upstream.ts',
    '../src/simulator/server.ts',
    '../src/process/main.ts',
  ].map((path) => new URL(path, import.meta.url).href);
  const script = `
    for (const module of ${JSON.stringify(modules)}) await import(module);
    const loaded = process.moduleLoadList.filter((name) => name.includes('undici'));
    process.stdout.write(JSON.stringify(loaded));
  `;
  const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.deepEqual(JSON.parse(output), []);
});
