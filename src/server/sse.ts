// Sending a Server-Sent Events answer for every surface: the surface's relay is an async generator
// of frames (already in its protocol's framing); this writes them to the response as they come,
// waiting for 'drain' when the client reads slower than watsonx writes (backpressure), adds
// keep-alive frames while upstream is silent, and makes sure the relay's `finally` (which lets go
// of upstream) runs however the answer ends. The reply is hijacked (Fastify's documented way to
// write the response yourself) rather than sent as a piped Readable: that machinery cost about a
// quarter of the gateway's CPU per relayed chunk (bench/README.md). Fastify's onRequest,
// preHandler and onResponse hooks still run; onSend hooks do not see stream bodies.
import type { ServerResponse } from 'node:http';
import type { FastifyBaseLogger, FastifyReply } from 'fastify';
import { type GatewayError, toGatewayError } from './errors.ts';
import type { GatewayRequestState } from './lifecycle.ts';

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
} as const;

/** How every stream is sent, the same for every surface (built once by buildApp). */
export interface StreamSettings {
  /** Interval of keep-alive frames while upstream is silent, ms. */
  keepAliveMs: number;
  /**
   * A client that takes nothing for this long while writes wait is dropped (STREAM_IDLE_TIMEOUT):
   * otherwise a client that stops reading would hold its request (and its concurrency slot) until
   * the gateway stops.
   */
  stallMs: number;
  /** The stream is committed (status 200 about to go out): counted until the request finishes. */
  opened: (state: GatewayRequestState) => void;
}

/** `keepAliveFrame` is the surface's own (an SSE comment, Anthropic's `ping` event). */
export async function sendEventStream(
  reply: FastifyReply,
  frames: AsyncGenerator<string>,
  keepAliveFrame: string,
  settings: StreamSettings,
  gateway: GatewayRequestState,
): Promise<undefined> {
  reply.hijack();
  const response = reply.raw;
  // The headers set so far (request id, CORS, rate limits) live on the reply until it is sent.
  const headers = reply.getHeaders();
  for (const name in headers) response.setHeader(name, headers[name] as string | string[]);
  let sentSinceTick = true;
  const timer = setInterval(() => {
    if (!sentSinceTick && !response.writableEnded && !response.destroyed) response.write(keepAliveFrame);
    sentSinceTick = false;
  }, settings.keepAliveMs);
  timer.unref();
  // A client already gone still lets the relay start, so that its `finally` runs when the loop below
  // stops at once (a generator that never started would skip it).
  if (!response.destroyed) {
    response.writeHead(200, SSE_HEADERS);
    settings.opened(gateway);
  }
  try {
    // Leaving the loop (the client went away, or a write failed) returns the relay: its `finally` runs.
    for await (const frame of frames) {
      if (response.destroyed) break;
      sentSinceTick = true;
      const flowing = response.write(frame);
      // Node holds a response's writes until the next tick; the relay of one upstream read runs in
      // microtasks, so without this each frame would wait for the whole read to be relayed.
      if (response.socket?.writableCorked) response.socket.uncork();
      if (!flowing) await writable(response, settings.stallMs);
    }
  } finally {
    clearInterval(timer);
    if (!response.destroyed) response.end();
  }
}

/**
 * Resolves on 'drain', or on 'close' when the client is gone; a client that drains nothing within
 * `stallMs` is disconnected (the relay then ends as for any client that left).
 */
function writable(response: ServerResponse, stallMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => response.destroy(), stallMs);
    const done = () => {
      clearTimeout(timer);
      response.off('drain', done);
      response.off('close', done);
      resolve();
    };
    response.on('drain', done);
    response.on('close', done);
  });
}

/**
 * A stream that failed after its first byte: the status is gone, so the surface sends the error as
 * a frame. Records it for the request's log line and logs it; returns the error to render.
 */
export function streamFailure(
  request: { gateway: GatewayRequestState; log: FastifyBaseLogger },
  error: unknown,
): GatewayError {
  const gatewayError = toGatewayError(error);
  request.gateway.streamError = gatewayError;
  request.log.warn(
    { err: error, status: gatewayError.status, code: gatewayError.code },
    'stream failed after the first byte',
  );
  return gatewayError;
}
