// `npm test` runs this first (package.json "pretest"). The tests are TypeScript that Node runs
// directly, which needs Node.js 22.18+ (23.6+ on 23): an older Node only says
// "Could not find 'test/**/*.test.ts'". Plain CommonJS without modern syntax, so that any Node runs
// it. The first argument replaces this Node's version (the tests check old versions with it).
'use strict';

var version = (process.argv[2] || process.versions.node).replace(/^v/, '');
var parts = version.split('.');
var major = Number(parts[0]);
var minor = Number(parts[1] || 0);
var supported = major > 23 || (major === 23 && minor >= 6) || (major === 22 && minor >= 18);

if (!supported) {
  console.error(
    "watsonx-openai-proxy's tests need Node.js 22.18+ (they run TypeScript directly); this is Node.js " +
      version +
      '.\nRun ./run test, which installs Node.js 24 into .tools/ (or install Node.js 24 and run npm test).',
  );
  process.exit(1);
}
