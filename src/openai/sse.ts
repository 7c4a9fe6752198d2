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
  response.once('close', stop);
  return {
    markSent: () => {
      sentSinceTick = true;
    },
    stop,
  };
}
