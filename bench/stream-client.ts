// The streaming client of the benchmark, run as its own process so that it can be pinned to the
// load generator's core. Prints one JSON line with raw measurements; bench/run.ts summarises them.
//
//   sequential: one stream after another on one keep-alive connection; per stream, the time to the
//               first body byte, to the last byte, and the number of SSE frames (blank-line ends).
//   concurrent: opens --count streams at once (ramped over --ramp-ms) and reads them to the end;
//               reports how many were open at the same time and how many completed. A stream
//               counts as failed when its status is not 200, its connection fails, it carries an
//               error frame (`"error":`), or it ends with fewer than --min-frames SSE frames.
//
//   node bench/stream-client.ts --mode sequential --url URL --body-file F [--header k:v] --count 300
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { parseArgs } from 'node:util';

const LINE_FEED = 0x0a;
const ERROR_MARK = Buffer.from('"error":');

interface StreamResult {
  ok: boolean;
  sawHeaders: boolean;
  status: number;
  firstByteMs: number;
  lastByteMs: number;
  frames: number;
  bytes: number;
  /** Reads that contained `"error":` (an error frame, in the gateway's or watsonx's framing). */
  errorReads: number;
}

function openStream(
  url: URL,
  body: Buffer,
  headers: Record<string, string>,
  agent: Agent,
  onHeaders?: () => void,
): Promise<StreamResult> {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const elapsed = () => Number(process.hrtime.bigint() - started) / 1e6;
    let firstByteMs = -1;
    let frames = 0;
    let bytes = 0;
    let previousWasLineFeed = false;
    let sawHeaders = false;
    let errorReads = 0;
    const outgoing = request(
      url,
      {
        method: 'POST',
        agent,
        headers: { ...headers, 'content-type': 'application/json', 'content-length': body.length },
      },
      (response) => {
        sawHeaders = true;
        onHeaders?.();
        response.on('data', (chunk: Buffer) => {
          if (firstByteMs < 0) firstByteMs = elapsed();
          bytes += chunk.length;
          if (chunk.includes(ERROR_MARK)) errorReads++;
          for (let index = 0; index < chunk.length; index++) {
            const isLineFeed = chunk[index] === LINE_FEED;
            if (isLineFeed && previousWasLineFeed) frames++;
            previousWasLineFeed = isLineFeed;
          }
        });
        response.on('end', () =>
          resolve({
            ok: response.statusCode === 200,
            sawHeaders,
            status: response.statusCode ?? 0,
            firstByteMs,
            lastByteMs: elapsed(),
            frames,
            bytes,
            errorReads,
          }),
        );
        response.on('error', () =>
          resolve({
            ok: false,
            sawHeaders,
            status: response.statusCode ?? 0,
            firstByteMs,
            lastByteMs: elapsed(),
            frames,
            bytes,
            errorReads,
          }),
        );
      },
    );
    outgoing.on('error', () =>
      resolve({
        ok: false,
        sawHeaders,
        status: 0,
        firstByteMs,
        lastByteMs: elapsed(),
        frames,
        bytes,
        errorReads,
      }),
    );
    outgoing.end(body);
  });
}

async function sequential(
  url: URL,
  body: Buffer,
  headers: Record<string, string>,
  count: number,
  warmup: number,
) {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const firstByteMs: number[] = [];
  const lastByteMs: number[] = [];
  const frames: number[] = [];
  let failures = 0;
  let lastStatus = 0;
  for (let index = 0; index < warmup + count; index++) {
    const result = await openStream(url, body, headers, agent);
    lastStatus = result.status;
    if (!result.ok) {
      failures++;
      continue;
    }
    if (index < warmup) continue;
    firstByteMs.push(result.firstByteMs);
    lastByteMs.push(result.lastByteMs);
    frames.push(result.frames);
  }
  agent.destroy();
  return { firstByteMs, lastByteMs, frames, failures, lastStatus };
}

async function concurrent(
  url: URL,
  body: Buffer,
  headers: Record<string, string>,
  count: number,
  rampMs: number,
  minFrames: number,
) {
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  let open = 0;
  let maxOpen = 0;
  const started = performance.now();
  const pending: Promise<StreamResult>[] = [];
  const batch = Math.max(1, Math.ceil(count / Math.max(1, rampMs / 10)));
  for (let index = 0; index < count; index++) {
    if (index > 0 && index % batch === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    pending.push(
      openStream(url, body, headers, agent, () => {
        open++;
        if (open > maxOpen) maxOpen = open;
      }).then((result) => {
        if (result.sawHeaders) open--;
        return result;
      }),
    );
  }
  const rampedMs = performance.now() - started;
  const results = await Promise.all(pending);
  const good = (result: StreamResult) => result.ok && result.errorReads === 0 && result.frames >= minFrames;
  const completed = results.filter(good).length;
  const statuses: Record<string, number> = {};
  for (const result of results) statuses[result.status] = (statuses[result.status] ?? 0) + 1;
  return {
    completed,
    failed: results.length - completed,
    statuses,
    errorFrames: results.filter((result) => result.errorReads > 0).length,
    incomplete: results.filter((result) => result.ok && result.frames < minFrames).length,
    frames: results.reduce((sum, result) => sum + result.frames, 0),
    bytes: results.reduce((sum, result) => sum + result.bytes, 0),
    maxOpenWithHeaders: maxOpen,
    rampedMs,
    durationMs: performance.now() - started,
    firstByteMs: results.map((result) => result.firstByteMs),
  };
}

const { values } = parseArgs({
  options: {
    mode: { type: 'string', default: 'sequential' },
    url: { type: 'string' },
    'body-file': { type: 'string' },
    header: { type: 'string', multiple: true, default: [] },
    count: { type: 'string', default: '100' },
    warmup: { type: 'string', default: '10' },
    'ramp-ms': { type: 'string', default: '200' },
    'min-frames': { type: 'string', default: '0' },
  },
});
if (!values.url || !values['body-file']) {
  process.stderr.write('stream-client: --url and --body-file are required\n');
  process.exit(2);
}
const url = new URL(values.url);
if (url.hostname !== '127.0.0.1' && url.hostname !== 'localhost') {
  process.stderr.write('stream-client: loopback URLs only\n');
  process.exit(2);
}
const body = readFileSync(values['body-file']);
const headers: Record<string, string> = {};
for (const header of values.header) {
  const colon = header.indexOf(':');
  headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
}
const count = Number(values.count);
const result =
  values.mode === 'concurrent'
    ? await concurrent(url, body, headers, count, Number(values['ramp-ms']), Number(values['min-frames']))
    : await sequential(url, body, headers, count, Number(values.warmup));
process.stdout.write(`${JSON.stringify(result)}\n`);
