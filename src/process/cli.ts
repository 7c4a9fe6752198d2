#!/usr/bin/env node
// The `watsonx-openai-proxy` command: flags are shorthands for environment variables. It runs as
// started: memory options are Node options given by whoever starts it (package.json's start script,
// the Dockerfile, the compose file; README "Memory").
import { PACKAGE_VERSION } from '../server/app.ts';
import { ENVIRONMENT_VARIABLES } from './config.ts';
import { main } from './main.ts';

const HELP = `watsonx-openai-proxy ${PACKAGE_VERSION}
OpenAI-compatible API gateway for IBM watsonx.ai.

Usage: watsonx-openai-proxy [options]

Options:
  --host <address>     address to listen on (HOST)
  --port <number>      port to listen on (PORT)
  --simulator          serve from the built-in watsonx.ai simulator (WATSONX_SIMULATOR=true)
  -h, --help           show this help
  -v, --version        print the version

Environment variables (also read from ./.env):
${ENVIRONMENT_VARIABLES.map((variable) => `  ${variable.name.padEnd(20)} ${variable.meaning} [default: ${variable.default}]`).join('\n')}

Without IBM_CLOUD_API_KEY and WATSONX_PROJECT_ID it starts on the built-in simulator.
`;

const args = process.argv.slice(2);
for (let index = 0; index < args.length; index++) {
  const arg = args[index];
  const value = () => {
    const next = args[++index];
    if (next === undefined) fail(`${arg} needs a value`);
    return next;
  };
  switch (arg) {
    case '-h':
    case '--help':
      process.stdout.write(HELP);
      process.exit(0);
      break;
    case '-v':
    case '--version':
      process.stdout.write(`${PACKAGE_VERSION}\n`);
      process.exit(0);
      break;
    case '--host':
      process.env.HOST = value();
      break;
    case '--port':
      process.env.PORT = value();
      break;
    case '--simulator':
      process.env.WATSONX_SIMULATOR = 'true';
      break;
    default:
      fail(`unknown option ${arg}`);
  }
}

function fail(message: string): never {
  process.stderr.write(`watsonx-openai-proxy: ${message}\nRun with --help for usage.\n`);
  process.exit(2);
}

await main();
