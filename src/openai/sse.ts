// Downstream SSE encoding for OpenAI streams: `data:` frames and comment keep-alives only — never
// `event:`, `id:` or `retry:` lines, which break openai-python and openai-node parsers.
import type { ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { FastifyReply } from 'fastify';

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
 * Sends SSE frames from an async generator. If the client goes away, the stream is destroyed, which
 * returns the generator: its `finally` runs even when it was paused at a `yield` (else it would
 * stay suspended, holding the upstream response, for as long as the process lives).
 */
export function sendSse(reply: FastifyReply, frames: AsyncGenerator<string>): FastifyReply {
  const stream = Readable.from(frames, { objectMode: false });
  reply.raw.once('close', () => {
    if (!reply.raw.writableEnded) stream.destroy();
  });
  reply.headers(SSE_HEADERS);
  return reply.send(stream);
}
