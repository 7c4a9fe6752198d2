// Downstream SSE encoding for OpenAI streams: `data:` frames and comment keep-alives only — never
// `event:`, `id:` or `retry:` lines, which break openai-python and openai-node parsers.
import type { ServerResponse } from 'node:http';

export function sseData(value: unknown): string {
  return `data: ${JSON.stringify(value)}\n\n`;
}

export const SSE_DONE = 'data: [DONE]\n\n';
export const SSE_KEEP_ALIVE = ': keep-alive\n\n';

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
} as const;

/**
 * Writes a comment frame whenever nothing was sent for `intervalMs`, so that clients and proxies do
 * not time out while a reasoning model thinks. Returns `markSent`, to call on every frame sent,
 * and `stop`. One timer per stream, not one per chunk: this sits on the hot path.
 */
export function startKeepAlive(
  response: ServerResponse,
  intervalMs: number,
): { markSent: () => void; stop: () => void } {
  let sentSinceTick = false;
  const timer = setInterval(() => {
    if (!sentSinceTick && response.headersSent && !response.writableEnded && !response.destroyed) {
      response.write(SSE_KEEP_ALIVE);
    }
    sentSinceTick = false;
  }, intervalMs);
  timer.unref();
  const stop = () => clearInterval(timer);
  // The client may have gone while the request waited (e.g. on the model catalogue).
  if (response.destroyed || response.writableEnded) stop();
  else response.once('close', stop);
  return {
    markSent: () => {
      sentSinceTick = true;
    },
    stop,
  };
}

/**
 * Sends SSE frames from an async generator straight to the socket: the headers set so far
 * (request id, CORS, rate limits) plus SSE_HEADERS, then each frame as one write, sent at once (not
 * at the next tick), waiting for 'drain' when the client reads slower than watsonx writes. `opened`
 * runs once the stream is committed (status 200 sent). If the client goes away, the generator is
 * returned: its `finally` runs even when it was paused at a `yield`.
 */
export async function sendSse(
  response: ServerResponse,
  frames: AsyncGenerator<string>,
  opened: () => void,
): Promise<void> {
  // A client already gone still lets the generator start, so that its `finally` (which lets go of
  // upstream) runs when the loop below stops at once; a never-started generator would skip it.
  if (!response.destroyed) {
    response.writeHead(200, SSE_HEADERS);
    opened();
  }
  try {
    for await (const frame of frames) {
      if (response.destroyed) break;
      const flowing = response.write(frame);
      // Node corks the socket on a write until the next tick; the relay of one upstream read runs
      // in microtasks, so without this the first frame would wait for the whole read to be relayed.
      if (response.socket?.writableCorked) response.socket.uncork();
      if (!flowing) await writable(response);
    }
  } finally {
    if (!response.destroyed) response.end();
  }
}

/** Resolves on 'drain', or on 'close' when the client is gone. */
function writable(response: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.on('drain', done);
    response.on('close', done);
  });
}
