// Writes a chunk sequence as watsonx SSE (`id: N` / `event: …` / `data: …` / blank line), applying
// the stall, chunk delay, mid-stream error and truncation, and stopping when the client goes away.
import type { ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';

/** One event of a stream, before framing. */
export interface StreamEvent {
  event: 'message' | 'close';
  data: unknown;
  /** Carries a finish_reason / final stop_reason: stream faults never cut at or after it. */
  finishes?: boolean;
}

export interface StreamWriteOptions {
  stallMs: number;
  chunkDelayMs: number;
  errorAfter: number | undefined;
  truncateAfter: number | undefined;
  /** The §9 error body sent with `event: error`. */
  errorData: () => unknown;
  /** Aborted when the client goes away or the simulator closes. */
  signal: AbortSignal;
}

export function encodeEvent(id: number | undefined, event: string, data: unknown): string {
  return `${id === undefined ? '' : `id: ${id}\n`}event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

async function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (ms <= 0) return;
  await sleep(ms, undefined, { signal }).catch(() => undefined);
}

function write(response: ServerResponse, text: string, signal: AbortSignal): Promise<void> {
  if (response.write(text)) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      response.off('drain', done);
      signal.removeEventListener('abort', done);
      resolve();
    };
    response.on('drain', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

export async function writeEventStream(
  response: ServerResponse,
  events: StreamEvent[],
  options: StreamWriteOptions,
): Promise<void> {
  response.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  response.flushHeaders();
  // a fault never reaches the first finish_reason, so a faulted stream is always unfinished
  const firstFinish = events.findIndex((event) => event.finishes);
  const limit = firstFinish < 0 ? events.length : firstFinish;
  const errorCut = options.errorAfter === undefined ? Infinity : Math.min(options.errorAfter, limit);
  const truncateCut = options.truncateAfter === undefined ? Infinity : Math.min(options.truncateAfter, limit);
  const cut = Math.min(errorCut, truncateCut);

  await pause(options.stallMs, options.signal);
  for (const [position, event] of events.entries()) {
    if (position >= cut || options.signal.aborted) break;
    if (position > 0) await pause(options.chunkDelayMs, options.signal);
    if (options.signal.aborted) break;
    await write(response, encodeEvent(position + 1, event.event, event.data), options.signal);
  }
  if (options.signal.aborted) return;
  if (errorCut !== Infinity && errorCut <= truncateCut) {
    await write(response, encodeEvent(undefined, 'error', options.errorData()), options.signal);
  }
  response.end();
}
