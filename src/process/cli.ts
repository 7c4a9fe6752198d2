#!/usr/bin/env node
// The entry of the `watsonx-openai-proxy` command. Before anything else is loaded, it re-executes
// itself once (same process id, Node >= 23.11) with the runtime settings the gateway is measured
// with, so that `node dist/cli.js`, `npm start`, the bin and the Docker image all run the same way:
//
// - --max-semi-space-size=8: V8's young generation grows to ~100 MB under 1000 open streams by
//   default; 8 MB semi-spaces keep the peak far lower for a few percent of CPU at most (bench/README.md).
//   (The old generation is held in check while many streams are open: heap-policy.ts.)
// - MALLOC_ARENA_MAX=2: glibc's per-thread malloc arenas add ~10 MB at peak; read only at start.
//
// A flag already given (node flag or NODE_OPTIONS) and a MALLOC_ARENA_MAX already set are kept;
// WATSONX_PROXY_NO_REEXEC=1 skips this step altogether, and so does a process started with an IPC
// channel (fork) or as a cluster worker.
import process from 'node:process';

/** The V8 flags added, each unless the operator gave that flag (either spelling). */
const RUNTIME_FLAGS = [{ given: /^--max[-_]semi[-_]space[-_]size/, flag: '--max-semi-space-size=8' }];

function reexecArguments(): { args: string[]; env: NodeJS.ProcessEnv } | undefined {
  if (process.env.WATSONX_PROXY_NO_REEXEC === '1' || typeof process.execve !== 'function') return undefined;
  // A parent talking over IPC (child_process.fork, process managers) or a cluster worker would lose
  // its channel: Node removes NODE_CHANNEL_FD from the environment at start.
  if (process.channel !== undefined || process.env.NODE_UNIQUE_ID !== undefined) return undefined;
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  const flags = RUNTIME_FLAGS.filter((entry) => !given.some((arg) => entry.given.test(arg))).map(
    (entry) => entry.flag,
  );
  const arenaGiven = process.env.MALLOC_ARENA_MAX !== undefined;
  if (flags.length === 0 && arenaGiven) return undefined;
  return {
    args: [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)],
    env: {
      ...process.env,
      MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? '2',
      WATSONX_PROXY_NO_REEXEC: '1',
    },
  };
}

const reexec = reexecArguments();
if (reexec) {
  try {
    process.execve!(process.execPath, reexec.args, reexec.env);
  } catch (error) {
    // Not allowed here (a sandbox, a seccomp profile): run as started, only with more memory.
    process.stderr.write(
      `watsonx-openai-proxy: running without the runtime settings: ${(error as Error).message}\n`,
    );
  }
}
await import('./command.ts');
