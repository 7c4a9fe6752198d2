// Sending a Server-Sent Events answer through Fastify, for every surface: the surface's relay is an
// async generator of frames (already in its protocol's framing); this sends it as a Node Readable
// (backpressure from pulling), adds keep-alive frames while upstream is silent, and makes sure the
// relay's `finally` (which lets go of upstream) runs however the answer ends.
import { Readable } from 'node:stream';
import type { FastifyBaseLogger, FastifyReply } from 'fastify';
import { type GatewayError, toGatewayError } from './errors.ts';
import type { GatewayRequestState } from './lifecycle.ts';

export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
} as const;

export interface EventStreamOptions {
  /** Sent whenever nothing was sent for `keepAliveMs`, so that clients and proxies do not time out. */
  keepAliveFrame: string;
  keepAliveMs: number;
  /** The stream is committed (status 200 about to go out). */
  opened: () => void;
}

export async function sendEventStream(
  reply: FastifyReply,
  frames: AsyncGenerator<string>,
  options: EventStreamOptions,
): Promise<FastifyReply> {
  // Started here, so that the relay's `finally` runs even when the client is gone before the first
  // read (returning a generator that never started would skip it).
  const first = await frames.next();
  const response = reply.raw;
  let sentSinceTick = true;
  const timer = setInterval(() => {
    if (!sentSinceTick && response.headersSent && !response.writableEnded && !response.destroyed) {
      response.write(options.keepAliveFrame);
    }
    sentSinceTick = false;
  }, options.keepAliveMs);
  timer.unref();
  const stop = () => {
    clearInterval(timer);
    // The client went away mid-stream: end the relay (queued after its current step, if any).
    void frames.return(undefined);
  };
  if (response.destroyed) stop();
  else response.once('close', stop);

  async function* marked(): AsyncGenerator<string> {
    if (first.done) return;
    yield first.value;
    for await (const frame of frames) {
      sentSinceTick = true;
      yield frame;
    }
  }
  options.opened();
  return reply.headers(SSE_HEADERS).send(Readable.from(marked()));
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
